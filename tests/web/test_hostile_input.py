"""The probe's server errors, each answered with a refusal that names the field and
changes nothing (run on SQLite and, with TEST_DB=postgres, on PostgreSQL)."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.models import AuditEntry, Cycle, Department, IndicatorValue, ProgressReport, User

from .conftest import FY

HUGE = str(2**63 + 1)


def snapshot(db) -> dict[str, int]:
    """Row counts that must not move when a request is refused."""
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (AuditEntry, Cycle, Department, IndicatorValue, ProgressReport, User)
    }


@pytest.fixture
def secretariat(world, db):
    user = world.make.user("jimukyoku", roles=["secretariat", "admin"])
    db.session.commit()
    return user


@pytest.mark.parametrize(
    "url",
    [
        f"/items/{HUGE}",
        f"/items/{2**31}",
        f"/cycles/{HUGE}/decide",
        f"/items/1/cycles/{HUGE}/plan",
        f"/committee/cycles/{HUGE}",
        f"/secretariat/cycles/{HUGE}",
        f"/admin/departments/{HUGE}",
        f"/public/{HUGE}",
        f"/public/{HUGE}.csv",
        "/public/99999",
        "/public/manage/99999",
        "/secretariat/?fy=99999",
        "/secretariat/items?fy=-5",
        "/secretariat/schedule/99999",
        "/committee/?fy=99999",
        f"/plan?plan={HUGE}",
        "/plan?plan=²",
    ],
)
def test_ids_and_years_out_of_range_are_not_found(client, login_as, secretariat, url):
    login_as(secretariat)
    assert client.get(url).status_code == 404


def test_unicode_digits_and_huge_numbers_in_query_strings_are_no_server_error(
    client, login_as, secretariat
):
    login_as(secretariat)
    for query in ("viewpoint=²", f"department={HUGE}", "page=²", f"page={HUGE}", "days=٣"):
        assert client.get(f"/secretariat/items?{query}").status_code == 200, query
    assert client.get("/secretariat/items?state=%00plan").status_code == 200
    assert client.get("/secretariat/notifications?kind=%00x&page=²").status_code == 200
    assert client.get(f"/items/{1}?fy={HUGE}").status_code in (200, 404)


def test_a_nul_byte_or_an_overlong_login_is_refused_on_the_login_form(client, world, db):
    before = snapshot(db)
    for login in ("staff\x00", "x" * 61, "bell\x07"):
        response = client.post("/login", data={"login": login, "password": "password"})
        assert response.status_code == 422, login
        assert "ログインID" in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_a_calendar_token_with_a_nul_byte_is_not_found(client):
    assert client.get("/ical/abc%00def.ics").status_code == 404
    assert client.get(f"/ical/{'a' * 500}.ics").status_code == 404


def test_a_plan_with_a_number_too_large_for_its_column_is_refused_by_name(
    client, world, login_as, db
):
    cycle = world.cycle("plan_draft")
    indicator = cycle.item.indicators[0]
    db.session.commit()
    login_as(world.org.staff)
    before = snapshot(db)
    response = client.post(
        f"/items/{cycle.item_id}/cycles/{FY}/plan",
        data={
            "action": "save",
            "goal": "目標\x00",
            f"ind-{indicator.id}-name": indicator.name,
            f"ind-{indicator.id}-target-{FY}": "999999999999999.9999",
            f"ind-{indicator.id}-baseline": "²",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "の目標値は小数点以下3桁までで入力してください。" in page
    assert "基準値は数値で入力してください。" in page
    assert "今年度の目標に使えない文字（制御文字）が含まれています。" in page
    assert snapshot(db) == before


def test_a_goal_longer_than_allowed_is_refused_by_name(client, world, login_as, db):
    cycle = world.cycle("plan_draft")
    db.session.commit()
    login_as(world.org.staff)
    before = snapshot(db)
    response = client.post(
        f"/items/{cycle.item_id}/cycles/{FY}/plan", data={"action": "save", "goal": "あ" * 4001}
    )
    assert response.status_code == 422
    assert "今年度の目標は4000文字以内で入力してください。" in response.get_data(as_text=True)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "部\x00", "名称に使えない文字（制御文字）が含まれています。"),
        ("name", "部" * 101, "名称は100文字以内で入力してください。"),
        ("code", "C" * 21, "コードは20文字以内で入力してください。"),
        ("position", "²", "表示順は数値で入力してください。"),
        ("position", HUGE, "表示順の値が大きすぎます。"),
    ],
)
def test_an_administrators_entity_form_refuses_what_the_column_cannot_hold(
    client, login_as, secretariat, db, field, value, message
):
    login_as(secretariat)
    before = snapshot(db)
    form = {"code": "NEW", "name": "新しい部", "position": "1", field: value}
    response = client.post("/admin/departments", data=form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "email",
    [
        "kacho@city.example.jp\r\nBcc: all@evil.example",
        "kacho\n@city.example.jp",
        "no-at-sign",
        "two@@city.example.jp",
        "kacho@",
        "@city.example.jp",
    ],
)
def test_the_user_form_refuses_an_address_no_mail_server_would_take(
    client, login_as, secretariat, db, email
):
    login_as(secretariat)
    before = snapshot(db)
    response = client.post(
        "/admin/users/new",
        data={
            "login": "shinnin",
            "name": "新任 太郎",
            "email": email,
            "password": "kawagoe-line-2027",
            "active": "1",
        },
    )
    assert response.status_code == 422
    assert "メールアドレスの形式が正しくありません。" in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_the_user_form_refuses_a_short_or_common_password(client, login_as, secretariat, db):
    login_as(secretariat)
    before = snapshot(db)
    for password, message in (
        ("password", "パスワードは12文字以上で入力してください。"),
        ("password123456", "よく使われていて推測されやすいパスワードです"),
    ):
        response = client.post(
            "/admin/users/new",
            data={
                "login": "shinnin",
                "name": "新任 太郎",
                "email": "shinnin@city.example.jp",
                "password": password,
            },
        )
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert snapshot(db) == before


def _workbook(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _broken(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as z:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body[: len(body) // 2]
            z.writestr(info, body)
    return out.getvalue()


@pytest.mark.parametrize("url", ["/plan/import/preview", "/admin/transfers/preview"])
def test_a_workbook_with_broken_xml_gets_the_clear_refusal(
    client, login_as, secretariat, world, db, url
):
    login_as(secretariat)
    before = snapshot(db)
    data = _broken(_workbook([["番号", "改革項目名"], ["1-1", "行政手続"]]))
    response = client.post(url, data={"file": (io.BytesIO(data), "broken.xlsx")})
    assert response.status_code == 422
    assert "Excelファイル（.xlsx）として読み込めませんでした。" in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_an_import_reads_full_width_digits_and_thousands_like_the_forms(
    client, login_as, secretariat, world, db
):
    from app.imports.service import FIXED_COLUMNS, target_header

    login_as(secretariat)
    header = FIXED_COLUMNS + [target_header(FY)]
    row = ["9-1", "１", "新しい項目", "", "", world.org.section.code, "", "件数", "件"]
    row += ["１，２３４", "はい", "2,500"]
    response = client.post(
        "/plan/import/preview",
        data={"file": (io.BytesIO(_workbook([header, row])), "items.xlsx")},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "数値で入力してください" not in page and "新しい項目" in page


def test_a_transfer_date_cell_with_full_width_digits_is_read(
    client, login_as, secretariat, world, db
):
    login_as(secretariat)
    newcomer = world.make.user("shinnin", name="新任 次郎")
    db.session.commit()
    rows = [
        ["役職コード", "役職名", "新任者ログインID", "発令日"],
        [world.org.staff_post.code, "", "shinnin", "２０９９年４月１日"],
        [world.org.head_post.code, "", world.org.head.login, "²"],
    ]
    response = client.post(
        "/admin/transfers/preview",
        data={"file": (io.BytesIO(_workbook(rows)), "transfer.xlsx")},
    )
    page = response.get_data(as_text=True)
    assert response.status_code in (200, 422)
    assert newcomer.name in page
    assert "２０９９年４月１日" not in page  # the date was read, not refused
