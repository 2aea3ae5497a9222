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


def queue_nudge(session, user, now: datetime, key: str):
    """One nudge mail for `user` in the outbox (flushed), with a unique dedupe key."""
    from app.outbox import enqueue

    context = {
        "item_id": 7,
        "item_number": "2-3",
        "item_title": "公共施設の再配置",
        "fiscal_year_label": "令和8年度",
        "state_label": "計画作成中",
        "stage_label": "計画",
        "message": "至急ご確認ください。",
        "sender_name": "事務局 一郎",
    }
    return enqueue(session, kind="nudge", recipient=user, context=context, now=now, dedupe_key=key)
