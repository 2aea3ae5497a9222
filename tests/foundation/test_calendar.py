from datetime import UTC, date, datetime

import pytest

from app.calendar import (
    add_business_days,
    business_days_between,
    fiscal_year_of,
    holiday_name,
    is_business_day,
    previous_business_day,
    wareki_date,
    wareki_fiscal_year,
)


@pytest.mark.parametrize(
    ("day", "fiscal_year"),
    [
        (date(2026, 4, 1), 2026),
        (date(2026, 3, 31), 2025),
        (date(2027, 3, 31), 2026),
        (date(2026, 12, 31), 2026),
    ],
)
def test_fiscal_year_starts_on_1_april(day, fiscal_year):
    assert fiscal_year_of(day) == fiscal_year


def test_fiscal_year_of_a_moment_is_taken_in_tokyo():
    # 31 March 2026 16:00 UTC is already 1 April 01:00 in Tokyo.
    assert fiscal_year_of(datetime(2026, 3, 31, 16, 0, tzinfo=UTC)) == 2026
    assert fiscal_year_of(datetime(2026, 3, 31, 14, 0, tzinfo=UTC)) == 2025


@pytest.mark.parametrize(
    ("fiscal_year", "label"),
    [(2026, "令和8年度"), (2019, "令和元年度"), (2018, "平成30年度"), (2020, "令和2年度")],
)
def test_wareki_fiscal_year(fiscal_year, label):
    assert wareki_fiscal_year(fiscal_year) == label


def test_wareki_fiscal_year_in_english_is_western():
    assert wareki_fiscal_year(2026, "en") == "FY2026"


def test_wareki_date_at_the_change_of_era():
    assert wareki_date(date(2019, 4, 30)) == "平成31年4月30日"
    assert wareki_date(date(2019, 5, 1)) == "令和元年5月1日"


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 5, 4), "みどりの日"),
        (date(2026, 11, 3), "文化の日"),
        (date(2026, 12, 29), "年末年始"),
        (date(2027, 1, 3), "年末年始"),
    ],
)
def test_holidays_and_year_end_closure_are_not_business_days(day, name):
    assert name in holiday_name(day)
    assert not is_business_day(day)


def test_an_ordinary_weekday_is_a_business_day():
    assert is_business_day(date(2026, 11, 25))
    assert holiday_name(date(2026, 11, 25)) is None


@pytest.mark.parametrize(
    ("deadline", "moved_to"),
    [
        # 31 October 2026 is a Saturday.
        (date(2026, 10, 31), date(2026, 10, 30)),
        # 3 May 2026 (Sunday, 憲法記念日) up to 6 May (振替休日): back to Friday 1 May.
        (date(2026, 5, 6), date(2026, 5, 1)),
        # The year-end closure and the weekend before it.
        (date(2027, 1, 3), date(2026, 12, 28)),
        (date(2026, 4, 30), date(2026, 4, 30)),
    ],
)
def test_deadlines_move_to_the_previous_business_day(deadline, moved_to):
    assert previous_business_day(deadline) == moved_to


def test_business_day_arithmetic_skips_holidays():
    # Friday 1 May 2026 + 1 business day is Thursday 7 May (Golden Week in between).
    assert add_business_days(date(2026, 5, 1), 1) == date(2026, 5, 7)
    assert add_business_days(date(2026, 5, 7), -1) == date(2026, 5, 1)
    assert business_days_between(date(2026, 5, 1), date(2026, 5, 8)) == 2
    assert business_days_between(date(2026, 5, 8), date(2026, 5, 1)) == 0
