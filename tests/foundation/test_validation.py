"""The shared input rules: one number parser, one date parser, one text check."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from app.validation import Invalid, check_text, parse_date, parse_id, parse_number


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("1234", Decimal(1234)),
        ("１２３４", Decimal(1234)),
        ("1,234", Decimal(1234)),
        ("１，２３４．５", Decimal("1234.5")),
        ("-0.125", Decimal("-0.125")),
        ("－３", Decimal(-3)),
        ("  42 ", Decimal(42)),
        (1234, Decimal(1234)),
        (12.5, Decimal("12.5")),
        ("", None),
        (None, None),
    ],
)
def test_numbers_are_read_alike_from_forms_and_spreadsheets(typed, value):
    assert parse_number(typed) == value


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("²", "number"),
        ("١٢٣", "number"),
        ("1e5", "number"),
        ("NaN", "number"),
        ("1,2,3", "number"),
        ("12 34", "number"),
        (float("inf"), "number"),
        (True, "number"),
        ("999999999999999.9999", "places"),
        ("1000000000000000", "too_large"),
        ("-1000000000000000", "too_large"),
        ("0.0001", "places"),
    ],
)
def test_numbers_that_would_break_a_column_or_mislead_are_refused(typed, reason):
    with pytest.raises(Invalid) as refused:
        parse_number(typed)
    assert refused.value.reason == reason
    assert "金額" in refused.value.message("金額")


def test_the_largest_number_a_column_holds_is_accepted():
    assert parse_number("999999999999999.999") == Decimal("999999999999999.999")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", 1), (str(2**31 - 1), 2**31 - 1), (str(2**31), None), (str(2**63), None), ("0", None)]
    + [("-1", None), ("²", None), ("1.5", None), ("x", None), ("", None)],
)
def test_ids_beyond_a_32_bit_column_are_no_ids(raw, expected):
    assert parse_id(raw) == expected


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("2026-09-30", date(2026, 9, 30)),
        ("2026/9/30", date(2026, 9, 30)),
        ("２０２６年９月３０日", date(2026, 9, 30)),
        ("2026.09.30", date(2026, 9, 30)),
        (datetime(2027, 4, 1, 0, 0), date(2027, 4, 1)),
        (date(2027, 4, 1), date(2027, 4, 1)),
        ("", None),
    ],
)
def test_dates_are_read_alike_from_forms_and_spreadsheets(typed, value):
    assert parse_date(typed) == value


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("2026-02-30", "date"),
        ("30/09/2026", "date"),
        ("tomorrow", "date"),
        ("99999-01-01", "date"),
        ("1899-12-31", "date_range"),
        ("2999-01-01", "date_range"),
    ],
)
def test_impossible_dates_are_refused(typed, reason):
    with pytest.raises(Invalid) as refused:
        parse_date(typed)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    "text", ["NUL\x00here", "bell\x07", "esc\x1b[31m", "del\x7f", "\ud800lone surrogate"]
)
def test_control_characters_are_refused(text):
    with pytest.raises(Invalid) as refused:
        check_text(text, max_length=100)
    assert refused.value.reason == "control"


def test_line_breaks_are_text_in_a_paragraph_but_not_in_a_one_line_field():
    assert check_text("一行目\r\n二行目\tタブ", max_length=100) == "一行目\r\n二行目\tタブ"
    with pytest.raises(Invalid):
        check_text("kacho@city.example.jp\r\nBcc: x@y.jp", max_length=100, multiline=False)


def test_text_longer_than_its_column_is_refused_by_characters_not_bytes():
    assert check_text("あ" * 100, max_length=100) == "あ" * 100
    with pytest.raises(Invalid) as refused:
        check_text("あ" * 101, max_length=100)
    assert refused.value.reason == "length"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "＝", "＋", "－", "＠"])
def test_exported_cells_that_would_start_a_formula_are_quoted(start):
    import io

    from openpyxl import load_workbook

    from app.exports import to_csv, to_xlsx

    cell = f'{start}HYPERLINK("http://evil.example")'
    assert (
        to_csv(["目標"], [[cell]])
        .decode("utf-8-sig")
        .splitlines()[1]
        .startswith(("'" + start, "\"'" + start))
    )
    stored = load_workbook(io.BytesIO(to_xlsx("一覧", ["目標"], [[cell]]))).active["A2"].value
    assert stored == "'" + cell
