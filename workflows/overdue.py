"""Which cycles are overdue: a fiscal year's deadlines as SQL, whatever the number of cycles.

The rule is the one of `workflows.deadlines` and `workflows.rules.is_overdue` (past the
business-day deadline of the cycle's stage, honouring extensions), turned into WHERE
clauses so that the dashboard, the stuck list, the daily snapshot and the exports count
in a fixed number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session, selectinload

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

    def stage_due(self, version: str, state: str) -> date | None:
        """The (business-day) deadline of the state's stage, before extensions."""
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
        """A WHERE clause true for the cycles past their stage's deadline today."""
        late = [
            (version, state)
            for version, state in states
            if (due := self.stage_due(version, state)) is not None and due < self.today
        ]
        base = states_clause(late)
        if not self.extended:
            return base
        late_extended = [cid for cid, due in self.extended.items() if due < self.today]
        ids = list(self.extended)
        return or_(
            and_(base, Cycle.id.not_in(ids)),
            Cycle.id.in_(late_extended) if late_extended else false(),
        )


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
    """The (definition version, state) pairs the year's cycles are in."""
    rows = session.execute(
        select(Cycle.definition_version, Cycle.state)
        .where(Cycle.fiscal_year == fiscal_year)
        .distinct()
    )
    return [(version, state) for version, state in rows]


def open_states(states: list[VersionState]) -> list[VersionState]:
    """The pairs in which the cycle waits on a deadline."""
    known = versions_in()
    return [
        (version, state)
        for version, state in states
        if version in known and known[version].stage_of(state) is not None
    ]
