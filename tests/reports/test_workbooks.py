"""Every Excel export is ready to print: its page set-up read back, and printed by LibreOffice."""

from __future__ import annotations

import io
import math
import re
from datetime import date

import pytest
from openpyxl import load_workbook

from app.exports import DATE_FORMAT, FONT_NAME, PAGE_WIDTH_UNITS, to_xlsx

from .conftest import PUBLISHED_FY, office_pdf, page_count, page_texts

LISTS = [
    ("jimukyoku", f"/public/{PUBLISHED_FY}.xlsx"),
    ("jimukyoku", f"/committee/opinions?fy={PUBLISHED_FY}&format=xlsx"),
    ("jimukyoku", f"/committee/?fy={PUBLISHED_FY}&format=xlsx"),
    ("jimukyoku", "/secretariat/?fy=2026&format=xlsx"),
    ("jimukyoku", "/secretariat/items?fy=2026&format=xlsx"),
    ("jimukyoku", "/secretariat/notifications?format=xlsx"),
    ("admin", "/admin/users?format=xlsx"),
    ("admin", "/admin/posts?format=xlsx"),
    ("admin", "/admin/departments?format=xlsx"),
]
TEMPLATES = [
    ("jimukyoku", "/plan/import/template.xlsx"),
    ("admin", "/admin/transfers/template.xlsx"),
]


@pytest.fixture(scope="module")
def downloads(demo_app):
    """Each export as the demo's users download it."""
    client = demo_app.test_client()
    found = {}
    with demo_app.app_context():
        for login, url in LISTS + TEMPLATES:
            client.post("/logout")
            client.post("/login", data={"login": login, "password": "kaikaku-demo"})
            response = client.get(url)
            assert response.status_code == 200, url
            found[url] = response.data
    return found


def assert_page_set_up(sheet, header_row: int) -> None:
    setup = sheet.page_setup
    assert setup.orientation == "landscape"
    assert setup.paperSize == 9  # A4
    assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
    assert (setup.fitToWidth, setup.fitToHeight) == (1, 0)
    assert sheet.print_title_rows == f"${header_row}:${header_row}"
    assert "&P" in sheet.oddFooter.center.text


@pytest.mark.parametrize("url", [url for _login, url in LISTS])
def test_every_list_prints_on_a4_landscape_with_title_header_and_borders(downloads, url):
    workbook = load_workbook(io.BytesIO(downloads[url]))
    for sheet in workbook.worksheets:
        assert_page_set_up(sheet, header_row=2)
        title = sheet["A1"].value
        assert re.search(r"令和\d+年", title), title  # the list's year (or day) in 和暦
        header = sheet[2]
        assert all(c.font.b and c.border.bottom.style == "thin" for c in header if c.value)
        widths = [d.width for d in sheet.column_dimensions.values()]
        assert sum(widths) <= PAGE_WIDTH_UNITS + 40, widths
        for row in sheet.iter_rows(min_row=3, max_row=min(sheet.max_row, 30)):
            for cell in row:
                assert cell.font.name == FONT_NAME
                assert cell.border.left.style == "thin" and cell.alignment.wrap_text
                if hasattr(cell.value, "year"):
                    assert "ggge" in cell.number_format and "yyyy" in cell.number_format


@pytest.mark.parametrize("url", [url for _login, url in TEMPLATES])
def test_upload_templates_keep_their_header_in_row_one_and_print_alike(downloads, url):
    sheet = load_workbook(io.BytesIO(downloads[url])).active
    assert_page_set_up(sheet, header_row=1)
    assert sheet["A1"].font.b


def test_dates_show_wareki_with_the_western_date_beside():
    data = to_xlsx("一覧", ["日付"], [[date(2025, 4, 1)]], heading="一覧")
    assert load_workbook(io.BytesIO(data)).active["A3"].number_format == DATE_FORMAT
    assert DATE_FORMAT.startswith("[$-411]ggge") and "yyyy-mm-dd" in DATE_FORMAT


def test_the_opinion_list_takes_the_pages_its_text_needs(demo_app, downloads, tmp_path):
    """Three opinions on one page (it was six pages before the page set-up)."""
    data = downloads[f"/committee/opinions?fy={PUBLISHED_FY}&format=xlsx"]
    opinions = load_workbook(io.BytesIO(data)).active.max_row - 2
    assert opinions >= 3
    pdf = office_pdf(data, tmp_path)
    assert page_count(pdf) == 1
    text = page_texts(pdf)[0]
    assert "意見一覧表" in text and "令和7年度" in text and "令和8年" in text


def test_the_published_year_prints_with_its_header_on_every_page(downloads, tmp_path):
    data = downloads[f"/public/{PUBLISHED_FY}.xlsx"]
    workbook = load_workbook(io.BytesIO(data))
    items = workbook.worksheets[0].max_row - 2
    pdf = office_pdf(data, tmp_path)
    pages = page_texts(pdf)
    # At least three items a page on the first sheet, the indicator sheet on its own pages.
    assert len(pages) <= math.ceil(items / 3) + 2
    first_sheet_pages = [p for p in pages if "推進委員会の意見" in p]
    assert len(first_sheet_pages) >= 2
    assert all("取組項目" in p and "達成度" in p for p in first_sheet_pages)
    assert any("実績値" in p for p in pages)
