"""The April personnel transfer (人事異動) from a spreadsheet."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from app.admin import transfers
from app.extensions import db as _db
from app.models import AuditEntry, PostAssignment
from tests.secretariat.helpers import at

APRIL = date(2027, 4, 1)


def workbook(rows, headers=transfers.HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def city(make):
    tax, parks = make.org("税務"), make.org("公園")
    make.item(tax)
    newcomer = make.user("shinnin", name="新任 次郎")
    admin = make.user("kanri", roles=["admin"], name="管理 者")
    _db.session.commit()
    return tax, parks, newcomer, admin


def _plan(data: bytes):
    rows, errors = transfers.read_workbook(data)
    return transfers.plan(_db.session, rows, errors)


def test_preview_shows_who_leaves_and_who_takes_each_post(city):
    tax, _parks, newcomer, _admin = city
    result = _plan(workbook([(tax.head_post.code, "", "shinnin", APRIL)]))
    assert result.ok
    (row,) = result.changed
    assert row.leaving == [tax.head] and row.taking == [newcomer]


def test_unchanged_rows_of_the_template_are_ignored(city, make):
    data = transfers.template_workbook(_db.session, date(2027, 3, 1))
    result = _plan(data)
    assert result.ok and result.changed == []
    sheet = load_workbook(io.BytesIO(data)).active
    assert [c.value for c in sheet[1]] == list(transfers.HEADERS)


def test_every_error_is_reported_in_japanese_per_row(city):
    tax, parks, _newcomer, _admin = city
    result = _plan(
        workbook(
            [
                ("NOPE", "", "shinnin", APRIL),
                (tax.head_post.code, "", "ghost", APRIL),
                (parks.head_post.code, "", "shinnin", date(2019, 4, 1)),
                (tax.staff_post.code, "", "", APRIL),  # leaves the item without staff
                (parks.staff_post.code, "", "shinnin", "来年"),
                (parks.head_post.code, "", "shinnin", APRIL),
            ]
        )
    )
    assert not result.ok
    errors = {r.line: " ".join(r.errors) for r in result.rows}
    assert "役職コード「NOPE」は登録されていません" in errors[2]
    assert "ログインID「ghost」の利用者は登録されていません" in errors[3]
    assert "直近の発令日" in errors[4]
    assert "空席になり" in errors[5] and "担当職員" in errors[5]
    assert "日付として読めません" in errors[6]
    assert "重複" in errors[7]


def test_vacating_a_post_of_a_department_without_items_is_fine(city):
    _tax, parks, _newcomer, _admin = city
    result = _plan(workbook([(parks.staff_post.code, "", "", APRIL)]))
    assert result.ok and result.changed[0].leaving == [parks.staff]


def test_missing_headers_and_unreadable_files(city):
    assert _plan(workbook([], headers=("役職", "氏名"))).errors
    assert "読み込めません" in _plan(b"not a workbook").errors[0]


def test_apply_ends_old_posts_the_day_before_and_is_audited(city):
    tax, _parks, newcomer, admin = city
    result = _plan(workbook([(tax.head_post.code, "税務部長", "shinnin", "2027/04/01")]))
    transfers.apply(_db.session, result, by=admin, now=at(date(2027, 3, 20)))
    old = _db.session.scalar(select(PostAssignment).where(PostAssignment.user_id == tax.head.id))
    assert old.ends_on == date(2027, 3, 31)
    assert [u.id for u in tax.head_post.holders(APRIL)] == [newcomer.id]
    assert [u.id for u in tax.head_post.holders(date(2027, 3, 31))] == [tax.head.id]
    entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "personnel_transfer"))
    assert entry.scope == "admin" and entry.data["rows"][0]["taking"] == ["shinnin"]


def test_upload_preview_and_apply_through_the_pages(client, login_as, city):
    tax, _parks, newcomer, admin = city
    login_as(tax.staff)
    assert client.get("/admin/transfers").status_code == 403
    client.post("/logout")
    login_as(admin)
    template = client.get("/admin/transfers/template.xlsx")
    assert "spreadsheetml" in template.headers["Content-Type"]
    bad = client.post(
        "/admin/transfers/preview",
        data={"file": (io.BytesIO(workbook([(tax.staff_post.code, "", "", APRIL)])), "x.xlsx")},
    )
    assert bad.status_code == 422
    assert "何も変更されていません" in bad.get_data(as_text=True)
    assert "この内容で反映する" not in bad.get_data(as_text=True)
    good = client.post(
        "/admin/transfers/preview",
        data={
            "file": (
                io.BytesIO(workbook([(tax.staff_post.code, "", "shinnin", APRIL)])),
                "x.xlsx",
            )
        },
    )
    page = good.get_data(as_text=True)
    assert "新任 次郎" in page and tax.staff.name in page
    token = page.split('name="token" value="')[1].split('"')[0]
    assert _db.session.scalar(select(AuditEntry)) is None  # nothing changed by the preview
    assert client.post("/admin/transfers/apply", data={"token": token + "x"}).status_code == 400
    assert tax.staff_post.holders(APRIL) == [tax.staff]
    applied = client.post("/admin/transfers/apply", data={"token": token}, follow_redirects=True)
    assert "人事異動を反映しました" in applied.get_data(as_text=True)
    _db.session.expire_all()
    assert [u.id for u in tax.staff_post.holders(APRIL)] == [newcomer.id]
    holders = client.get("/admin/posts?format=csv").data.decode("utf-8-sig")
    assert holders.startswith("役職コード,役職名") and "\r\n" in holders
