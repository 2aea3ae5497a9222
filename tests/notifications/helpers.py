"""Small helpers shared by the notification tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from app.calendar import TOKYO


def at(day: date | str, hour: int = 9) -> datetime:
    """`day` at `hour` o'clock in Tokyo (aware)."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime(day.year, day.month, day.day, hour, tzinfo=TOKYO)


def days(first: str, last: str):
    """Every date from `first` to `last`, inclusive."""
    day, end = date.fromisoformat(first), date.fromisoformat(last)
    while day <= end:
        yield day
        day += timedelta(days=1)
