"""What the secretariat watches: the department x stage matrix and the stuck-items list.

Counts are aggregated in SQL; deadlines are computed once per (fiscal year, stage) from the
schedule, plus the few cycles with an extension, so the number of queries does not depend on
the number of items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from app.calendar import business_days_between, local_date
from app.models import (
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
    UserRole,
    Viewpoint,
    item_related_section,
)
from app.models.bulk import chunks
from app.text import _, current_locale
from app.validation import parse_fiscal_year, parse_id
from workflows.overdue import (
    Deadlines,
    VersionState,
    fiscal_years,
    open_states,
    states_clause,
)
from workflows.registry import get_definition, versions_in
from workflows.roles import join_players, players
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


def _base(filters: Filters, *, section: bool = True, item: bool = True):
    """The cycles of the year with the filters other than overdue/stuck applied; joined to
    their item (unless `item` is false and no filter needs it) and to their owning section
    (unless `section` is false)."""
    query = select(Cycle).where(Cycle.fiscal_year == filters.fiscal_year)
    if item or filters.viewpoint:
        query = query.join(ReformItem, Cycle.item_id == ReformItem.id)
    if section:
        # The cycle carries its item's section (kept in step with the item).
        query = query.join(Section, Cycle.owning_section_id == Section.id)
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
    """Departments x stage: how many cycles, and how many of them overdue (one scan of
    the year's cycles, grouped, and the departments)."""
    base = _base(replace(filters, column=None), section=bool(filters.department), item=False)
    late_count = func.coalesce(func.sum(case((deadlines.overdue_clause(states), 1), else_=0)), 0)
    # Grouped by the owning section the cycle carries, sections mapped to departments
    # after: the year's cycles are read alone, joined to nothing.
    grouped = base.with_only_columns(
        Cycle.owning_section_id,
        Cycle.definition_version,
        Cycle.state,
        func.count(Cycle.id),
        late_count,
    ).group_by(Cycle.owning_section_id, Cycle.definition_version, Cycle.state)
    found = session.execute(grouped).all()
    department_of = dict(session.execute(select(Section.id, Section.department_id)).all())
    counts = [(department_of.get(s), v, st, n) for s, v, st, n, _late in found]
    late = [(department_of.get(s), v, st, int(n)) for s, v, st, _n, n in found if n]
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
    cycle: Cycle,
    due: date | None,
    today: date,
    schedule: FiscalYearSchedule,
    known: dict | None = None,
) -> str:
    """Which level an overdue item has reached under the year's escalation offsets: the
    role it has been escalated to, as the scheduler counts (business days from
    max(deadline, the day the state began))."""
    if due is None or today <= due:
        return ""
    definition = (known or versions_in()).get(cycle.definition_version) or get_definition()
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

    query = _narrowed(_base(filters), filters, deadlines, states, now)
    total = session.scalar(_count(filters, deadlines, states, now))
    if filters.sort == "activity":
        query = query.order_by(Cycle.last_activity_at.asc().nulls_first(), Cycle.id)
    else:
        query = query.order_by(*_SORT_COLUMNS[filters.sort], Cycle.id)
    if limit is not None:
        query = query.limit(limit).offset((filters.page - 1) * limit)
    query = query.options(*cycle_loads())
    cycles = list(session.scalars(query))
    acting = must_act(session, cycles, deadlines.today)
    listed = []
    for cycle in cycles:
        due = deadlines.due(cycle)
        days = days_overdue(due, deadlines.today) if due else 0
        listed.append(
            ListedCycle(
                cycle=cycle,
                due=due,
                days_overdue=days,
                escalation=escalation_label(cycle, due, deadlines.today, deadlines.schedule),
                last_activity=cycle.last_activity_at,
                must_act=acting.get(cycle.id, []),
            )
        )
    return listed, total or 0


def _count(filters: Filters, deadlines: Deadlines, states: list[VersionState], now: datetime):
    """How many cycles the list has: the cycle table alone unless a filter needs the item."""
    if filters.viewpoint or filters.department:
        query = _narrowed(_base(filters), filters, deadlines, states, now)
        return query.with_only_columns(func.count(Cycle.id)).order_by(None)
    query = select(func.count(Cycle.id)).where(Cycle.fiscal_year == filters.fiscal_year)
    if filters.state:
        query = query.where(Cycle.state == filters.state)
    if filters.grade:
        query = query.where(Cycle.grade == Grade(filters.grade))
    return _narrowed(query, filters, deadlines, states, now)


def must_act(session: Session, cycles: list[Cycle], today: date) -> dict[int, list[User]]:
    """Who must act on each of `cycles` now (`permissions.who_must_act`), one query per
    actor role whatever the number of cycles."""
    groups: dict[tuple[str, str], list[int]] = {}
    for cycle in cycles:
        definition = versions_in().get(cycle.definition_version)
        state = definition.state(cycle.state) if definition else None
        if state is not None and state.actor and state.stage:
            groups.setdefault((cycle.definition_version, state.actor), []).append(cycle.id)
    found: dict[int, list[User]] = {}
    for (version, actor), ids in groups.items():
        definition = versions_in()[version]
        deciding = [s for s in definition.deciding_states]
        for batch in chunks(ids):
            query = (
                select(Cycle.id, User)
                .select_from(Cycle)
                .join(ReformItem, ReformItem.id == Cycle.item_id)
                .join(Section, Section.id == ReformItem.owning_section_id)
                .where(Cycle.id.in_(batch))
            )
            query = join_players(query, definition.roles[actor], today).where(
                or_(
                    Cycle.state.not_in(deciding or [""]),
                    Cycle.submitted_by_id.is_(None),
                    Cycle.submitted_by_id != User.id,
                )
            )
            for cycle_id, user in session.execute(query.order_by(Cycle.id, User.id)):
                people = found.setdefault(cycle_id, [])
                if user not in people:
                    people.append(user)
    return found


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
        "years": fiscal_years(session)[::-1],
    }


class _Row:
    """One exported cycle as the deadline and escalation rules read it."""

    __slots__ = ("id", "definition_version", "state", "state_since")

    def __init__(self, ident, version, state, since):
        self.id, self.definition_version, self.state, self.state_since = (
            ident,
            version,
            state,
            since,
        )


def export_rows(
    session: Session,
    filters: Filters,
    deadlines: Deadlines,
    states: list[VersionState],
    now: datetime,
    locale: str,
):
    """Every listed cycle as a row of the export, streamed: rows are read in batches and
    nothing is kept, so memory stays flat whatever the number of cycles."""
    author = aliased(User)
    query = _narrowed(_base(filters), filters, deadlines, states, now).with_only_columns(
        Cycle.id,
        Cycle.definition_version,
        Cycle.state,
        Cycle.state_since,
        Cycle.fiscal_year,
        Cycle.last_activity_at,
        Cycle.grade,
        Cycle.submitted_by_id,
        ReformItem.id,
        ReformItem.number,
        ReformItem.title,
        ReformItem.owning_section_id,
        Section.name,
        Section.department_id,
        Department.name,
        author.name,
    )
    query = (
        query.join(Department, Department.id == Section.department_id)
        .outerjoin(author, author.id == Cycle.submitted_by_id)
        .order_by(*_SORT_COLUMNS.get(filters.sort, (Cycle.last_activity_at.asc(),)), Cycle.id)
    )
    names = _Acting(session, deadlines.today)
    labels: dict[tuple, str] = {}
    known = versions_in()
    escalated: dict[tuple, str] = {}

    def escalation(cycle: _Row, due: date | None) -> str:
        key = (cycle.definition_version, cycle.state, due, local_date(cycle.state_since))
        if key not in escalated:
            escalated[key] = escalation_label(
                cycle, due, deadlines.today, deadlines.schedule, known
            )
        return escalated[key]

    # Plain rows through a server-side cursor (the ORM's loading layer is not needed).
    result = session.connection().execute(query.execution_options(yield_per=2000))
    for row in result:
        (ident, version, state, since, fy, last, grade, submitter, item_id, number, title) = row[
            :11
        ]
        section_id, section, department_id, department, author_name = row[11:]
        cycle = _Row(ident, version, state, since)
        due = deadlines.due(cycle)
        key = (version, state)
        if key not in labels:
            labels[key] = state_label_of(version, state, locale)
        yield [
            number,
            title,
            department,
            section,
            fy,
            labels[key],
            since,
            due,
            days_overdue(due, deadlines.today) if due else 0,
            escalation(cycle, due),
            names.of(version, state, item_id, section_id, department_id, submitter, author_name),
            last,
            grade.ja if grade else "",
        ]


def state_label_of(version: str, state: str, locale: str) -> str:
    from workflows.labels import state_label

    return state_label(state, locale, version)


class _Acting:
    """Who must act, by name, for rows of an export: the people of each role read once."""

    def __init__(self, session: Session, today: date):
        self.session, self.today = session, today
        self.players: dict[tuple[str, str], list[tuple]] = {}
        self.related: dict[int, set[int]] | None = None
        self.cache: dict[tuple, str] = {}
        self.known = versions_in()

    def _players(self, version: str, role_name: str) -> list[tuple]:
        key = (version, role_name)
        if key not in self.players:
            role = self.known[version].roles[role_name]
            if role.granted:
                query = (
                    select(sa.null(), sa.null(), User.id, User.name)
                    .join(UserRole, UserRole.user_id == User.id)
                    .where(UserRole.role == Role(role.granted), User.active.is_(True))
                )
            else:
                cast = players(role, self.today).subquery()
                query = select(cast.c.section_id, cast.c.department_id, User.id, User.name).join(
                    User, User.id == cast.c.user_id
                )
            self.players[key] = list(self.session.execute(query.order_by(User.id)))
        return self.players[key]

    def _related(self) -> dict[int, set[int]]:
        if self.related is None:
            self.related = {}
            for item_id, section_id in self.session.execute(select(item_related_section)):
                self.related.setdefault(item_id, set()).add(section_id)
        return self.related

    def of(self, version, state, item_id, section_id, department_id, submitter, author_name):
        definition = self.known.get(version)
        found = definition.state(state) if definition else None
        if found is None or not found.actor or not found.stage:
            return ""
        role = definition.roles[found.actor]
        if role.submitter:
            return author_name or ""
        scope = {
            "owning_section": section_id,
            "owning_department": department_id,
            "related_sections": item_id,
        }.get(role.of)
        deciding = state in definition.deciding_states
        key = (version, found.actor, scope, submitter if deciding else None)
        if key not in self.cache:
            people = []
            related = self._related().get(item_id, set()) if role.of == "related_sections" else ()
            for section, department, user_id, name in self._players(version, found.actor):
                if role.post_based and role.of == "owning_section" and section != section_id:
                    continue
                if role.of == "owning_department" and department != department_id:
                    continue
                if role.of == "related_sections" and section not in related:
                    continue
                if deciding and user_id == submitter:
                    continue
                if name not in people:
                    people.append(name)
            self.cache[key] = "、".join(people)
        return self.cache[key]
