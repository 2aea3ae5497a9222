"""What waits for a user: the lists of the My-tasks page and the header counts.

The lists are found with a few queries whatever the number of items: the user's sections
and head departments (own posts and active substitutions), then the cycles in them. Who may
actually decide a given cycle stays the engine's call (`allowed_triggers`); these queries
only choose what to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import (
    AuditEntry,
    Cycle,
    FiscalYearSchedule,
    Post,
    PostAssignment,
    PostKind,
    ReformItem,
    Role,
    Section,
    Substitution,
    User,
)
from workflows.deadlines import due_date
from workflows.definition import get_definition

UPCOMING_DAYS = 60


def states_for(actor: str) -> tuple[str, ...]:
    """The workflow states in which `actor` (staff, head, secretariat) has to act."""
    states = get_definition().states
    return tuple(name for name, state in states.items() if state.actor == actor)


def final_states() -> tuple[str, ...]:
    return tuple(name for name, state in get_definition().states.items() if state.final)


@dataclass
class Scope:
    """Where a user works today: sections as staff, departments as head or substitute."""

    section_ids: set[int] = field(default_factory=set)
    head_department_ids: set[int] = field(default_factory=set)
    substitute_department_ids: set[int] = field(default_factory=set)
    secretariat: bool = False

    @property
    def decides_for(self) -> set[int]:
        return self.head_department_ids | self.substitute_department_ids


def scope_of(session: Session, user: User, today: date) -> Scope:
    """The user's sections and head departments on `today` (two queries)."""
    rows = session.execute(
        select(Post.kind, Post.department_id, Post.section_id)
        .join(PostAssignment, PostAssignment.post_id == Post.id)
        .where(
            PostAssignment.user_id == user.id,
            PostAssignment.starts_on <= today,
            sa.or_(PostAssignment.ends_on.is_(None), PostAssignment.ends_on >= today),
        )
    ).all()
    scope = Scope(secretariat=Role.SECRETARIAT in user.granted_roles())
    for kind, department_id, section_id in rows:
        if kind is PostKind.HEAD:
            scope.head_department_ids.add(department_id)
        elif section_id is not None:
            scope.section_ids.add(section_id)
    scope.substitute_department_ids = set(
        session.scalars(
            select(Post.department_id)
            .join(Substitution, Substitution.post_id == Post.id)
            .where(
                Substitution.substitute_id == user.id,
                Substitution.revoked_at.is_(None),
                Substitution.starts_on <= today,
                Substitution.ends_on >= today,
                Post.kind == PostKind.HEAD,
            )
        )
    )
    return scope


def task_counts(session: Session, scope: Scope) -> dict[str, int]:
    """How many cycles wait for the user as staff, as decider, as secretariat (one query)."""
    staff_states, head_states = states_for("staff"), states_for("head")
    secretariat_states = states_for("secretariat")

    def _count(condition):
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    mine = _count(
        sa.and_(
            Cycle.state.in_(staff_states),
            ReformItem.owning_section_id.in_(scope.section_ids or {-1}),
        )
    )
    decide = _count(
        sa.and_(Cycle.state.in_(head_states), Section.department_id.in_(scope.decides_for or {-1}))
    )
    confirm = _count(Cycle.state.in_(secretariat_states)) if scope.secretariat else sa.literal(0)
    row = session.execute(
        select(mine, decide, confirm)
        .select_from(Cycle)
        .join(ReformItem, ReformItem.id == Cycle.item_id)
        .join(Section, Section.id == ReformItem.owning_section_id)
    ).one()
    counts = {"staff": int(row[0]), "decide": int(row[1]), "confirm": int(row[2])}
    counts["total"] = sum(counts.values())
    return counts


@dataclass
class Task:
    cycle: Cycle
    due: date | None
    today: date
    reason: str = ""
    via_substitute: bool = False

    @property
    def days_left(self) -> int | None:
        return None if self.due is None else (self.due - self.today).days

    @property
    def overdue(self) -> bool:
        return self.due is not None and self.due < self.today


def _load_cycles(session: Session, *conditions) -> list[Cycle]:
    return list(
        session.scalars(
            select(Cycle)
            .join(ReformItem, ReformItem.id == Cycle.item_id)
            .join(Section, Section.id == ReformItem.owning_section_id)
            .where(*conditions)
            .options(
                selectinload(Cycle.item)
                .selectinload(ReformItem.owning_section)
                .selectinload(Section.department),
                selectinload(Cycle.extensions),
            )
        )
    )


def _schedules(session: Session, cycles: list[Cycle]) -> dict[int, FiscalYearSchedule]:
    years = {c.fiscal_year for c in cycles}
    stored = {
        s.fiscal_year: s
        for s in session.scalars(
            select(FiscalYearSchedule).where(FiscalYearSchedule.fiscal_year.in_(years))
        )
    }
    return {fy: stored.get(fy) or FiscalYearSchedule.defaults(fy) for fy in years}


def _tasks(session: Session, cycles: list[Cycle], today: date) -> list[Task]:
    schedules = _schedules(session, cycles)
    tasks = [Task(c, due_date(session, c, schedules[c.fiscal_year]), today) for c in cycles]
    return sorted(tasks, key=lambda t: (t.due or date.max, t.cycle.item.sort_key))


def last_send_back(session: Session, cycle_ids: list[int]) -> dict[int, AuditEntry]:
    """The latest audit entry of each cycle when it is a send-back (差戻し)."""
    if not cycle_ids:
        return {}
    latest = (
        select(AuditEntry.cycle_id, sa.func.max(AuditEntry.seq).label("seq"))
        .where(AuditEntry.cycle_id.in_(cycle_ids), AuditEntry.action != "save_draft")
        .group_by(AuditEntry.cycle_id)
        .subquery()
    )
    entries = session.scalars(
        select(AuditEntry).join(
            latest,
            sa.and_(AuditEntry.cycle_id == latest.c.cycle_id, AuditEntry.seq == latest.c.seq),
        )
    )
    return {e.cycle_id: e for e in entries if e.action.startswith("send_back")}


@dataclass
class MyTasks:
    scope: Scope
    to_do: list[Task]
    sent_back: list[Task]
    upcoming: list[Task]
    to_decide: list[Task]
    overdue: list[Task]
    to_confirm: list[Task]


def my_tasks(session: Session, user: User, today: date, scope: Scope | None = None) -> MyTasks:
    """Everything the My-tasks page lists for `user` on `today`."""
    scope = scope or scope_of(session, user, today)
    staff_states, head_states = states_for("staff"), states_for("head")
    finals = (*final_states(), "suspended")

    mine = _tasks(
        session,
        _load_cycles(
            session,
            ReformItem.owning_section_id.in_(scope.section_ids or {-1}),
            Cycle.state.not_in(finals),
        ),
        today,
    )
    to_do = [t for t in mine if t.cycle.state in staff_states]
    sent = last_send_back(session, [t.cycle.id for t in to_do])
    sent_back = []
    for task in to_do:
        if task.cycle.id in sent:
            task.reason = sent[task.cycle.id].comment
            sent_back.append(task)
    horizon = today + timedelta(days=UPCOMING_DAYS)
    upcoming = [t for t in mine if t.due is not None and today <= t.due <= horizon]

    department = _tasks(
        session,
        _load_cycles(
            session,
            Section.department_id.in_(scope.decides_for or {-1}),
            Cycle.state.not_in(finals),
        ),
        today,
    )
    to_decide = [t for t in department if t.cycle.state in head_states]
    for task in to_decide:
        task.via_substitute = (
            task.cycle.item.owning_section.department_id not in scope.head_department_ids
        )
    overdue = [
        t
        for t in department
        if t.overdue and t.cycle.item.owning_section.department_id in scope.head_department_ids
    ]

    to_confirm: list[Task] = []
    if scope.secretariat:
        to_confirm = _tasks(
            session, _load_cycles(session, Cycle.state.in_(states_for("secretariat"))), today
        )
    return MyTasks(scope, to_do, sent_back, upcoming, to_decide, overdue, to_confirm)
