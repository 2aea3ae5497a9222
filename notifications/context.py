"""What the mail templates know about a cycle: item, fiscal year (和暦), state, deadline."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy.orm import Session

from app.calendar import local_date, wareki_date, wareki_fiscal_year
from app.models import Cycle, Section
from workflows.deadlines import schedule_for, stage_due
from workflows.definition import Definition
from workflows.registry import definition_of
from workflows.rules import days_overdue

WEEKDAYS = "月火水木金土日"


def day_label(day: date) -> str:
    """令和8年4月30日（木）."""
    return f"{wareki_date(day)}（{WEEKDAYS[day.weekday()]}）"


def mail_context(cycle: Cycle, stage: str | None, due: date | None, today: date) -> dict:
    """The cycle's fields for a mail about its current stage and deadline."""
    item = cycle.item
    section: Section = item.owning_section
    return facts_context(
        definition_of(cycle),
        CycleFacts(
            cycle.id,
            cycle.version,
            cycle.state,
            cycle.fiscal_year,
            item.id,
            item.number,
            item.title,
            section.name,
            section.department.name,
        ),
        stage,
        due,
        today,
    )


class CycleFacts(NamedTuple):
    """What a mail says about a cycle, as one row of a query can carry it."""

    cycle_id: int
    version: int
    state: str
    fiscal_year: int
    item_id: int
    item_number: str
    item_title: str
    section: str
    department: str


def facts_context(
    definition: Definition, facts: CycleFacts, stage: str | None, due: date | None, today: date
) -> dict:
    """`mail_context` from a row's facts (the scheduler's set-based passes)."""
    return {
        "cycle_id": facts.cycle_id,
        "version": facts.version,
        "item_id": facts.item_id,
        "item_number": facts.item_number,
        "item_title": facts.item_title,
        "department": facts.department,
        "section": facts.section,
        "fiscal_year": facts.fiscal_year,
        "fiscal_year_label": wareki_fiscal_year(facts.fiscal_year),
        **_state_part(definition, facts.state, stage),
        **_due_part(due, today),
    }


@lru_cache(maxsize=256)
def _state_part(definition: Definition, state_name: str, stage: str | None) -> dict:
    state = definition.state(state_name)
    actor = state.actor if state else None
    return {
        "state": state_name,
        "state_label": definition.state_label(state_name),
        "stage": stage or "",
        "stage_label": definition.stages[stage].ja if stage in definition.stages else "",
        "actor": actor or "",
        "actor_label": definition.roles[actor].ja if actor else "",
        "decides": state_name in definition.deciding_states,
    }


@lru_cache(maxsize=1024)
def _due_part(due: date | None, today: date) -> dict:
    return {
        "due_on": due.isoformat() if due else "",
        "due_label": day_label(due) if due else "",
        "days_left": (due - today).days if due else 0,
        "days_overdue": days_overdue(due, today) if due else 0,
    }


def cycle_context(session: Session, cycle: Cycle, now: datetime) -> dict:
    """The mail context of a cycle at `now`, its current stage's deadline included."""
    today = local_date(now)
    stage = definition_of(cycle).stage_of(cycle.state)
    if stage is None:
        return mail_context(cycle, None, None, today)
    due = stage_due(cycle, stage, schedule_for(session, cycle.fiscal_year))
    return mail_context(cycle, stage, due, today)
