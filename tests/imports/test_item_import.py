"""Importing reform items from Excel: all rows checked first, applied whole or not at all."""

import io
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.imports.service import (
    FIXED_COLUMNS,
    WorkbookError,
    apply,
    read_workbook,
    target_header,
)
from app.models import AuditEntry, Cycle, ReformItem, Role

NOW = datetime(2026, 5, 10, 1, tzinfo=UTC)


def workbook(rows, years=range(2022, 2027)) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(FIXED_COLUMNS + [target_header(fy) for fy in years])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def setup(make, db):
    org = make.org("企画")
    other = make.org("市民")
    plan = make.plan()
    existing = make.item(org, number="1-1", title="旧名称")
    secretariat = make.user("jimukyoku", roles=[Role.SECRETARIAT])
    db.session.commit()
    return {
        "org": org,
        "other": other,
        "plan": plan,
        "existing": existing,
        "secretariat": secretariat,
    }


def good_rows(setup):
    org, other = setup["org"], setup["other"]
    return [
        [
            "1-1",
            1,
            "行政手続のオンライン化の推進",
            "目的",
            "内容",
            org.section.code,
            "",
            "オンライン申請可能な手続数",
            "件",
            42,
            "はい",
            80,
            120,
            160,
            200,
            250,
        ],
        [
            "1-1",
            None,
            None,
            None,
            None,
            None,
            None,
            "電子申請の利用率",
            "%",
            10,
            "はい",
            20,
            30,
            40,
            50,
            60,
        ],
        [
            "2-9",
            2,
            "公民館の複合化",
            "",
            "",
            other.section.name,
            org.section.code,
            "複合化した施設数",
            "施設",
            0,
            "",
            0,
            1,
            1,
            2,
            3,
        ],
    ]


def test_a_valid_workbook_creates_and_updates_items_with_indicators(db, setup):
    parsed = read_workbook(db.session, setup["plan"], workbook(good_rows(setup)))
    assert parsed.errors == []
    assert [(r.number, r.action) for r in parsed.items] == [("1-1", "更新"), ("2-9", "新規")]
    created, updated = apply(db.session, setup["plan"], parsed, by=setup["secretariat"], now=NOW)
    db.session.commit()
    assert (created, updated) == (1, 1)
    item = setup["existing"]
    assert item.title == "行政手続のオンライン化の推進"
    assert [i.name for i in item.indicators] == ["オンライン申請可能な手続数", "電子申請の利用率"]
    assert item.indicators[1].value_for(2026).target == 60
    new = db.session.scalar(select(ReformItem).where(ReformItem.number == "2-9"))
    assert new.owning_section is setup["other"].section
    assert new.related_sections == [setup["org"].section]
    # The running fiscal year's cycle opens for a new item, so its staff see it at once.
    assert db.session.scalar(select(Cycle.state).where(Cycle.item_id == new.id)) == "plan_draft"
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "import_items")
        )
        == 1
    )


def test_one_bad_row_stops_the_whole_import_with_row_numbers(db, setup):
    rows = good_rows(setup)
    rows[2][5] = "存在しない課"
    rows[1][9] = "四十二"
    rows.append(["x1", 9, "", "", "", "", "", "", "", "", "", "", "", "", "", ""])
    parsed = read_workbook(db.session, setup["plan"], workbook(rows))
    messages = dict(parsed.errors)
    assert "「基準値」は数値で入力してください" in messages[3]
    assert "「所管課」が見つかりません（存在しない課）" in messages[4]
    assert "「番号」は 1-3 のような形式" in [m for r, m in parsed.errors if r == 5][0]
    assert not parsed.ok
    with pytest.raises(WorkbookError):
        apply(db.session, setup["plan"], parsed, by=setup["secretariat"], now=NOW)
    db.session.rollback()
    assert setup["existing"].title == "旧名称"
    assert db.session.scalar(select(func.count()).select_from(ReformItem)) == 1


def test_a_file_that_is_not_excel_is_refused(db, setup):
    with pytest.raises(WorkbookError, match="読み込めません"):
        read_workbook(db.session, setup["plan"], b"not an excel file")


def test_missing_headers_are_named(db, setup):
    book = Workbook()
    book.active.append(["番号", "改革項目名"])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(WorkbookError, match="基本的な視点"):
        read_workbook(db.session, setup["plan"], buffer.getvalue())


def test_upload_preview_and_apply_through_the_pages(client, db, setup, login_as):
    login_as(setup["secretariat"])
    data = workbook(good_rows(setup))
    preview = client.post(
        "/plan/import/preview",
        data={"file": (io.BytesIO(data), "items.xlsx")},
        content_type="multipart/form-data",
    )
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "公民館の複合化" in page and "新規" in page
    assert db.session.scalar(select(func.count()).select_from(ReformItem)) == 1  # not yet
    payload = page.split('name="payload" value="')[1].split('"')[0]
    response = client.post("/plan/import/apply", data={"payload": payload})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(ReformItem)) == 2


def test_only_secretariat_and_admins_may_import(client, setup, login_as):
    login_as(setup["org"].head)
    assert client.get("/plan/import/").status_code == 403
    assert client.post("/plan/import/apply", data={"payload": ""}).status_code == 403


def test_the_template_downloads_with_the_plan_years(client, setup, login_as):
    login_as(setup["secretariat"])
    response = client.get("/plan/import/template.xlsx")
    assert response.status_code == 200 and response.data[:2] == b"PK"
    from openpyxl import load_workbook

    header = [c.value for c in load_workbook(io.BytesIO(response.data)).active[1]]
    assert "2026年度目標" in header and header[0] == "番号"
    assert header[-5:] == [f"{fy}年度工程" for fy in range(2022, 2027)]


def test_targets_of_a_locked_year_cannot_be_changed_by_an_import(db, setup, make):
    make.schedule(2023, locked_at=NOW)
    db.session.commit()
    stored = setup["existing"].indicators[0].value_for(2023).target
    rows = good_rows(setup)[:1]
    rows[0][12] = int(stored)  # the 2023 target column, as it stands: accepted
    assert read_workbook(db.session, setup["plan"], workbook(rows)).errors == []
    rows[0][12] = 999
    parsed = read_workbook(db.session, setup["plan"], workbook(rows))
    assert parsed.errors == [
        (
            2,
            "2023年度は確定（ロック）済みのため、目標値を変更できません（オンライン申請可能な手続数）。",
        )
    ]
    assert not parsed.ok


def test_the_template_round_trips_with_the_steps_of_each_year(client, db, setup, login_as):
    """Download the template, fill in the 工程 of each fiscal year, upload it: the item
    page shows them, and a second import without the columns keeps them."""
    from openpyxl import load_workbook

    login_as(setup["secretariat"])
    template = load_workbook(io.BytesIO(client.get("/plan/import/template.xlsx").data))
    sheet = template.active
    header = [c.value for c in sheet[1]]
    example = [c.value for c in sheet[2]]
    assert example[header.index("2022年度工程")]  # the example row shows how to fill it in
    example[header.index("所管課")] = setup["org"].section.code
    example[header.index("関係課")] = setup["other"].section.name
    for fy in range(2022, 2027):
        example[header.index(f"{fy}年度工程")] = f"{fy}年度は窓口{fy - 2021}か所で実施"
    example[header.index("2024年度工程")] = ""  # an empty year is left without a step
    for column, value in enumerate(example, start=1):
        sheet.cell(row=2, column=column, value=value)
    buffer = io.BytesIO()
    template.save(buffer)

    parsed = read_workbook(db.session, setup["plan"], buffer.getvalue())
    assert parsed.errors == []
    apply(db.session, setup["plan"], parsed, by=setup["secretariat"], now=NOW)
    db.session.commit()
    item = setup["existing"]
    db.session.refresh(item)
    assert {s.fiscal_year: s.text for s in item.steps} == {
        2022: "2022年度は窓口1か所で実施",
        2023: "2023年度は窓口2か所で実施",
        2025: "2025年度は窓口4か所で実施",
        2026: "2026年度は窓口5か所で実施",
    }
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "工程（年度別計画）" in page and "2026年度は窓口5か所で実施" in page
    assert "令和8年度" in page
    # 関係課 are shown on the item page.
    assert setup["other"].section.name in page.split("関係課", 1)[1][:300]

    # Without the 工程 columns the steps stay as they are.
    parsed = read_workbook(db.session, setup["plan"], workbook(good_rows(setup)))
    apply(db.session, setup["plan"], parsed, by=setup["secretariat"], now=NOW)
    db.session.commit()
    db.session.refresh(item)
    assert len(item.steps) == 4


def test_a_step_too_long_is_refused_with_its_row(db, setup):
    rows = good_rows(setup)
    book = Workbook()
    sheet = book.active
    sheet.append(
        FIXED_COLUMNS
        + [target_header(fy) for fy in range(2022, 2027)]
        + [f"{fy}年度工程" for fy in range(2022, 2027)]
    )
    sheet.append(rows[0] + ["あ" * 4001, "", "", "", ""])
    buffer = io.BytesIO()
    book.save(buffer)
    parsed = read_workbook(db.session, setup["plan"], buffer.getvalue())
    assert parsed.errors and parsed.errors[0][0] == 2
    assert "2022年度工程" in parsed.errors[0][1]
