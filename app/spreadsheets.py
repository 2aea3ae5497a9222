"""Opening uploaded workbooks safely, with one clear message for every unreadable file."""

from __future__ import annotations

import io
import zipfile

from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from app.text import _

# An .xlsx is a zip: what it unpacks to is what openpyxl will hold in memory.
MAX_UNPACKED = 30 * 1024 * 1024
MAX_RATIO = 100


class SpreadsheetError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def open_workbook(data: bytes) -> Workbook:
    """A read-only workbook of the upload; SpreadsheetError when it cannot or should not load.

    The unpacked size is checked first, so a small file that expands to gigabytes (a zip
    bomb) is refused before openpyxl reads it.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SpreadsheetError(_("Excelファイル（.xlsx）として読み込めませんでした。")) from exc
    if unpacked > MAX_UNPACKED or unpacked > MAX_RATIO * max(len(data), 1):
        raise SpreadsheetError(
            _("ファイルの中身が大きすぎるため読み込めません。行や列を減らしてください。")
        )
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable upload gets the same message
        raise SpreadsheetError(_("Excelファイル（.xlsx）として読み込めませんでした。")) from exc
