"""What the secretariat watches: the department x stage matrix and the stuck-items list.

Counts are aggregated in SQL; deadlines are computed once per (fiscal year, stage) from the
schedule, plus the few cycles with an extension, so the number of queries does not depend on
the number of items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.calendar import business_days_between, local_date
from app.models import (
    AuditEntry,
    Cycle,
    Department,
    FiscalYearSchedule,
    Grade,
    Post,
    PostAssignment,
    ReformItem,
    Role,
    Section,
    User,
    Viewpoint,
)
from app.text import _, current_locale
from app.validation import parse_fiscal_year, parse_id
from workflows.deadlines import stage_of
from workflows.overdue import (
    Deadlines,
    VersionState,
    open_states,
    states_clause,
)
from workflows.registry import get_definition, versions_in
from workflows.rules import days_overdue

# Matrix columns after the stages: ended years (closed, abolished), everything else.
TAIL_COLUMNS = ("ended", "other")
# A state's name in a workflow definition (anything else in a query string is ignored).
_STATE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}", re.ASCII)
SORTS = ("since", "number", "department", "activity", "grade")
PAGE_SIZE = 50


def can_view_console(user: User) -> bool:
    return user.is_authenticated and (user.has_role(Role.SECRETARIAT) or user.has_role(Role.ADMIN))


def can_act(user: User) -> bool:
    """Only the secretariat acts; administrators may look."""
    return user.is_authenticated and user.has_role(Role.SECRETARIAT)


def columns() -> tuple[str, ...]:
    """The matrix's columns: the stages the workflow declares, then closed and other."""
    stages: list[str] = []
    for definition in versions_in().values():
        stages += [s for s in definition.stages if s not in stages]
    return (*stages, *TAIL_COLUMNS)


def column_of(version: str, state: str) -> str:
    definition = versions_in().get(version) or get_definition()
    stage = definition.stage_of(state)
    if stage is not None:
        return stage
    found = definition.state(state)
    return "ended" if found is not None and found.final else "other"


def column_label(column: str) -> str:
    if column == "ended":
        return _("年度完了・廃止")
    if column == "other":
        return _("休止ほか")
    for definition in (get_definition(), *versions_in().values()):
        if column in definition.stages:
            return definition.stages[column].label(current_locale())
    return column


@dataclass(frozen=True)
class Filters:
    """What the secretariat narrows the lists to; every field maps to a query argument."""

    fiscal_year: int
    viewpoint: int | None = None
    department: int | None = None
    state: str | None = None
    column: str | None = None
    grade: str | None = None
    overdue: bool = False
    stuck: bool = False
    stuck_days: int = 30
    sort: str = "since"
    page: int = 1

    @classmethod
    def from_args(cls, args, default_fy: int) -> Filters:
        def integer(name: str) -> int | None:
            return parse_id(args.get(name))

        column = args.get("stage") or None
        state = args.get("state") or None
        grade = args.get("grade") or None
        sort = args.get("sort") or "since"
        return cls(
            fiscal_year=parse_fiscal_year(args.get("fy")) or default_fy,
            viewpoint=integer("viewpoint"),
            department=integer("department"),
            state=state if state and _STATE_NAME.fullmatch(state) else None,
            column=column if column in columns() else None,
            grade=grade if grade in {g.value for g in Grade} else None,
            overdue=args.get("overdue") == "1",
            stuck=args.get("stuck") == "1",
            stuck_days=min(max(integer("days") or 30, 1), 365),
            sort=sort if sort in SORTS else "since",
            page=max(integer("page") or 1, 1),
        )

    def args(self, **changes) -> dict:
        """Query arguments for a link to the list with these filters (and `changes`)."""
        f = replace(self, **changes)
        out = {"fy": f.fiscal_year}
        for key, value in (
            ("viewpoint", f.viewpoint),
            ("department", f.department),
            ("state", f.state),
            ("stage", f.column),
            ("grade", f.grade),
        ):
            if value:
                out[key] = value
        if f.overdue:
            out["overdue"] = 1
        if f.stuck:
            out["stuck"] = 1
            out["days"] = f.stuck_days
        if f.sort != "since":
            out["sort"] = f.sort
        if f.page > 1:
            out["page"] = f.page
        return out


def _base(filters: Filters):
    """The cycles of the year with the filters other than overdue/stuck applied."""
    query = (
        select(Cycle)
        .join(ReformItem, Cycle.item_id == ReformItem.id)
        .join(Section, ReformItem.owning_section_id == Section.id)
        .where(Cycle.fiscal_year == filters.fiscal_year)
    )
    if filters.viewpoint:
        query = query.where(ReformItem.viewpoint_id == filters.viewpoint)
    if filters.department:
        query = query.where(Section.department_id == filters.department)
    if filters.state:
        query = query.where(Cycle.state == filters.state)
    if filters.grade:
        query = query.where(Cycle.grade == Grade(filters.grade))
    return query


def stuck_clause(filters: Filters, deadlines: Deadlines, states: list[VersionState], now: datetime):
    """In the same state longer than the threshold, or overdue; only cycles still moving."""
    since = now - timedelta(days=filters.stuck_days)
    return and_(
        states_clause(open_states(states)),
        or_(Cycle.state_since < since, deadlines.overdue_clause(states)),
    )


def _narrowed(
    query, filters: Filters, deadlines: Deadlines, states: list[VersionState], now: datetime
):
    if filters.column:
        query = query.where(states_clause([p for p in states if column_of(*p) == filters.column]))
    if filters.overdue:
        query = query.where(deadlines.overdue_clause(states))
    if filters.stuck:
        query = query.where(stuck_clause(filters, deadlines, states, now))
    return query


@dataclass
class MatrixRow:
    department: Department
    counts: dict[str, int]
    overdue: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def total_overdue(self) -> int:
        return sum(self.overdue.values())


def matrix(
    session: Session, filters: Filters, deadlines: Deadlines, states: list[VersionState]
) -> list[MatrixRow]:
    """Departments x stage: how many cycles, and how many of them overdue (2 queries + 1)."""
    base = _base(replace(filters, column=None))
    grouped = base.with_only_columns(
        Section.department_id, Cycle.definition_version, Cycle.state, func.count(Cycle.id)
    )
    grouped = grouped.group_by(Section.department_id, Cycle.definition_version, Cycle.state)
    counts = session.execute(grouped).all()
    late = session.execute(grouped.where(deadlines.overdue_clause(states))).all()
    departments = session.scalars(
        select(Department)
        .where(Department.active.is_(True))
        .order_by(Department.position, Department.code)
    ).all()
    shown = columns()
    rows = {
        d.id: MatrixRow(d, dict.fromkeys(shown, 0), dict.fromkeys(shown, 0)) for d in departments
    }
    if filters.department:
        rows = {k: v for k, v in rows.items() if k == filters.department}
    for target, result in (("counts", counts), ("overdue", late)):
        for department_id, version, state, number in result:
            if department_id in rows:
                column = column_of(version, state)
                cells = getattr(rows[department_id], target)
                cells[column] = cells.get(column, 0) + number
    return list(rows.values())


@dataclass
class ListedCycle:
    """One row of the stuck/overdue list, with what the secretariat needs to decide."""

    cycle: Cycle
    due: date | None
    days_overdue: int
    escalation: str
    last_activity: datetime | None
    must_act: list[User]


def escalation_label(
    cycle: Cycle, due: date | None, today: date, schedule: FiscalYearSchedule
) -> str:
    """Which level an overdue item has reached under the year's escalation offsets: the
    role it has been escalated to, as the scheduler counts (business days from
    max(deadline, the day the state began))."""
    if due is None or today <= due:
        return ""
    definition = versions_in().get(cycle.definition_version) or get_definition()
    state = definition.state(cycle.state)
    clock = max(due, local_date(cycle.state_since))
    days = business_days_between(clock, today)
    for level in ("second", "first"):
        role = definition.escalation.get(level)
        applies = state is not None and level in state.escalate
        if role and applies and days >= schedule.escalation_after(level):
            return definition.roles[role].label(current_locale())
    return _("担当者")


_SORT_COLUMNS = {
    "since": (Cycle.state_since.asc(),),
    "number": (ReformItem.number.asc(),),
    "department": (Section.department_id.asc(), ReformItem.number.asc()),
    "grade": (Cycle.grade.asc(), ReformItem.number.asc()),
}


def list_cycles(
    session: Session,
    filters: Filters,
    deadlines: Deadlines,
    states: list[VersionState],
    now: datetime,
    *,
    limit: int | None = PAGE_SIZE,
) -> tuple[list[ListedCycle], int]:
    """One page of the filtered cycles (all of them when `limit` is None) and the total."""
    from workflows.permissions import who_must_act

    query = _narrowed(_base(filters), filters, deadlines, states, now)
    total = session.scalar(query.with_only_columns(func.count(Cycle.id)).order_by(None))
    activity = (
        select(AuditEntry.cycle_id, func.max(AuditEntry.at).label("last_at"))
        .where(AuditEntry.cycle_id.is_not(None))
        .group_by(AuditEntry.cycle_id)
        .subquery()
    )
    query = query.outerjoin(activity, activity.c.cycle_id == Cycle.id).add_columns(
        activity.c.last_at
    )
    if filters.sort == "activity":
        query = query.order_by(activity.c.last_at.asc().nulls_first(), Cycle.id)
    else:
        query = query.order_by(*_SORT_COLUMNS[filters.sort], Cycle.id)
    if limit is not None:
        query = query.limit(limit).offset((filters.page - 1) * limit)
    query = query.options(*cycle_loads())
    rows = session.execute(query).all()
    # The engine's answer depends on the section, the state and the submitter only; asking
    # once per combination keeps the queries bounded by the organisation, not the items.
    asked: dict[tuple, list[User]] = {}

    def must_act(cycle: Cycle) -> list[User]:
        if stage_of(cycle) is None:
            return []
        key = (
            cycle.item.owning_section_id,
            cycle.definition_version,
            cycle.state,
            cycle.submitted_by_id,
        )
        if key not in asked:
            asked[key] = list(who_must_act(cycle, deadlines.today))
        return asked[key]

    listed = []
    for cycle, last_at in rows:
        due = deadlines.due(cycle)
        days = days_overdue(due, deadlines.today) if due else 0
        listed.append(
            ListedCycle(
                cycle=cycle,
                due=due,
                days_overdue=days,
                escalation=escalation_label(cycle, due, deadlines.today, deadlines.schedule),
                last_activity=last_at,
                must_act=must_act(cycle),
            )
        )
    return listed, total or 0


def cycle_loads():
    """Eager loads for showing cycles and who must act, in a fixed number of queries."""
    item = selectinload(Cycle.item)
    section = item.selectinload(ReformItem.owning_section)
    department = section.selectinload(Section.department)
    return (
        item.selectinload(ReformItem.viewpoint),
        department.selectinload(Department.posts)
        .selectinload(Post.assignments)
        .selectinload(PostAssignment.user),
        selectinload(Cycle.extensions),
    )


def filter_choices(session: Session) -> dict:
    """Departments, viewpoints and fiscal years for the filter form (3 queries)."""
    return {
        "departments": session.scalars(
            select(Department).order_by(Department.position, Department.code)
        ).all(),
        "viewpoints": session.scalars(select(Viewpoint).order_by(Viewpoint.number)).all(),
        "years": sorted(set(session.scalars(select(Cycle.fiscal_year).distinct())), reverse=True),
    }
