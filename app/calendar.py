"""The city's calendar: fiscal years, 和暦 labels and business days.

Japanese public holidays come from the maintained `holidays` package; the year-end
closure (29 December to 3 January) is the city's own rule.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

TOKYO = ZoneInfo("Asia/Tokyo")

# (first day, era name in Japanese, in English); newest first.
ERAS = (
    (date(2019, 5, 1), "令和", "Reiwa"),
    (date(1989, 1, 8), "平成", "Heisei"),
    (date(1926, 12, 25), "昭和", "Showa"),
)


def local_date(moment: datetime) -> date:
    """The calendar date in Tokyo of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one")
    return moment.astimezone(TOKYO).date()


def tokyo_midnight(day: date) -> datetime:
    """The start of `day` in Tokyo, as an aware UTC datetime (bounds of a day in SQL)."""
    return datetime(day.year, day.month, day.day, tzinfo=TOKYO).astimezone(UTC)


def fiscal_year_of(day: date | datetime) -> int:
    """The fiscal year (年度) a date belongs to: 1 April to 31 March."""
    if isinstance(day, datetime):
        day = local_date(day)
    return day.year if day.month >= 4 else day.year - 1


def fiscal_year_bounds(fiscal_year: int) -> tuple[date, date]:
    return date(fiscal_year, 4, 1), date(fiscal_year + 1, 3, 31)


def era_of(day: date) -> tuple[str, str, int]:
    """The era (Japanese name, English name) and the year within it."""
    for start, ja, en in ERAS:
        if day >= start:
            return ja, en, day.year - start.year + 1
    raise ValueError(f"{day} is before the eras Kaikaku knows")


def _year_label(era: str, year: int) -> str:
    return f"{era}{'元' if year == 1 else year}"


def wareki_fiscal_year(fiscal_year: int, locale: str = "ja") -> str:
    """令和8年度 for 2026.

    The era is the one in force when the fiscal year ends, counted from the calendar year
    in which it starts: FY2019 (April 2019 to March 2020) is 令和元年度.
    """
    if locale.startswith("en"):
        return f"FY{fiscal_year}"
    ja, _en, _ = era_of(date(fiscal_year + 1, 3, 31))
    start = next(s for s, name, _ in ERAS if name == ja)
    return f"{_year_label(ja, fiscal_year - start.year + 1)}年度"


def wareki_date(day: date) -> str:
    """令和8年4月30日."""
    ja, _en, year = era_of(day)
    return f"{_year_label(ja, year)}年{day.month}月{day.day}日"


def format_date(day: date, locale: str = "ja", wareki: bool = False) -> str:
    if locale.startswith("en"):
        return day.isoformat()
    if wareki:
        return wareki_date(day)
    return f"{day.year}年{day.month}月{day.day}日"


@lru_cache(maxsize=64)
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=year, language="ja")


def holiday_name(day: date) -> str | None:
    """The public holiday's name, 年末年始 for the closure, or None."""
    name = _holidays(day.year).get(day)
    if name:
        return name
    if (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3):
        return "年末年始"
    return None


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and holiday_name(day) is None


def previous_business_day(day: date) -> date:
    """`day` itself when it is a business day, else the last one before it."""
    while not is_business_day(day):
        day -= timedelta(days=1)
    return day


def add_business_days(day: date, count: int) -> date:
    """The date `count` business days after `day` (before it when negative)."""
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    while remaining:
        day += timedelta(days=step)
        if is_business_day(day):
            remaining -= 1
    return day


@lru_cache(maxsize=8192)
def business_days_between(start: date, end: date) -> int:
    """Business days after `start` up to and including `end` (0 when end <= start)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_business_day(day):
            count += 1
    return count
