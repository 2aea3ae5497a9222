"""Deadlines: which date a cycle's current stage is due, after extensions and holidays.

A stage's deadline is, in this order: the cycle's latest extension for that stage, the date
the secretariat set in the year's schedule, or the default the cycle's own definition
declares for the stage. A date on a weekend, a public holiday or the year-end closure moves
to the business day before.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.calendar import previous_business_day
from app.models import Cycle, FiscalYearSchedule
from app.models.schedule import default_reminder_days

from .definition import Definition
from .memo import remembered
from .registry import definition_of, get_definition


def default_schedule(fiscal_year: int, definition: Definition | None = None) -> FiscalYearSchedule:
    """The definition's calendar for `fiscal_year` (not added to any session)."""
    definition = definition or get_definition()
    nxt = fiscal_year + 1
    schedule = FiscalYearSchedule(
        fiscal_year=fiscal_year,
        committee_from=date(nxt, 7, 1),
        committee_to=date(nxt, 8, 31),
        publication_on=date(nxt, 9, 30),
        reminder_days=default_reminder_days(),
        escalate_head_after=3,
        escalate_secretariat_after=10,
        escalation_repeat_days=7,
    )
    for name, stage in definition.stages.items():
        schedule.set_due(name, stage.default_due(fiscal_year))
    return schedule


def stored_schedule(session: Session, fiscal_year: int) -> FiscalYearSchedule | None:
    return remembered(
        session,
        ("schedule", fiscal_year),
        lambda: (
            session.scalars(
                select(FiscalYearSchedule)
                .where(FiscalYearSchedule.fiscal_year == fiscal_year)
                .options(joinedload(FiscalYearSchedule.deadlines))
            )
            .unique()
            .first()
        ),
    )


def schedule_for(session: Session, fiscal_year: int) -> FiscalYearSchedule:
    """The secretariat's schedule of the year, or the default calendar (not added)."""
    return stored_schedule(session, fiscal_year) or default_schedule(fiscal_year)


def year_locked(session: Session, fiscal_year: int) -> bool:
    """Whether the secretariat has locked (確定) the fiscal year: nothing in it may change."""
    schedule = stored_schedule(session, fiscal_year)
    return schedule is not None and schedule.locked_at is not None


def stage_of(cycle: Cycle) -> str | None:
    """The stage whose deadline the cycle waits on now (None when closed, halted ...)."""
    return definition_of(cycle).stage_of(cycle.state)


def adjusted(day: date) -> date:
    """A deadline on a weekend, holiday or the year-end closure moves to the day before."""
    return previous_business_day(day)


def scheduled_due(cycle: Cycle, stage: str, schedule: FiscalYearSchedule) -> date:
    """The stage's date before extensions: the schedule's, else the cycle definition's."""
    set_on = schedule.due_for(stage)
    if set_on is not None:
        return set_on
    return definition_of(cycle).stages[stage].default_due(cycle.fiscal_year)


def stage_due(cycle: Cycle, stage: str, schedule: FiscalYearSchedule) -> date:
    """The business-day deadline of one stage of `cycle`, honouring extensions."""
    extended = [e for e in cycle.extensions if e.stage == stage]
    if extended:
        return adjusted(extended[-1].due_on)
    return adjusted(scheduled_due(cycle, stage, schedule))


def due_date(
    session: Session, cycle: Cycle, schedule: FiscalYearSchedule | None = None
) -> date | None:
    """The deadline of the stage the cycle is in now, or None when nothing is due."""
    stage = stage_of(cycle)
    if stage is None:
        return None
    schedule = schedule or schedule_for(session, cycle.fiscal_year)
    return stage_due(cycle, stage, schedule)
