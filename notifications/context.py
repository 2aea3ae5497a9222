"""What the mail templates know about a cycle: item, fiscal year (和暦), state, deadline."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from app.calendar import local_date, wareki_date, wareki_fiscal_year
from app.models import Cycle, Section
from workflows.deadlines import schedule_for, stage_due
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
    definition = definition_of(cycle)
    state = definition.state(cycle.state)
    actor = state.actor if state else None
    return {
        "cycle_id": cycle.id,
        "version": cycle.version,
        "item_id": item.id,
        "item_number": item.number,
        "item_title": item.title,
        "department": section.department.name,
        "section": section.name,
        "fiscal_year": cycle.fiscal_year,
        "fiscal_year_label": wareki_fiscal_year(cycle.fiscal_year),
        "state": cycle.state,
        "state_label": definition.state_label(cycle.state),
        "stage": stage or "",
        "stage_label": definition.stages[stage].ja if stage in definition.stages else "",
        "actor": actor or "",
        "actor_label": definition.roles[actor].ja if actor else "",
        "decides": cycle.state in definition.deciding_states,
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
