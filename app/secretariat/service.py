"""What the secretariat watches: the department x stage matrix and the stuck-items list.

Counts are aggregated in SQL; deadlines are computed once per (fiscal year, stage) from the
schedule, plus the few cycles with an extension, so the number of queries does not depend on
the number of items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session, selectinload

from app.calendar import business_days_between, local_date
from app.models import (
    AuditEntry,
    Cycle,
    DeadlineExtension,
    Department,
    FiscalYearSchedule,
    Grade,
    Post,
    PostAssignment,
    ReformItem,
    Role,
    Section,
    Stage,
    User,
    Viewpoint,
)
from app.text import _
from app.validation import parse_fiscal_year, parse_id
from workflows.deadlines import adjusted, schedule_for, stage_due, stage_of
from workflows.labels import state_info

# Matrix columns: the four stages, then closed years and everything else (suspended ...).
COLUMNS = ("plan", "do", "check", "act", "closed", "other")
# A state's name in a workflow definition (anything else in a query string is ignored).
_STATE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}", re.ASCII)
SORTS = ("since", "number", "department", "activity", "grade")
PAGE_SIZE = 50


def can_view_console(user: User) -> bool:
    return user.is_authenticated and (user.has_role(Role.SECRETARIAT) or user.has_role(Role.ADMIN))


def can_act(user: User) -> bool:
    """Only the secretariat acts; administrators may look."""
    return user.is_authenticated and user.has_role(Role.SECRETARIAT)


def column_of(state: str) -> str:
    stage = stage_of(state)
    if stage is not None:
        return str(stage)
    return "closed" if state_info(state).get("final") else "other"


def column_label(column: str) -> str:
    return {
        "plan": _("計画"),
        "do": _("実施"),
        "check": _("評価"),
        "act": _("改善"),
        "closed": _("年度完了・廃止"),
        "other": _("休止ほか"),
    }[column]


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
            column=column if column in COLUMNS else None,
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


@dataclass
class Deadlines:
    """Due dates of one fiscal year: per stage from the schedule, per cycle when extended."""

    schedule: FiscalYearSchedule
    today: date
    by_stage: dict[str, date]
    extended: dict[int, date] = field(default_factory=dict)  # cycle id -> due of its stage

    def due(self, cycle_id: int, state: str) -> date | None:
        stage = stage_of(state)
        if stage is None:
            return None
        return self.extended.get(cycle_id, self.by_stage[str(stage)])

    def overdue_clause(self, states: list[str]):
        """A WHERE clause true for the cycles past their stage's deadline today."""
        late_states = [
            s
            for s in states
            if (stage := stage_of(s)) is not None and self.by_stage[str(stage)] < self.today
        ]
        base = Cycle.state.in_(late_states) if late_states else false()
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
    by_stage = {str(s): adjusted(schedule.due_for(s)) for s in Stage}
    extended_cycles = session.scalars(
        select(Cycle)
        .where(Cycle.fiscal_year == fiscal_year, Cycle.id.in_(select(DeadlineExtension.cycle_id)))
        .options(selectinload(Cycle.extensions))
    ).all()
    extended = {}
    for cycle in extended_cycles:
        stage = stage_of(cycle.state)
        if stage is not None and any(e.stage == stage for e in cycle.extensions):
            extended[cycle.id] = stage_due(cycle, stage, schedule)
    return Deadlines(schedule, today, by_stage, extended)


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


def states_of_year(session: Session, fiscal_year: int) -> list[str]:
    return list(
        session.scalars(select(Cycle.state).where(Cycle.fiscal_year == fiscal_year).distinct())
    )


def _open_states(states: list[str]) -> list[str]:
    return [s for s in states if stage_of(s) is not None]


def stuck_clause(filters: Filters, deadlines: Deadlines, states: list[str], now: datetime):
    """In the same state longer than the threshold, or overdue; only cycles still moving."""
    since = now - timedelta(days=filters.stuck_days)
    return and_(
        Cycle.state.in_(_open_states(states)),
        or_(Cycle.state_since < since, deadlines.overdue_clause(states)),
    )


def _narrowed(query, filters: Filters, deadlines: Deadlines, states: list[str], now: datetime):
    if filters.column:
        query = query.where(Cycle.state.in_([s for s in states if column_of(s) == filters.column]))
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
    session: Session, filters: Filters, deadlines: Deadlines, states: list[str]
) -> list[MatrixRow]:
    """Departments x stage: how many cycles, and how many of them overdue (2 queries + 1)."""
    base = _base(replace(filters, column=None))
    grouped = base.with_only_columns(Section.department_id, Cycle.state, func.count(Cycle.id))
    grouped = grouped.group_by(Section.department_id, Cycle.state)
    counts = session.execute(grouped).all()
    late = session.execute(grouped.where(deadlines.overdue_clause(states))).all()
    departments = session.scalars(
        select(Department)
        .where(Department.active.is_(True))
        .order_by(Department.position, Department.code)
    ).all()
    rows = {
        d.id: MatrixRow(d, dict.fromkeys(COLUMNS, 0), dict.fromkeys(COLUMNS, 0))
        for d in departments
    }
    if filters.department:
        rows = {k: v for k, v in rows.items() if k == filters.department}
    for target, result in (("counts", counts), ("overdue", late)):
        for department_id, state, number in result:
            if department_id in rows:
                getattr(rows[department_id], target)[column_of(state)] += number
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
    """Which level an overdue item has reached under the year's escalation offsets.

    As the scheduler counts: business days from max(deadline, the day the state began).
    """
    if due is None or today <= due:
        return ""
    clock = max(due, local_date(cycle.state_since))
    days = business_days_between(clock, today)
    if days >= schedule.escalate_secretariat_after:
        return _("事務局")
    if days >= schedule.escalate_head_after and state_info(cycle.state).get("actor") != (
        "secretariat"
    ):
        return _("所管部長")
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
    states: list[str],
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
        if stage_of(cycle.state) is None:
            return []
        key = (cycle.item.owning_section_id, cycle.state, cycle.submitted_by_id)
        if key not in asked:
            asked[key] = list(who_must_act(cycle, deadlines.today))
        return asked[key]

    listed = []
    for cycle, last_at in rows:
        due = deadlines.due(cycle.id, cycle.state)
        days = business_days_between(due, deadlines.today) if due else 0
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
