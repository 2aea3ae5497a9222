"""Deadlines: which date a cycle's current stage is due, after extensions and holidays."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.calendar import previous_business_day
from app.models import Cycle, FiscalYearSchedule, Stage

from .labels import state_info


def schedule_for(session: Session, fiscal_year: int) -> FiscalYearSchedule:
    """The secretariat's schedule of the year, or the default calendar (not added)."""
    stored = session.scalar(
        select(FiscalYearSchedule).where(FiscalYearSchedule.fiscal_year == fiscal_year)
    )
    return stored or FiscalYearSchedule.defaults(fiscal_year)


def year_locked(session: Session, fiscal_year: int) -> bool:
    """Whether the secretariat has locked (確定) the fiscal year: nothing in it may change."""
    locked_at = session.scalar(
        select(FiscalYearSchedule.locked_at).where(FiscalYearSchedule.fiscal_year == fiscal_year)
    )
    return locked_at is not None


def stage_of(state: str) -> Stage | None:
    """The stage whose deadline a state waits on (None for closed, suspended, ...)."""
    stage = state_info(state).get("stage")
    return Stage(stage) if stage else None


def adjusted(day: date) -> date:
    """A deadline on a weekend, holiday or the year-end closure moves to the day before."""
    return previous_business_day(day)


def stage_due(cycle: Cycle, stage: Stage, schedule: FiscalYearSchedule) -> date:
    """The business-day deadline of one stage of `cycle`, honouring extensions."""
    extended = [e for e in cycle.extensions if e.stage == stage]
    if extended:
        return adjusted(extended[-1].due_on)
    return adjusted(schedule.due_for(stage))


def due_date(
    session: Session, cycle: Cycle, schedule: FiscalYearSchedule | None = None
) -> date | None:
    """The deadline of the stage the cycle is in now, or None when nothing is due."""
    stage = stage_of(cycle.state)
    if stage is None:
        return None
    schedule = schedule or schedule_for(session, cycle.fiscal_year)
    return stage_due(cycle, stage, schedule)
