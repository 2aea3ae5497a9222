"""Which cycles are overdue: a fiscal year's deadlines as SQL, whatever the number of cycles.

The rule is the one of `workflows.deadlines` and `workflows.rules.is_overdue` (past the
business-day deadline of the cycle's stage, honouring extensions), turned into WHERE
clauses so that the dashboard, the stuck list, the daily snapshot and the exports count
in a fixed number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy import and_, exists, false, or_, select
from sqlalchemy.orm import Session, aliased, selectinload
from sqlalchemy.sql.elements import ColumnElement

from app.calendar import TOKYO, is_business_day
from app.models import Cycle, DeadlineExtension, FiscalYearSchedule

from .deadlines import adjusted, schedule_for, stage_due, stage_of
from .registry import versions_in

# A state as the lists see it: (definition version, state name).
VersionState = tuple[str, str]


@dataclass
class Deadlines:
    """Due dates of one fiscal year: per stage from the schedule, per cycle when extended."""

    schedule: FiscalYearSchedule
    today: date
    year: int
    by_stage: dict[str, date]
    extended: dict[int, date] = field(default_factory=dict)  # cycle id -> due of its stage
    _plain: dict[tuple[str, str], date | None] = field(default_factory=dict)

    def stage_due(self, version: str, state: str) -> date | None:
        """The (business-day) deadline of the state's stage, before extensions."""
        key = (version, state)
        if key not in self._plain:
            self._plain[key] = self._stage_due(version, state)
        return self._plain[key]

    def _stage_due(self, version: str, state: str) -> date | None:
        definition = versions_in().get(version)
        stage = definition.stage_of(state) if definition else None
        if stage is None:
            return None
        if stage not in self.by_stage:
            self.by_stage[stage] = adjusted(definition.stages[stage].default_due(self.year))
        return self.by_stage[stage]

    def due(self, cycle: Cycle) -> date | None:
        plain = self.stage_due(cycle.definition_version, cycle.state)
        if plain is None:
            return None
        return self.extended.get(cycle.id, plain)

    def overdue_clause(self, states: list[VersionState]):
        """A WHERE clause true for the cycles past their stage's deadline today.

        Cycles whose stage was extended are judged by their latest extension, through a
        subquery: the clause has a few parameters per stage, never one per cycle.
        """
        by_stage: dict[tuple[str, date], list[VersionState]] = {}
        for version, state in states:
            due = self.stage_due(version, state)
            if due is not None:
                stage = versions_in()[version].stage_of(state)
                by_stage.setdefault((stage, due), []).append((version, state))
        # adjusted(x) < today exactly when x is before the first business day from today on.
        first_open = next_business_day(self.today)
        parts = []
        for (stage, due), pairs in by_stage.items():
            plain = ~extension_clause(stage) if due < self.today else false()
            parts.append(
                and_(states_clause(pairs), or_(plain, extension_clause(stage, before=first_open)))
            )
        return or_(*parts) if parts else false()


def next_business_day(day: date) -> date:
    """`day` itself when it is a business day, else the first one after it."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


# Made once: an ORM alias costs milliseconds to build and adapt, and the clauses below are
# used several times per page.
_EXTENSION = aliased(DeadlineExtension, name="extension")
_LATER_EXTENSION = aliased(DeadlineExtension, name="later_extension")


@lru_cache(maxsize=512)
def extension_clause(stage: str, *, due_on: date | None = None, before: date | None = None):
    """Cycles whose latest extension of `stage` exists (moved to `due_on`, or before
    `before`): the rule of `deadlines.stage_due` as a correlated subquery (built once per
    stage and day: a SQL expression is never changed once made, so it is shared)."""
    ext, later = _EXTENSION, _LATER_EXTENSION
    newer = exists().where(
        later.cycle_id == ext.cycle_id,
        later.stage == ext.stage,
        or_(
            later.created_at > ext.created_at,
            and_(later.created_at == ext.created_at, later.id > ext.id),
        ),
    )
    conditions = [ext.cycle_id == Cycle.id, ext.stage == stage, ~newer]
    if due_on is not None:
        conditions.append(ext.due_on == due_on)
    if before is not None:
        conditions.append(ext.due_on < before)
    return exists().where(*conditions)


def local_day(column, dialect: str) -> ColumnElement[date]:
    """The Tokyo calendar date of a UTC timestamp column, computed by the database."""
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone(TOKYO.key, column), sa.Date)
    # SQLite keeps UTC as text; Japan has had no daylight saving time since 1951.
    return sa.type_coerce(sa.func.date(column, "+9 hours"), sa.Date)


def load_deadlines(session: Session, fiscal_year: int, today: date) -> Deadlines:
    """The year's deadlines in two or three queries, whatever the number of cycles."""
    schedule = schedule_for(session, fiscal_year)
    by_stage = {d.stage: adjusted(d.due_on) for d in schedule.deadlines}
    extended_cycles = session.scalars(
        select(Cycle)
        .where(Cycle.fiscal_year == fiscal_year, Cycle.id.in_(select(DeadlineExtension.cycle_id)))
        .options(selectinload(Cycle.extensions))
    ).all()
    extended = {}
    for cycle in extended_cycles:
        stage = stage_of(cycle)
        if stage is not None and any(e.stage == stage for e in cycle.extensions):
            extended[cycle.id] = stage_due(cycle, stage, schedule)
    return Deadlines(schedule, today, fiscal_year, by_stage, extended)


def states_clause(states: list[VersionState]):
    """Cycles in one of these (version, state) pairs."""
    by_version: dict[str, list[str]] = {}
    for version, state in states:
        by_version.setdefault(version, []).append(state)
    if not by_version:
        return false()
    return or_(
        *(
            and_(Cycle.definition_version == version, Cycle.state.in_(names))
            for version, names in by_version.items()
        )
    )


def states_of_year(session: Session, fiscal_year: int) -> list[VersionState]:
    """The (definition version, state) pairs the year's cycles are in.

    One statement asking, for each state of each known definition, whether a cycle of the
    year is in it: an index probe each, instead of reading every cycle of the year.
    """
    probes = [
        select(
            sa.literal(version, sa.String).label("version"),
            sa.literal(state, sa.String).label("state"),
        ).where(
            exists().where(
                Cycle.fiscal_year == fiscal_year,
                Cycle.definition_version == version,
                Cycle.state == state,
            )
        )
        for version, definition in sorted(versions_in().items())
        for state in definition.states
    ]
    return [(version, state) for version, state in session.execute(sa.union_all(*probes))]


def fiscal_years(session: Session) -> list[int]:
    """The fiscal years that have cycles, ascending (an index skip over the years)."""
    rows = session.execute(
        sa.text(
            "WITH RECURSIVE years(fy) AS ("
            " SELECT min(fiscal_year) FROM cycle"
            " UNION ALL"
            " SELECT (SELECT min(fiscal_year) FROM cycle WHERE fiscal_year > years.fy)"
            " FROM years WHERE years.fy IS NOT NULL"
            ") SELECT fy FROM years WHERE fy IS NOT NULL"
        )
    )
    return [fy for (fy,) in rows]


def open_states(states: list[VersionState]) -> list[VersionState]:
    """The pairs in which the cycle waits on a deadline."""
    known = versions_in()
    return [
        (version, state)
        for version, state in states
        if version in known and known[version].stage_of(state) is not None
    ]
