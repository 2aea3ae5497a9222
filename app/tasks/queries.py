"""What waits for a user: the lists of the My-tasks page and the header counts.

Every list is "cycles whose state's actor role the user plays", asked of each definition
version in use, as one SQL condition built from the user's posts and substitutions on the
day (`workflows.roles.Reach`); so the number of queries does not grow with the items. Who
may actually fire a given transition stays the engine's call (`permissions.allowed`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.sql.elements import ColumnElement

from app.models import (
    AuditEntry,
    CommitteeOpinion,
    CommitteeQuestion,
    Cycle,
    FiscalYearSchedule,
    ReformItem,
    Section,
    User,
)
from workflows.deadlines import default_schedule, due_date
from workflows.definition import Definition, State
from workflows.registry import all_definitions, definition_of
from workflows.roles import Reach, reach_of
from workflows.rules import committee_answer_clause, is_overdue

UPCOMING_DAYS = 60

StatePick = Callable[[Definition, str, State], bool]


def _work(definition: Definition, name: str, state: State) -> bool:
    """A state where the actor writes and submits (no decision waits)."""
    return name not in definition.deciding_states


def _decision_by_post(definition: Definition, name: str, state: State) -> bool:
    return name in definition.deciding_states and definition.roles[state.actor].post_based


def _decision_by_grant(definition: Definition, name: str, state: State) -> bool:
    return name in definition.deciding_states and not definition.roles[state.actor].post_based


def waiting_clause(reach: Reach, pick: StatePick) -> ColumnElement[bool]:
    """Cycles (joined to ReformItem) in a state `pick` chooses whose actor role the user
    plays; nobody is asked to decide on their own submission."""
    parts = []
    for definition in all_definitions():
        by_role: dict[str, list[str]] = defaultdict(list)
        for name, state in definition.states.items():
            if state.actor and pick(definition, name, state):
                by_role[state.actor].append(name)
        for role, states in by_role.items():
            condition = sa.and_(
                Cycle.definition_version == definition.version,
                Cycle.state.in_(states),
                reach.clause(definition.roles[role]),
            )
            if set(states) & definition.deciding_states:
                condition = sa.and_(
                    condition,
                    sa.or_(Cycle.submitted_by_id.is_(None), Cycle.submitted_by_id != reach.user.id),
                )
            parts.append(condition)
    return sa.or_(*parts) if parts else sa.false()


def _escalated_clause(reach: Reach) -> ColumnElement[bool]:
    """Open cycles whose first escalation would reach the user in person (their overdue
    items, as a department head sees them)."""
    parts = []
    for definition in all_definitions():
        role = definition.escalation.get("first")
        if role is None:
            continue
        states = [n for n, s in definition.states.items() if s.waiting and "first" in s.escalate]
        parts.append(
            sa.and_(
                Cycle.definition_version == definition.version,
                Cycle.state.in_(states),
                reach.clause(definition.roles[role], substitutes=False),
            )
        )
    return sa.or_(*parts) if parts else sa.false()


def _mine_clause(reach: Reach) -> ColumnElement[bool]:
    """Open cycles of the items the user works on (plays a role that writes and submits)."""
    parts = []
    for definition in all_definitions():
        states = definition.states.items()
        roles = {s.actor for n, s in states if s.actor and _work(definition, n, s)}
        waiting = [n for n, s in definition.states.items() if s.waiting]
        for role in roles:
            parts.append(
                sa.and_(
                    Cycle.definition_version == definition.version,
                    Cycle.state.in_(waiting),
                    reach.clause(definition.roles[role]),
                )
            )
    return sa.or_(*parts) if parts else sa.false()


def decides_somewhere(reach: Reach) -> bool:
    """Whether the user holds a post whose kind decides in the workflow (代理 is theirs)."""
    return any(
        reach.posts(definition.roles[state.actor], substitutes=False)
        for definition in all_definitions()
        for name, state in definition.states.items()
        if state.actor and _decision_by_post(definition, name, state)
    )


def task_counts(session: Session, reach: Reach) -> dict[str, int]:
    """How many cycles wait for the user as worker, as decider, as secretariat (one query).

    Each count is its own branch of a UNION ALL with its condition in WHERE, so that the
    database reaches the user's cycles through the indexes (the items of their sections,
    the cycles in a state) instead of reading every cycle.
    """
    parts = [
        select(sa.literal(kind).label("kind"), sa.func.count(Cycle.id).label("n"))
        .select_from(Cycle)
        .join(ReformItem, ReformItem.id == Cycle.item_id)
        .where(waiting_clause(reach, pick))
        for kind, pick in (
            ("staff", _work),
            ("decide", _decision_by_post),
            ("confirm", _decision_by_grant),
        )
    ]
    answering = committee_answer_clause(reach)
    for kind, model, open_ in (
        ("opinion", CommitteeOpinion, CommitteeOpinion.reply_at.is_(None)),
        ("question", CommitteeQuestion, CommitteeQuestion.answered_at.is_(None)),
    ):
        parts.append(
            select(sa.literal(kind).label("kind"), sa.func.count(model.id).label("n"))
            .select_from(model)
            .join(Cycle, Cycle.id == model.cycle_id)
            .join(ReformItem, ReformItem.id == Cycle.item_id)
            .where(open_, answering)
        )
    counts = {kind: int(n) for kind, n in session.execute(sa.union_all(*parts))}
    counts["answer"] = counts.pop("opinion", 0) + counts.pop("question", 0)
    counts["total"] = sum(counts.values())
    return counts


@dataclass
class CommitteeTask:
    """An opinion (意見) or question (事前質問) of the committee waiting for the
    department's reply; the reply closes it."""

    kind: str  # "opinion" or "question"
    ident: int
    cycle: Cycle
    text: str
    asked_at: datetime
    member: str


def committee_tasks(session: Session, reach: Reach) -> list[CommitteeTask]:
    """The unanswered opinions and questions on the items the user answers for."""
    answering = committee_answer_clause(reach)
    found: list[CommitteeTask] = []
    for kind, model, open_, text, at in (
        (
            "opinion",
            CommitteeOpinion,
            CommitteeOpinion.reply_at.is_(None),
            "body",
            "created_at",
        ),
        (
            "question",
            CommitteeQuestion,
            CommitteeQuestion.answered_at.is_(None),
            "question",
            "asked_at",
        ),
    ):
        rows = session.scalars(
            select(model)
            .join(Cycle, Cycle.id == model.cycle_id)
            .join(ReformItem, ReformItem.id == Cycle.item_id)
            .where(open_, answering)
            .options(
                selectinload(model.member),
                selectinload(model.cycle)
                .selectinload(Cycle.item)
                .selectinload(ReformItem.owning_section)
                .selectinload(Section.department),
            )
        )
        found += [
            CommitteeTask(kind, r.id, r.cycle, getattr(r, text), getattr(r, at), r.member.name)
            for r in rows
        ]
    return sorted(found, key=lambda t: (t.asked_at, t.kind, t.ident))


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
        return is_overdue(self.due, self.today)


def _load_lists(
    session: Session, conditions: dict[str, ColumnElement[bool]]
) -> dict[str, list[Cycle]]:
    """The cycles of each named list, loaded once with their items, sections and extensions.

    One UNION ALL names, for each list, the cycles its condition picks (each branch keeps
    its condition in WHERE, so the database reaches them through the indexes); the cycles
    are read once, joined to it, and sorted into their lists.
    """
    branches = [
        select(sa.literal(name).label("list"), Cycle.id.label("cycle_id"))
        .select_from(Cycle)
        .join(ReformItem, ReformItem.id == Cycle.item_id)
        .where(condition)
        for name, condition in conditions.items()
    ]
    picked = sa.union_all(*branches).subquery()
    rows = session.execute(
        select(Cycle, picked.c.list)
        .join(picked, picked.c.cycle_id == Cycle.id)
        .options(
            # Each cycle's item, section and department come in the same rows.
            joinedload(Cycle.item, innerjoin=True)
            .joinedload(ReformItem.owning_section, innerjoin=True)
            .joinedload(Section.department, innerjoin=True),
            selectinload(Cycle.extensions),
        )
    )
    lists: dict[str, list[Cycle]] = {name: [] for name in conditions}
    for cycle, name in rows:
        lists[name].append(cycle)
    return lists


def _schedules(session: Session, cycles: list[Cycle]) -> dict[int, FiscalYearSchedule]:
    years = {c.fiscal_year for c in cycles}
    if not years:
        return {}
    stored = {
        s.fiscal_year: s
        for s in session.scalars(
            select(FiscalYearSchedule)
            .where(FiscalYearSchedule.fiscal_year.in_(years))
            .options(joinedload(FiscalYearSchedule.deadlines))
        ).unique()
    }
    return {fy: stored.get(fy) or default_schedule(fy) for fy in years}


def _task_lists(
    session: Session, lists: dict[str, list[Cycle]], today: date
) -> dict[str, list[Task]]:
    """Each list as tasks sorted by due date, every cycle's due date computed once."""
    cycles = {c.id: c for found in lists.values() for c in found}
    schedules = _schedules(session, list(cycles.values()))
    due = {i: due_date(session, c, schedules[c.fiscal_year]) for i, c in cycles.items()}
    return {
        name: sorted(
            (Task(c, due[c.id], today) for c in found),
            key=lambda t: (t.due or date.max, t.cycle.item.sort_key),
        )
        for name, found in lists.items()
    }


def last_send_back(session: Session, cycles: list[Cycle]) -> dict[int, AuditEntry]:
    """The latest transition of each cycle when it sent the submission back (差戻し)."""
    if not cycles:
        return {}
    by_id = {c.id: c for c in cycles}
    latest = (
        select(AuditEntry.cycle_id, sa.func.max(AuditEntry.seq).label("seq"))
        .where(
            AuditEntry.cycle_id.in_(list(by_id)),
            AuditEntry.from_state.is_not(None),
            AuditEntry.to_state.is_not(None),
            AuditEntry.from_state != AuditEntry.to_state,
        )
        .group_by(AuditEntry.cycle_id)
        .subquery()
    )
    entries = session.scalars(
        select(AuditEntry).join(
            latest,
            sa.and_(AuditEntry.cycle_id == latest.c.cycle_id, AuditEntry.seq == latest.c.seq),
        )
    )
    found = {}
    for entry in entries:
        transition = definition_of(by_id[entry.cycle_id]).transition(entry.from_state, entry.action)
        if transition is not None and transition.kind == "send_back":
            found[entry.cycle_id] = entry
    return found


@dataclass
class MyTasks:
    reach: Reach
    to_do: list[Task]
    sent_back: list[Task]
    upcoming: list[Task]
    to_decide: list[Task]
    overdue: list[Task]
    to_confirm: list[Task]
    to_answer: list[CommitteeTask] = field(default_factory=list)
    works: bool = False  # plays a role that writes and submits somewhere
    decides: bool = False  # holds or substitutes a post that decides
    escalated_to: bool = False  # gets the first escalation of overdue items


def my_tasks(session: Session, user: User, today: date, reach: Reach | None = None) -> MyTasks:
    """Everything the My-tasks page lists for `user` on `today`."""
    reach = reach or reach_of(session, user, today)
    lists = _task_lists(
        session,
        _load_lists(
            session,
            {
                "to_do": waiting_clause(reach, _work),
                "mine": _mine_clause(reach),
                "to_decide": waiting_clause(reach, _decision_by_post),
                "escalated": _escalated_clause(reach),
                "to_confirm": waiting_clause(reach, _decision_by_grant),
            },
        ),
        today,
    )
    to_do = lists["to_do"]
    sent = last_send_back(session, [t.cycle for t in to_do])
    sent_back = []
    for task in to_do:
        if task.cycle.id in sent:
            task.reason = sent[task.cycle.id].comment
            sent_back.append(task)
    horizon = today + timedelta(days=UPCOMING_DAYS)
    upcoming = [t for t in lists["mine"] if t.due is not None and today <= t.due <= horizon]
    to_decide = _mark_substitutes(reach, lists["to_decide"])
    overdue = [t for t in lists["escalated"] if t.overdue]
    to_confirm = lists["to_confirm"]
    return MyTasks(
        reach,
        to_do,
        sent_back,
        upcoming,
        to_decide,
        overdue,
        to_confirm,
        to_answer=committee_tasks(session, reach),
        works=_plays(reach, lambda d, n, s: _work(d, n, s) and d.roles[s.actor].post_based),
        decides=_plays(reach, _decision_by_post),
        escalated_to=any(
            reach.posts(d.roles[d.escalation["first"]], substitutes=False)
            for d in all_definitions()
            if d.roles.get(d.escalation.get("first", "")) is not None
        ),
    )


def _mark_substitutes(reach: Reach, tasks: list[Task]) -> list[Task]:
    """Mark the decisions the user is asked for as a substitute (代理)."""
    for task in tasks:
        definition = definition_of(task.cycle)
        role = definition.roles[definition.states[task.cycle.state].actor]
        task.via_substitute = reach.via_substitute(role, task.cycle.item)
    return tasks


def decisions_waiting(session: Session, reach: Reach, today: date) -> list[Task]:
    """The My-tasks page's list of submissions waiting for the user's decision, alone."""
    lists = _load_lists(session, {"to_decide": waiting_clause(reach, _decision_by_post)})
    return _mark_substitutes(reach, _task_lists(session, lists, today)["to_decide"])


def counts_of(tasks: MyTasks) -> dict[str, int]:
    """`task_counts` from the My-tasks page's own lists, which use the same conditions; the
    page then needs no second query for its header."""
    counts = {
        "staff": len(tasks.to_do),
        "decide": len(tasks.to_decide),
        "confirm": len(tasks.to_confirm),
        "answer": len(tasks.to_answer),
    }
    counts["total"] = sum(counts.values())
    return counts


def _plays(reach: Reach, pick: StatePick) -> bool:
    """Whether the user plays, somewhere, the actor role of a state `pick` chooses."""
    return any(
        reach.plays_somewhere(definition.roles[state.actor])
        for definition in all_definitions()
        for name, state in definition.states.items()
        if state.actor and pick(definition, name, state)
    )
