"""Export any list to Excel (.xlsx) or to a CSV file that Excel opens correctly in Japanese.

Every workbook is ready to print: A4 landscape, fitted to the page width, the header row
repeated on every page, a title row with the list's name and its fiscal year in 和暦,
borders, wrapped text, column widths measured for Japanese text, page numbers, and dates
shown in 和暦 with the 西暦 date beside them.

The font is BIZ UDゴシック: it ships with every Japanese Windows since Windows 10 (1809),
so the PCs of a city hall have it without installing anything. It is a universal-design
typeface (legible for older readers and in small print) with fixed-width full-width
characters, so the widths measured here hold when printed. Debian packages the same font
(fonts-morisawa-bizud-gothic), which LibreOffice uses when converting in the tests.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import quote

from flask import Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .calendar import TOKYO, local_date, wareki_date, wareki_fiscal_year

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Characters a spreadsheet would read as the start of a formula (CSV injection); Excel with
# a Japanese input method takes the full-width signs (＝＋－＠) for their ASCII forms.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")

FONT_NAME = "BIZ UDゴシック"
FONT_SIZE = 10
# 和暦 first, the 西暦 date beside it; Excel and LibreOffice both read [$-411] (Japanese).
DATE_FORMAT = '[$-411]ggge"年"m"月"d"日"（yyyy-mm-dd）'
DATETIME_FORMAT = '[$-411]ggge"年"m"月"d"日" h:mm"（"yyyy-mm-dd"）"'
# What one A4 landscape page holds at a readable scale, in Excel's width units (about one
# half-width character each): wider tables are narrowed by wrapping their longest columns.
PAGE_WIDTH_UNITS = 190
MAX_COLUMN_WIDTH = 48
MIN_WRAPPED_WIDTH = 10
# Points per line of FONT_SIZE text (BIZ UDゴシック's line spacing).
LINE_HEIGHT = 13.5

_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="E6E6E6")


def _cell(value):
    """A value as a spreadsheet shows it: dates as dates, aware times in Tokyo, enums by label."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(TOKYO).replace(tzinfo=None)
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date | int | float):
        return value
    if hasattr(value, "ja"):
        return value.ja
    # Control characters other than tab and newline cannot be stored in a workbook.
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def _text(value) -> str:
    kind = type(value)
    if kind is int:
        return str(value)
    # The common cell: plain text, nothing to drop, nothing a spreadsheet would run.
    if kind is str and not value.startswith(_FORMULA_START) and not _CONTROL.search(value):
        return value
    if value is None:
        return ""
    if kind is datetime:
        local = value.astimezone(TOKYO).replace(tzinfo=None) if value.tzinfo else value
        return local.isoformat(" ", "minutes")  # as strftime("%Y-%m-%d %H:%M"), faster
    if kind is date:
        return value.isoformat()
    value = _cell(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def display_width(text: str) -> int:
    """The width of the longest line of `text` in half-width characters (full-width count 2)."""
    return max(
        (
            sum(2 if unicodedata.east_asian_width(ch) in "FWA" else 1 for ch in line)
            for line in text.split("\n")
        ),
        default=0,
    )


def _shown_width(value) -> int:
    if isinstance(value, datetime):
        return 34
    if isinstance(value, date):
        return 28
    if isinstance(value, int | float):
        return len(f"{value:,}")
    return display_width(str(value))


def fit_widths(
    natural: Sequence[int], wrappable: Sequence[bool], budget: int = PAGE_WIDTH_UNITS
) -> list[int]:
    """Column widths that fit `budget`: the widest text columns are narrowed (and wrap) first.

    Dates, numbers and short columns keep their width; a wrapped column stays at least
    MIN_WRAPPED_WIDTH wide, so a table of many columns may still scale down when printed.
    """
    widths = [min(MAX_COLUMN_WIDTH, w) for w in natural]
    if sum(widths) <= budget:
        return widths
    cap = MAX_COLUMN_WIDTH
    while cap > MIN_WRAPPED_WIDTH and (
        sum(min(w, cap) if wrap else w for w, wrap in zip(widths, wrappable, strict=True)) > budget
    ):
        cap -= 1
    return [min(w, cap) if wrap else w for w, wrap in zip(widths, wrappable, strict=True)]


def _lines(value, width: int) -> int:
    """How many lines a wrapped cell of `width` units takes."""
    if not isinstance(value, str) or not value:
        return 1
    # About 1.1 half-width characters of BIZ UDゴシック 10pt per width unit in Excel.
    per_line = max(1, int(width * 1.1) - 1)
    return sum(max(1, -(-display_width(line) // per_line)) for line in value.split("\n"))


@dataclass
class SheetSpec:
    """One worksheet of a workbook: its name, the header row and the rows."""

    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence] = field(default_factory=list)


def heading_for(title: str, fiscal_year: int | None = None, today: date | None = None) -> str:
    """The title row: the list's name and its fiscal year in 和暦 (or the day it was made)."""
    if fiscal_year is not None:
        return f"{title}　{wareki_fiscal_year(fiscal_year)}（{fiscal_year}年度）"
    today = today or local_date(datetime.now(UTC))
    return f"{title}　{wareki_date(today)}（{today.isoformat()}）現在"


def _write_sheet(sheet: Worksheet, spec: SheetSpec, heading: str | None) -> None:
    headers = list(spec.headers)
    first = 1
    if heading:
        sheet.append([heading])
        title_cell = sheet.cell(row=1, column=1)
        title_cell.font = Font(name=FONT_NAME, size=FONT_SIZE + 4, bold=True)
        title_cell.alignment = Alignment(vertical="center")
        sheet.row_dimensions[1].height = 24
        first = 2
    sheet.append(headers)
    natural = [display_width(str(h)) + 2 for h in headers]
    wrappable = [False] * len(headers)
    for row in spec.rows:
        values = []
        for index, value in enumerate(row):
            value = _cell(value)
            if isinstance(value, str) and value.startswith(_FORMULA_START):
                value = "'" + value
            values.append(value)
            if index < len(natural):
                natural[index] = max(natural[index], _shown_width(value) + 2)
                if isinstance(value, str) and _shown_width(value) > MIN_WRAPPED_WIDTH:
                    wrappable[index] = True
        sheet.append(values)

    body_font = Font(name=FONT_NAME, size=FONT_SIZE)
    for cell in sheet[first]:
        cell.font = Font(name=FONT_NAME, size=FONT_SIZE, bold=True)
        cell.fill = _HEADER_FILL
        cell.border = _BORDER
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in sheet.iter_rows(min_row=first + 1):
        for cell in row:
            cell.font = body_font
            cell.border = _BORDER
            value = cell.value
            if isinstance(value, datetime):
                cell.number_format = DATETIME_FORMAT
            elif isinstance(value, date):
                cell.number_format = DATE_FORMAT
            elif isinstance(value, int) and not isinstance(value, bool):
                cell.number_format = "#,##0"
            elif isinstance(value, float):
                cell.number_format = "#,##0.###"
            horizontal = "right" if isinstance(value, int | float) else None
            cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal=horizontal)
    widths = fit_widths(natural, wrappable)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    # Neither Excel nor LibreOffice grows a row for wrapped text it did not lay out itself:
    # give each row the height of its tallest cell.
    for row in sheet.iter_rows(min_row=first):
        lines = max(
            (_lines(cell.value, widths[i]) for i, cell in enumerate(row) if i < len(widths)),
            default=1,
        )
        sheet.row_dimensions[row[0].row].height = lines * LINE_HEIGHT + 4

    last_column = get_column_letter(max(len(headers), 1))
    sheet.freeze_panes = f"A{first + 1}"
    sheet.print_title_rows = f"{first}:{first}"
    if spec.rows:
        sheet.auto_filter.ref = f"A{first}:{last_column}{sheet.max_row}"
    _page_setup(sheet)


def _page_setup(sheet: Worksheet) -> None:
    """A4 landscape, as wide as the page, as many pages tall as needed, numbered."""
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
    # LibreOffice (and Excel) honour fitToWidth/fitToHeight only with fitToPage set.
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.6
    sheet.page_margins.header = sheet.page_margins.footer = 0.3
    sheet.print_options.horizontalCentered = True
    sheet.oddFooter.center.text = "&P / &N"
    sheet.oddFooter.center.size = 9


def to_workbook(specs: Sequence[SheetSpec], heading: str | None = None) -> bytes:
    """A workbook of one worksheet per spec; the title row (if any) names the first list."""
    workbook = Workbook()
    for number, spec in enumerate(specs):
        sheet = workbook.active if number == 0 else workbook.create_sheet()
        sheet.title = spec.title[:31] or f"Sheet{number + 1}"
        sheet_heading = heading if number == 0 or not heading else f"{heading}　{spec.title}"
        _write_sheet(sheet, spec, sheet_heading)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_xlsx(
    title: str, headers: Sequence[str], rows: Iterable[Sequence], heading: str | None = None
) -> bytes:
    """One worksheet named `title`: the title row `heading` (if given), headers, then rows.

    Without a heading the header row is row 1, as upload templates need.
    """
    return to_workbook([SheetSpec(title, headers, list(rows))], heading)


def to_csv(headers: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """CSV in UTF-8 with a byte-order mark and CRLF line ends, as Excel expects."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_text(h) for h in headers])
    for row in rows:
        writer.writerow([_text(v) for v in row])
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def csv_chunks(headers: Sequence[str], rows: Iterable[Sequence], per: int = 2000):
    """The CSV of `to_csv`, as byte strings of `per` rows each (for a streamed response)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_text(h) for h in headers])
    first = True
    count = 0
    for row in rows:
        writer.writerow([_text(v) for v in row])
        count += 1
        if count == per:
            yield ("\ufeff" if first else "").encode() + buffer.getvalue().encode("utf-8")
            first, count = False, 0
            buffer.seek(0)
            buffer.truncate()
    yield ("\ufeff" if first else "").encode() + buffer.getvalue().encode("utf-8")


def stream_csv(
    title: str, headers: Sequence[str], rows: Iterable[Sequence], *, fiscal_year: int | None = None
) -> Response:
    """The CSV of `export_response`, written while the rows are read: memory stays flat."""
    from flask import stream_with_context

    filename = title if fiscal_year is None else f"{title}_{fiscal_year}"
    # `content_type`, not `mimetype`: Werkzeug would add a second charset to a mimetype.
    response = Response(
        stream_with_context(csv_chunks(headers, rows)), content_type="text/csv; charset=utf-8"
    )
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"export.csv\"; filename*=UTF-8''{quote(filename + '.csv')}"
    )
    return response


def download(data: bytes, filename: str, fmt: str) -> Response:
    """A response that downloads `data` as `filename.<fmt>`, with a Japanese-safe name."""
    full = f"{filename}.{fmt}"
    if fmt == "xlsx":
        response = Response(data, mimetype=XLSX_MIMETYPE)
    elif fmt == "pdf":
        response = Response(data, mimetype="application/pdf")
    else:
        # `content_type`, not `mimetype`: Werkzeug would add a second charset to a mimetype.
        response = Response(data, content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"export.{fmt}\"; filename*=UTF-8''{quote(full)}"
    )
    return response


def export_response(
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence],
    fmt: str,
    *,
    fiscal_year: int | None = None,
    more_sheets: Sequence[SheetSpec] = (),
):
    """The list as an .xlsx or .csv download (`fmt` is "xlsx" or "csv").

    The workbook's title row names the list and `fiscal_year` in 和暦 (the day it was made
    when the list has no year); `more_sheets` adds worksheets to the workbook only.
    """
    rows = list(rows)
    filename = title if fiscal_year is None else f"{title}_{fiscal_year}"
    if fmt == "xlsx":
        heading = heading_for(title, fiscal_year)
        data = to_workbook([SheetSpec(title, headers, rows), *more_sheets], heading)
        return download(data, filename, "xlsx")
    return download(to_csv(headers, rows), filename, "csv")
