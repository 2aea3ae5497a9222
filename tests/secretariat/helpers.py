"""Building blocks shared by the secretariat, committee and admin tests."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

from sqlalchemy import insert

from app.models import Cycle, ReformItem

PAST_FY = 2020  # every deadline of this year has passed
FUTURE_FY = 2090  # no deadline of this year has come
_numbers = itertools.count(1)


def at(day: date, hour: int = 3) -> datetime:
    """Noon in Tokyo on `day`, as aware UTC."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def bulk_cycles(
    session,
    section_id: int,
    count: int,
    *,
    fiscal_year: int,
    state: str = "plan_draft",
    since: datetime | None = None,
    plan_id: int,
    viewpoint_id: int,
) -> None:
    """Insert `count` items with one cycle each, fast (two executemany statements)."""
    # Statements, not rows: executemany with RETURNING keeps this fast for thousands.
    item_ids = session.scalars(
        insert(ReformItem).returning(ReformItem.id, sort_by_parameter_order=True),
        [
            {
                "plan_id": plan_id,
                "viewpoint_id": viewpoint_id,
                "number": f"B-{next(_numbers)}",
                "title": f"一括項目{i}",
                "purpose": "",
                "content": "",
                "owning_section_id": section_id,
                "status": "active",
            }
            for i in range(count)
        ],
    ).all()
    since = since or datetime(2020, 4, 1, tzinfo=UTC)
    session.execute(
        insert(Cycle),
        [
            {
                "item_id": item_id,
                "owning_section_id": section_id,
                "fiscal_year": fiscal_year,
                "state": state,
                "definition_version": "2026.1",
                "version": 1,
                "state_since": since,
                "opened_at": since,
                "goal": "",
                "schedule_q1": "",
                "schedule_q2": "",
                "schedule_q3": "",
                "schedule_q4": "",
                "carried_over": "",
                "analysis": "",
                "issues": "",
                "improvement": "",
            }
            for item_id in item_ids
        ],
    )
    session.flush()
