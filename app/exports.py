"""Export any list to Excel (.xlsx) or to a CSV file that Excel opens correctly in Japanese."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from urllib.parse import quote

from flask import Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .calendar import TOKYO

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Characters a spreadsheet would read as the start of a formula (CSV injection); Excel with
# a Japanese input method takes the full-width signs (＝＋－＠) for their ASCII forms.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def _cell(value):
    """A value as a spreadsheet shows it: dates as dates, aware times in Tokyo, enums by label."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(TOKYO).replace(tzinfo=None)
        return value
    if isinstance(value, date | int | float):
        return value
    if hasattr(value, "ja"):
        return value.ja
    # Control characters other than tab and newline cannot be stored in a workbook.
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def _text(value) -> str:
    value = _cell(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_xlsx(title: str, headers: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """One worksheet named `title`, a bold header row, then the rows."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31] or "Sheet1"
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(str(h)) * 2 + 2 for h in headers]
    for row in rows:
        values = []
        for index, value in enumerate(row):
            value = _cell(value)
            if isinstance(value, str) and value.startswith(_FORMULA_START):
                value = "'" + value
            values.append(value)
            if index < len(widths):
                widths[index] = min(60, max(widths[index], len(str(value)) * 2 + 2))
        sheet.append(values)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_csv(headers: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """CSV in UTF-8 with a byte-order mark and CRLF line ends, as Excel expects."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_text(h) for h in headers])
    for row in rows:
        writer.writerow([_text(v) for v in row])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def download(data: bytes, filename: str, fmt: str) -> Response:
    """A response that downloads `data` as `filename.<fmt>`, with a Japanese-safe name."""
    mimetype = XLSX_MIMETYPE if fmt == "xlsx" else "text/csv; charset=utf-8"
    full = f"{filename}.{fmt}"
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"export.{fmt}\"; filename*=UTF-8''{quote(full)}"
    )
    return response


def export_response(title: str, headers: Sequence[str], rows: Iterable[Sequence], fmt: str):
    """The list as an .xlsx or .csv download (`fmt` is "xlsx" or "csv")."""
    rows = list(rows)
    if fmt == "xlsx":
        return download(to_xlsx(title, headers, rows), title, "xlsx")
    return download(to_csv(headers, rows), title, "csv")
