"""The secretariat's daily count of open and overdue cycles, for its chart over the year."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.calendar import fiscal_year_of
from app.models import Cycle, OverdueSnapshot
from workflows.overdue import (
    fiscal_years,
    load_deadlines,
    open_states,
    states_clause,
    states_of_year,
)


def snapshot_overdue(session: Session, today: date) -> list[OverdueSnapshot]:
    """Record today's open and overdue counts of every fiscal year still moving (idempotent).

    The scheduler calls it daily; a second call on the same day, or one running at the
    same moment, updates the same rows (INSERT ... ON CONFLICT DO UPDATE).
    """
    years = fiscal_years(session)
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
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
        insert = module.insert(OverdueSnapshot).values(
            fiscal_year=fiscal_year, taken_on=today, open_count=open_count, overdue_count=overdue
        )
        session.execute(
            insert.on_conflict_do_update(
                index_elements=["fiscal_year", "taken_on"],
                set_={"open_count": open_count, "overdue_count": overdue},
            )
        )
        taken.append(fiscal_year)
    if not taken:
        return []
    return list(
        session.scalars(
            select(OverdueSnapshot)
            .where(OverdueSnapshot.taken_on == today, OverdueSnapshot.fiscal_year.in_(taken))
            .order_by(OverdueSnapshot.fiscal_year)
            .execution_options(populate_existing=True)
        )
    )
