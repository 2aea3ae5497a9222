"""Uploaded workbooks: a zip bomb or a broken file is refused before openpyxl reads it."""

import io
import zipfile

import pytest
from openpyxl import Workbook

from app.spreadsheets import MAX_UNPACKED, SpreadsheetError, open_workbook


def workbook_bytes(extra: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    book = Workbook()
    book.active.append(["番号", "改革項目名"])
    book.save(buffer)
    if not extra:
        return buffer.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            z.writestr(info, source.read(info))
        z.writestr("xl/padding.xml", extra)
    return out.getvalue()


def test_an_ordinary_workbook_opens():
    sheet = open_workbook(workbook_bytes()).worksheets[0]
    assert next(sheet.iter_rows(values_only=True))[:2] == ("番号", "改革項目名")


def test_a_small_file_that_unpacks_to_too_much_is_refused():
    bomb = workbook_bytes(b"\0" * (MAX_UNPACKED + 1))
    assert len(bomb) < 200_000  # small on the wire
    with pytest.raises(SpreadsheetError, match="中身が大きすぎる"):
        open_workbook(bomb)


@pytest.mark.parametrize("data", [b"", b"plain text", b"PK\x03\x04 broken"])
def test_a_file_that_is_not_a_workbook_is_refused(data):
    with pytest.raises(SpreadsheetError, match="読み込めませんでした"):
        open_workbook(data)
