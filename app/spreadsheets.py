"""Opening uploaded workbooks safely, with one clear message for every unreadable file."""

from __future__ import annotations

import io
import zipfile

import openpyxl.xml
from openpyxl import load_workbook

from app.text import _
from config import ConfigError

# An .xlsx is a zip: what it unpacks to is what openpyxl will hold in memory.
MAX_UNPACKED = 30 * 1024 * 1024
MAX_RATIO = 100

if not openpyxl.xml.DEFUSEDXML:  # pragma: no cover - a broken installation
    # Without defusedxml, openpyxl would expand entities: XXE and "billion laughs" workbooks.
    raise ConfigError("defusedxml is missing or disabled (OPENPYXL_DEFUSEDXML)")


class SpreadsheetError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _unreadable(exc: Exception) -> SpreadsheetError:
    error = SpreadsheetError(_("Excelファイル（.xlsx）として読み込めませんでした。"))
    error.__cause__ = exc
    return error


def first_sheet_rows(data: bytes, max_rows: int) -> list[tuple]:
    """The values of the first sheet's rows (at most `max_rows`); SpreadsheetError when the
    upload cannot or should not be read.

    The unpacked size is checked first, so a small file that expands to gigabytes (a zip
    bomb) is refused before openpyxl reads it. The XML is parsed with defusedxml, so
    entity tricks (XXE, "billion laughs") are refused, and the rows are read here, inside
    the same guard: broken XML anywhere in the file gets the same clear message.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _unreadable(exc) from exc
    if unpacked > MAX_UNPACKED or unpacked > MAX_RATIO * max(len(data), 1):
        raise SpreadsheetError(
            _("ファイルの中身が大きすぎるため読み込めません。行や列を減らしてください。")
        )
    workbook = None
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        if not workbook.worksheets:
            raise SpreadsheetError(_("Excelファイル（.xlsx）として読み込めませんでした。"))
        rows = []
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            rows.append(values)
            if len(rows) >= max_rows:
                break
        return rows
    except SpreadsheetError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable upload gets the same message
        raise _unreadable(exc) from exc
    finally:
        if workbook is not None:
            workbook.close()
