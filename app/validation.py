"""Input rules shared by every form and every spreadsheet upload.

One number parser, one date parser and one text check, so a value the forms accept is
accepted by the Excel imports too: full-width digits (１２３) and thousands separators
(1,234) everywhere; other Unicode digits (², ٣) nowhere. Lengths come from the column
sizes; control characters are refused; numbers and fiscal years have ranges. On top of
them sit the WTForms fields of `app.fields`; each refusal names its field.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from app.text import _

# Integer primary keys are 32-bit on PostgreSQL: a larger id can name nothing.
ID_MAX = 2**31 - 1
# The fiscal years the calendar, the schedule and the pages work with.
FISCAL_YEAR_MIN, FISCAL_YEAR_MAX = 2000, 2100
EARLIEST_DATE, LATEST_DATE = date(FISCAL_YEAR_MIN, 1, 1), date(FISCAL_YEAR_MAX + 1, 12, 31)
# Long free text (goals, analyses, reasons, opinions) is a Text column; this is its limit.
TEXT_MAX = 4000
# Indicator values are Numeric(18, 3): 15 digits before the point, 3 after.
NUMBER_PLACES = 3
NUMBER_LIMIT = Decimal(10) ** 15

# Full-width digits, signs and separators as typed with a Japanese input method.
_WIDE = str.maketrans("０１２３４５６７８９＋－−，．／　", "0123456789+--,./ ")
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?", re.ASCII)
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", re.ASCII)
# Control characters; tab, line feed and carriage return are allowed in multi-line text.
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


class Invalid(ValueError):
    """A value that breaks a rule; `message(label)` says which, naming the field."""

    def __init__(self, reason: str, **details):
        super().__init__(reason)
        self.reason = reason
        self.details = details

    def message(self, label: str) -> str:
        d = self.details
        if self.reason == "number":
            return _("%(label)sは数値で入力してください。", label=label)
        if self.reason == "integer":
            return _("%(label)sは整数で入力してください。", label=label)
        if self.reason == "too_large":
            return _("%(label)sの値が大きすぎます。", label=label)
        if self.reason == "places":
            return _("%(label)sは小数点以下%(n)d桁までで入力してください。", label=label, n=d["n"])
        if self.reason == "range":
            return _(
                "%(label)sは%(low)s〜%(high)sの範囲で入力してください。",
                label=label,
                low=d["low"],
                high=d["high"],
            )
        if self.reason == "date":
            return _("%(label)sは「2026-09-30」の形式で入力してください。", label=label)
        if self.reason == "date_range":
            return _(
                "%(label)sは%(low)s〜%(high)sの日付にしてください。",
                label=label,
                low=d["low"],
                high=d["high"],
            )
        if self.reason == "email":
            return _("%(label)sの形式が正しくありません。", label=label)
        if self.reason == "control":
            return _("%(label)sに使えない文字（制御文字）が含まれています。", label=label)
        if self.reason == "length":
            return _("%(label)sは%(n)d文字以内で入力してください。", label=label, n=d["n"])
        return _("%(label)sの値が正しくありません。", label=label)


def narrow(text: str) -> str:
    """Full-width digits, signs and separators as ASCII; other characters unchanged."""
    return text.translate(_WIDE).strip()


def parse_number(
    raw,
    *,
    integer: bool = False,
    places: int = NUMBER_PLACES,
    limit: Decimal = NUMBER_LIMIT,
    low: int | Decimal | None = None,
    high: int | Decimal | None = None,
) -> Decimal | int | None:
    """A number typed in a form or read from a cell; None when blank. Raises Invalid.

    Accepts 1234, １２３４, 1,234, -0.5 and spreadsheet numbers; refuses other digits
    (²), exponents, NaN, more than `places` decimals and magnitudes of `limit` or more.
    """
    if raw is None or isinstance(raw, bool):
        if isinstance(raw, bool):
            raise Invalid("number")
        return None
    if isinstance(raw, int | float | Decimal):
        try:
            value = Decimal(str(raw)) if isinstance(raw, float) else Decimal(raw)
        except (InvalidOperation, ValueError):
            raise Invalid("number") from None
        if not value.is_finite():
            raise Invalid("number")
    else:
        text = narrow(str(raw))
        if not text:
            return None
        if not _NUMBER.fullmatch(text):
            raise Invalid("number")
        value = Decimal(text.replace(",", ""))
    if abs(value) >= limit:
        raise Invalid("too_large")
    if integer:
        if value != value.to_integral_value():
            raise Invalid("integer")
    elif value != value.quantize(Decimal(1).scaleb(-places)):
        raise Invalid("places", n=places)
    if (low is not None and value < low) or (high is not None and value > high):
        raise Invalid("range", low=low, high=high)
    return int(value) if integer else value


def parse_int(raw, *, low: int | None = None, high: int | None = None) -> int | None:
    """An integer (ids, years, counts); None when blank. Raises Invalid."""
    value = parse_number(raw, integer=True, low=low, high=high)
    return None if value is None else int(value)


def parse_id(raw) -> int | None:
    """A record id from a form or a query string: None unless a whole number 1..ID_MAX."""
    try:
        return parse_int(raw, low=1, high=ID_MAX)
    except Invalid:
        return None


def parse_fiscal_year(raw) -> int | None:
    """A fiscal year (西暦) within the calendar's range, or None."""
    try:
        return parse_int(raw, low=FISCAL_YEAR_MIN, high=FISCAL_YEAR_MAX)
    except Invalid:
        return None


def fiscal_year_arg(args, default: int, name: str = "fy") -> int:
    """The fiscal year asked for in a query string, `default` when absent; 404 when it is not
    a year the calendar knows."""
    from flask import abort

    raw = args.get(name)
    if raw is None or not str(raw).strip():
        return default
    value = parse_fiscal_year(raw)
    if value is None:
        abort(404)
    return value


def id_arg(args, name: str) -> int | None:
    """A record id asked for in a query string (None when absent); 404 when malformed."""
    from flask import abort

    raw = args.get(name)
    if raw is None or not str(raw).strip():
        return None
    value = parse_id(raw)
    if value is None:
        abort(404)
    return value


def require_fiscal_year(value: int) -> int:
    """A fiscal year from a route; 404 outside the calendar's range."""
    from flask import abort

    if not FISCAL_YEAR_MIN <= value <= FISCAL_YEAR_MAX:
        abort(404)
    return value


def parse_date(raw, *, low: date = EARLIEST_DATE, high: date = LATEST_DATE) -> date | None:
    """A date typed (2026-09-30, 2026/9/30, 2026年9月30日, full-width digits) or read from a
    cell; None when blank. Raises Invalid."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        value = raw.date()
    elif isinstance(raw, date):
        value = raw
    else:
        text = narrow(str(raw))
        if not text:
            return None
        match = _DATE.fullmatch(text)
        if not match:
            raise Invalid("date")
        try:
            value = date(*(int(g) for g in match.groups()))
        except ValueError:
            raise Invalid("date") from None
    if not low <= value <= high:
        raise Invalid("date_range", low=low.isoformat(), high=high.isoformat())
    return value


def check_text(value, *, max_length: int, multiline: bool = True) -> str:
    """The text stripped of surrounding spaces; Invalid when too long or with control
    characters (tab and line breaks are allowed in multi-line text)."""
    text = "" if value is None else str(value).strip()
    pattern = _CONTROL_MULTILINE if multiline else _CONTROL_LINE
    if pattern.search(text):
        raise Invalid("control")
    if len(text) > max_length:
        raise Invalid("length", n=max_length)
    return text


def parse_email(raw) -> str:
    """A mail address as stored (domain in lower case); Invalid("email") when a mail server
    would refuse it: no line breaks, no display names, one @, a real-looking domain."""
    from email_validator import EmailNotValidError, validate_email

    text = check_text(raw, max_length=200, multiline=False) if raw is not None else ""
    if not text:
        return ""
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise Invalid("email") from None


def column_length(attribute) -> int:
    """The length of a String column (its size in the database)."""
    return attribute.property.columns[0].type.length
