"""Uploaded workbooks: zip bombs, broken XML and entity tricks get one clear refusal."""

import io
import zipfile

import pytest
from openpyxl import Workbook

from app.spreadsheets import MAX_UNPACKED, SpreadsheetError, first_sheet_rows


def workbook_bytes(extra: bytes = b"", replace: dict[str, bytes] | None = None) -> bytes:
    """A real workbook; `extra` adds a file, `replace` swaps the contents of some parts."""
    buffer = io.BytesIO()
    book = Workbook()
    book.active.append(["番号", "改革項目名"])
    book.active.append(["1-1", "行政手続のオンライン化"])
    book.save(buffer)
    if not extra and not replace:
        return buffer.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            z.writestr(info, (replace or {}).get(info.filename, source.read(info)))
        if extra:
            z.writestr("xl/padding.xml", extra)
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"
XXE_SHEET = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&secret;</t></is></c></row></sheetData></worksheet>"""
LAUGHS_SHEET = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE x [<!ENTITY a "hahahahahahahahahaha">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&e;</t></is></c></row></sheetData></worksheet>"""
BROKEN_SHEET = b"""<?xml version="1.0" encoding="UTF-8"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>unclosed</is></c></row>"""


def test_an_ordinary_workbook_is_read_row_by_row():
    rows = first_sheet_rows(workbook_bytes(), max_rows=100)
    assert rows[0][:2] == ("番号", "改革項目名")
    assert rows[1][:2] == ("1-1", "行政手続のオンライン化")


def test_reading_stops_at_the_row_limit():
    assert len(first_sheet_rows(workbook_bytes(), max_rows=1)) == 1


def test_a_small_file_that_unpacks_to_too_much_is_refused():
    bomb = workbook_bytes(b"\0" * (MAX_UNPACKED + 1))
    assert len(bomb) < 200_000  # small on the wire
    with pytest.raises(SpreadsheetError, match="中身が大きすぎる"):
        first_sheet_rows(bomb, max_rows=100)


@pytest.mark.parametrize("data", [b"", b"plain text", b"PK\x03\x04 broken"])
def test_a_file_that_is_not_a_workbook_is_refused(data):
    with pytest.raises(SpreadsheetError, match="読み込めませんでした"):
        first_sheet_rows(data, max_rows=100)


@pytest.mark.parametrize(
    "sheet",
    [BROKEN_SHEET, XXE_SHEET, LAUGHS_SHEET],
    ids=["broken-xml", "xxe-external-entity", "billion-laughs"],
)
def test_a_workbook_with_broken_or_entity_laden_xml_is_refused(sheet):
    data = workbook_bytes(replace={SHEET: sheet})
    with pytest.raises(SpreadsheetError, match="読み込めませんでした") as refused:
        first_sheet_rows(data, max_rows=100)
    assert "root:" not in str(refused.value)  # nothing of /etc/passwd comes back


def test_entity_tricks_are_refused_by_defusedxml_not_by_luck():
    from defusedxml.common import EntitiesForbidden

    data = workbook_bytes(replace={SHEET: XXE_SHEET})
    with pytest.raises(SpreadsheetError) as refused:
        first_sheet_rows(data, max_rows=100)
    causes = []
    error: BaseException | None = refused.value
    while error is not None:
        causes.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(c, EntitiesForbidden) for c in causes)
