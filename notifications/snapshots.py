"""The secretariat's daily count of open and overdue cycles, for its chart over the year."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.calendar import fiscal_year_of
from app.models import Cycle, OverdueSnapshot
from workflows.overdue import load_deadlines, open_states, states_clause, states_of_year


def snapshot_overdue(session: Session, today: date) -> list[OverdueSnapshot]:
    """Record today's open and overdue counts of every fiscal year still moving (idempotent).

    The scheduler calls it daily; a second call on the same day updates the same rows.
    """
    years = sorted(set(session.scalars(select(Cycle.fiscal_year).distinct())))
    taken = []
    for fiscal_year in years:
        if fiscal_year > fiscal_year_of(today):
            continue
        states = states_of_year(session, fiscal_year)
        waiting = open_states(states)
        if not waiting:
            continue
        deadlines = load_deadlines(session, fiscal_year, today)
        base = select(func.count(Cycle.id)).where(
            Cycle.fiscal_year == fiscal_year, states_clause(waiting)
        )
        open_count = session.scalar(base) or 0
        overdue = session.scalar(base.where(deadlines.overdue_clause(states))) or 0
        row = session.scalar(
            select(OverdueSnapshot).where(
                OverdueSnapshot.fiscal_year == fiscal_year, OverdueSnapshot.taken_on == today
            )
        )
        if row is None:
            row = OverdueSnapshot(fiscal_year=fiscal_year, taken_on=today)
            session.add(row)
        row.open_count, row.overdue_count = open_count, overdue
        taken.append(row)
    session.flush()
    return taken
