"""Reminders before a deadline and escalations after it: idempotent "due and not yet done".

A row in `notification_dispatch`, whose unique key is (cycle, rule, step, due date,
recipient), is inserted in the same transaction as the outbox row it causes, with "on
conflict do nothing": a second tick, a second process or a replay cannot send twice.

Reminders. For a deadline D and the schedule's offsets (14, 7, 1, 0 by default), step k is
due on the business day on or before D - k days. On a given day the *current* step is the
smallest k whose day has come; it is sent (once) to the people who must act now, provided
they were already the ones to act on the step's day (a submission or a send-back brings its
own transition mail). Earlier steps that the current one supersedes are not sent late; when
the scheduler was down on their day they are recorded as missed. Nothing is sent after D.

Escalations. The overdue clock starts at max(D, the day the cycle entered its state), so it
follows who must act. The definition names who is told at each level (`escalation:` first
and second) and each state which levels apply; the schedule gives the business days after
the clock at which each level starts (`escalate_head_after`, `escalate_secretariat_after`).
Each level repeats every `escalation_repeat_days` days while the item stays where it is,
and stops as soon as it moves. After downtime only the current repeat is sent. No
escalation goes out on a day the city hall is closed (weekend, holiday, year-end closure):
one due that day goes out on the next business day.

Set-based. The cycles waiting on a deadline fall into groups that share a definition
version, a fiscal year, a stage and so a deadline (plus the few cycles whose deadline was
extended, grouped by their new date). For each group the rule is one SQL query joining the
cycles to the people who play the role on the day (`workflows.roles.join_players`) and
leaving out the keys already taken; the new keys, outbox rows and links are written in
bulk. The number of statements depends on the definition and the calendar, never on the
number of cycles.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import exists, select, tuple_
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from app.calendar import (
    add_business_days,
    is_business_day,
    local_date,
    previous_business_day,
    tokyo_midnight,
)
from app.models import (
    Cycle,
    DeadlineExtension,
    Department,
    DispatchStatus,
    FiscalYearSchedule,
    ItemStatus,
    MissedWindow,
    MissedWindowKind,
    NotificationDispatch,
    OutboxMessage,
    ReformItem,
    Section,
    User,
)
from app.models.bulk import insert_new, insert_new_with_children, set_column
from app.outbox import enqueue_rows, outbox_row
from workflows.deadlines import adjusted, default_schedule
from workflows.definition import Definition, Role
from workflows.overdue import extension_clause, local_day, states_clause
from workflows.registry import all_definitions, versions_in
from workflows.roles import join_players

from .context import CycleFacts, day_label, facts_context
from .state import TickReport

REMINDER = "reminder"
# Dispatch keys and mail kinds of the two escalation levels; stored keys keep these names.
ESCALATION_RULES = {"first": "escalation_head", "second": "escalation_secretariat"}
# Rows of a due-and-not-yet-done query handled per round of bulk writes.
CHUNK = 2000


def reminder_days(due: date, offsets: list[int]) -> dict[int, date]:
    """The day each reminder step is due: D - k days, moved back to a business day."""
    return {k: previous_business_day(due - timedelta(days=k)) for k in sorted(set(offsets))}


def open_cycles(session: Session, *conditions) -> list[Cycle]:
    """Cycles in a state that waits on a deadline (and meeting `conditions`), with what a
    page about them needs loaded (the calendar feed)."""
    waiting = [(d.version, s) for d in all_definitions() for s in d.waiting_states]
    return list(
        session.scalars(
            select(Cycle)
            .join(ReformItem, ReformItem.id == Cycle.item_id)
            .where(states_clause(waiting), ReformItem.status == ItemStatus.ACTIVE, *conditions)
            .options(
                selectinload(Cycle.extensions),
                joinedload(Cycle.item)
                .joinedload(ReformItem.owning_section)
                .joinedload(Section.department),
            )
            .order_by(Cycle.id)
        )
    )


@dataclass(frozen=True)
class Group:
    """Open cycles sharing a definition version, a fiscal year, a stage and its deadline."""

    definition: Definition
    fiscal_year: int
    stage: str
    states: tuple[str, ...]
    due: date  # the business-day deadline
    extended_to: date | None  # None: cycles without an extension of the stage

    def where(self, states: tuple[str, ...] | list[str]) -> list:
        conditions = [
            states_clause([(self.definition.version, s) for s in states]),
            Cycle.fiscal_year == self.fiscal_year,
            ReformItem.status == ItemStatus.ACTIVE,
        ]
        if self.extended_to is None:
            conditions.append(~extension_clause(self.stage))
        else:
            conditions.append(extension_clause(self.stage, due_on=self.extended_to))
        return conditions


class Pass:
    """State shared by the reminder and escalation passes of one tick."""

    def __init__(self, session: Session, now: datetime, previous_tick: datetime | None):
        self.session = session
        self.now = now
        self.today = local_date(now)
        self.previous_day = local_date(previous_tick) if previous_tick else None
        self.dialect = session.get_bind().dialect.name
        self._schedules: dict[int, FiscalYearSchedule] = {}
        self._groups: list[Group] | None = None

    def was_down_on(self, day: date) -> bool:
        """Whether no tick ran on `day` although the scheduler had run before it."""
        return self.previous_day is not None and self.previous_day < day < self.today

    def schedule(self, fiscal_year: int) -> FiscalYearSchedule:
        return self._schedules.get(fiscal_year) or default_schedule(fiscal_year)

    def groups(self) -> list[Group]:
        """The groups of open cycles today (two or three queries, whatever their number)."""
        if self._groups is None:
            self._groups = self._load_groups()
        return self._groups

    def _load_groups(self) -> list[Group]:
        known = versions_in()
        waiting = [(d.version, s) for d in all_definitions() for s in d.waiting_states]
        ext, later = aliased(DeadlineExtension), aliased(DeadlineExtension)
        latest = sa.and_(
            ext.cycle_id == Cycle.id,
            ~exists().where(
                later.cycle_id == ext.cycle_id,
                later.stage == ext.stage,
                sa.or_(
                    later.created_at > ext.created_at,
                    sa.and_(later.created_at == ext.created_at, later.id > ext.id),
                ),
            ),
        )
        rows = self.session.execute(
            select(Cycle.definition_version, Cycle.fiscal_year, Cycle.state, ext.stage, ext.due_on)
            .distinct()
            .join(ReformItem, ReformItem.id == Cycle.item_id)
            .outerjoin(ext, latest)
            .where(states_clause(waiting), ReformItem.status == ItemStatus.ACTIVE)
        ).all()
        years = sorted({fy for _v, fy, *_rest in rows})
        if years:
            self._schedules = {
                s.fiscal_year: s
                for s in self.session.scalars(
                    select(FiscalYearSchedule).where(FiscalYearSchedule.fiscal_year.in_(years))
                )
            }
        states: dict[tuple, set[str]] = defaultdict(set)
        for version, fiscal_year, state, ext_stage, ext_due in rows:
            definition = known[version]
            stage = definition.stage_of(state)
            extended_to = ext_due if ext_stage == stage else None
            states[(version, fiscal_year, stage, extended_to)].add(state)
        groups = []
        for (version, fiscal_year, stage, extended_to), names in sorted(
            states.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3] or date.min)
        ):
            definition = known[version]
            if extended_to is not None:
                due = adjusted(extended_to)
            else:
                schedule = self.schedule(fiscal_year)
                set_on = schedule.due_for(stage)
                due = adjusted(set_on or definition.stages[stage].default_due(fiscal_year))
            groups.append(
                Group(definition, fiscal_year, stage, tuple(sorted(names)), due, extended_to)
            )
        return groups

    # -- the due-and-not-yet-done rows -------------------------------------------------

    def candidates(
        self,
        group: Group,
        states: tuple[str, ...],
        role: Role,
        rule: str,
        step,
        due_on,
        *conditions,
        decides: bool = False,
    ) -> Iterator[list[sa.Row]]:
        """Rows (facts, recipient, step, due_on) of the group's cycles in `states` and the
        people playing `role` whose key (cycle, rule, step, due_on, recipient) is not yet
        taken when the read begins, in batches ordered by cycle and recipient (`record`
        skips a key taken since, by this pass or another)."""
        taken = exists().where(
            NotificationDispatch.cycle_id == Cycle.id,
            NotificationDispatch.rule == rule,
            NotificationDispatch.step == step,
            NotificationDispatch.due_on == due_on,
            NotificationDispatch.recipient_id == User.id,
        )
        query = (
            select(
                Cycle.id,
                Cycle.version,
                Cycle.state,
                Cycle.fiscal_year,
                ReformItem.id,
                ReformItem.number,
                ReformItem.title,
                Section.name,
                Department.name,
                User.id.label("user_id"),
                User.name.label("user_name"),
                User.email,
                User.wants_digest,
                User.reminders_enabled,
                sa.type_coerce(step, sa.Integer).label("step"),
                sa.type_coerce(due_on, sa.Date).label("due_on"),
            )
            .select_from(Cycle)
            .join(ReformItem, ReformItem.id == Cycle.item_id)
            .join(Section, Section.id == ReformItem.owning_section_id)
            .join(Department, Department.id == Section.department_id)
        )
        query = join_players(query, role, self.today).where(
            *group.where(states), *conditions, ~taken
        )
        if decides:
            # Nobody is asked to decide on their own submission.
            query = query.where(
                sa.or_(Cycle.submitted_by_id.is_(None), Cycle.submitted_by_id != User.id)
            )
        query = query.order_by(Cycle.id, User.id)
        if self.dialect == "postgresql":
            # One statement read through a server-side cursor: a page by page query would
            # run the join again for every page.
            result = self.session.execute(query.execution_options(yield_per=CHUNK))
            yield from (list(rows) for rows in result.partitions())
            return
        query = query.limit(CHUNK)
        last = None
        while True:
            page = query
            if last is not None:
                page = query.where(tuple_(Cycle.id, User.id) > tuple_(*map(sa.literal, last)))
            rows = self.session.execute(page).all()
            if rows:
                yield rows
            if len(rows) < CHUNK:
                return
            last = (rows[-1][0], rows[-1].user_id)

    # -- bulk writes ---------------------------------------------------------------------

    def record(
        self,
        rows: list[sa.Row],
        group: Group,
        rule: str,
        kind: str,
        contexts: dict[int, dict],
        status_of,
        numbered=("step",),
    ) -> tuple[list[tuple], list[tuple]]:
        """Take the keys of `rows` (those not taken meanwhile) and queue the mail of those
        whose status is QUEUED; the taken (row, status) pairs by status kind."""
        values, seen = [], set()
        for row in rows:
            key = (row[0], row.user_id)
            if key in seen:  # one person reached through two posts
                continue
            seen.add(key)
            status = status_of(row)
            # A held reminder waits for the digest, which reads its context; a queued one
            # has it in its outbox row.
            context = (
                {**contexts[row[0]], **dict.fromkeys(numbered, row.step)}
                if status is DispatchStatus.HELD
                else {}
            )
            values.append(
                {
                    "cycle_id": row[0],
                    "rule": rule,
                    "step": row.step,
                    "due_on": row.due_on,
                    "recipient_id": row.user_id,
                    "state": row.state,
                    "status": status,
                    "decided_at": self.now,
                    "outbox_id": None,
                    "digest_outbox_id": None,
                    "context": context,
                }
            )
        table = NotificationDispatch.__table__
        returning = (table.c.id, table.c.cycle_id, table.c.recipient_id, table.c.status)
        by_key = {(r[0], r.user_id): r for r in rows}

        def mail(cycle_id: int, user_id: int) -> dict:
            row = by_key[(cycle_id, user_id)]
            return outbox_row(
                kind=kind,
                recipient_id=user_id,
                name=row.user_name,
                email=row.email,
                context={**contexts[cycle_id], **dict.fromkeys(numbered, row.step)},
                now=self.now,
                cycle_id=cycle_id,
                dedupe_key=f"{rule}:{cycle_id}:{row.step}:{row.due_on}:{user_id}",
            )

        if self.dialect == "postgresql":
            # The keys and the mails of the keys taken, in one statement per batch.
            mails = [
                mail(v["cycle_id"], v["recipient_id"])
                if v["status"] is DispatchStatus.QUEUED
                else None
                for v in values
            ]
            taken = insert_new_with_children(
                self.session, table, values, returning, OutboxMessage.__table__, mails, "outbox_id"
            )
        else:
            taken = insert_new(self.session, table, values, returning)
            queued_rows = [t for t in taken if DispatchStatus(t[3]) is DispatchStatus.QUEUED]
            mails = [mail(cycle_id, user_id) for _i, cycle_id, user_id, _s in queued_rows]
            added = enqueue_rows(self.session, mails)
            set_column(
                self.session,
                table,
                "outbox_id",
                {
                    t[0]: added[m["dedupe_key"]]
                    for t, m in zip(queued_rows, mails, strict=True)
                    if m["dedupe_key"] in added
                },
            )
        queued, other = [], []
        for ident, cycle_id, user_id, status in taken:
            row = by_key[(cycle_id, user_id)]
            if DispatchStatus(status) is DispatchStatus.QUEUED:
                queued.append((ident, row))
            else:
                other.append((ident, row, DispatchStatus(status)))
        return queued, other

    def missed(self, entries: list[tuple[sa.Row, str, int, date, date, dict, str]]) -> int:
        """Record steps that can no longer be sent usefully (the scheduler was down on
        their day): a MISSED key each, and a missed window for the secretariat's log."""
        values = {}
        for row, rule, step, due_on, _target, context, _note in entries:
            values[(row[0], rule, step, due_on, row.user_id)] = {
                "cycle_id": row[0],
                "rule": rule,
                "step": step,
                "due_on": due_on,
                "recipient_id": row.user_id,
                "state": row.state,
                "status": DispatchStatus.MISSED,
                "decided_at": self.now,
                "outbox_id": None,
                "digest_outbox_id": None,
                "context": context,
            }
        table = NotificationDispatch.__table__
        taken = insert_new(
            self.session,
            table,
            list(values.values()),
            (table.c.cycle_id, table.c.rule, table.c.step, table.c.due_on, table.c.recipient_id),
        )
        new = {tuple(t) for t in taken}
        windows = []
        for row, rule, step, due_on, target, _context, note in entries:
            key = (row[0], rule, step, due_on, row.user_id)
            if key not in new:
                continue
            new.discard(key)
            windows.append(
                {
                    "kind": MissedWindowKind.REMINDER
                    if rule == REMINDER
                    else MissedWindowKind.ESCALATION,
                    "fiscal_year": row.fiscal_year,
                    "starts_at": self.now,
                    "ends_at": self.now,
                    "detected_at": self.now,
                    "cycle_id": row[0],
                    "recipient_id": row.user_id,
                    "rule": rule,
                    "step": step,
                    "target_on": target,
                    "note": note,
                }
            )
        if windows:
            self.session.execute(sa.insert(MissedWindow), windows)
        return len(windows)

    def contexts(self, rows: list[sa.Row], group: Group, due: date, extra=None) -> dict:
        found = {}
        for row in rows:
            if row[0] not in found:
                facts = CycleFacts(*row[:9])
                found[row[0]] = {
                    **facts_context(group.definition, facts, group.stage, due, self.today),
                    **(extra(row) if extra else {}),
                }
        return found


def _status_of(row) -> DispatchStatus:
    return DispatchStatus.HELD if row.wants_digest else DispatchStatus.QUEUED


def send_reminders(
    session: Session,
    now: datetime,
    *,
    previous_tick: datetime | None = None,
    report: TickReport | None = None,
    run: Pass | None = None,
) -> TickReport:
    """Queue the reminder step due today for each cycle's current actors (once each)."""
    report = report or TickReport()
    run = run or Pass(session, now, previous_tick)
    today = run.today
    for group in run.groups():
        if today > group.due:
            continue
        days = reminder_days(group.due, run.schedule(group.fiscal_year).reminder_days or [])
        reached = [k for k, day in days.items() if day <= today]
        if not reached:
            continue
        current = min(reached)
        by_actor: dict[tuple[str, bool], list[str]] = defaultdict(list)
        for name in group.states:
            state = group.definition.states[name]
            if state.actor:
                by_actor[(state.actor, name in group.definition.deciding_states)].append(name)
        for (actor, decides), names in by_actor.items():
            role = group.definition.roles[actor]
            # Actors since the step's day: the state began on that day or before.
            for k in sorted(reached):
                if k != current and not run.was_down_on(days[k]):
                    continue
                began = Cycle.state_since < tokyo_midnight(days[k] + timedelta(days=1))
                for rows in run.candidates(
                    group,
                    tuple(names),
                    role,
                    REMINDER,
                    sa.literal(k),
                    sa.literal(group.due, sa.Date),
                    began,
                    User.reminders_enabled.is_(True),
                    decides=decides,
                ):
                    contexts = run.contexts(rows, group, group.due)
                    if k == current:
                        queued, held = run.record(
                            rows, group, REMINDER, "reminder", contexts, _status_of
                        )
                        report.reminders += len(queued)
                        report.held_for_digest += len(held)
                        continue
                    note = f"{k}日前のリマインダー（{day_label(days[k])}）は停止中のため送信せず"
                    report.missed += run.missed(
                        [
                            (
                                row,
                                REMINDER,
                                k,
                                group.due,
                                days[k],
                                {**contexts[row[0]], "step": k},
                                note,
                            )
                            for row in rows
                        ]
                    )
    return report


@dataclass(frozen=True)
class _Level:
    """When an escalation level starts and which repeat is due, by overdue-clock date."""

    clock_to: date  # the latest clock date for which the level has started
    buckets: list[tuple[date, int]]  # (last clock date, repeat) ascending by date
    starts: dict[date, date]  # clock date -> the level's first day


def _level(due: date, today: date, after: int, repeat: int) -> _Level | None:
    buckets: list[tuple[date, int]] = []
    starts: dict[date, date] = {}
    clock = due
    while clock <= today:
        start = add_business_days(clock, after)
        if start > today:
            break
        starts[clock] = start
        step = (today - start).days // repeat
        if buckets and buckets[-1][1] == step:
            buckets[-1] = (clock, step)
        else:
            buckets.append((clock, step))
        clock += timedelta(days=1)
    if not buckets:
        return None
    return _Level(buckets[-1][0], buckets, starts)


def send_escalations(
    session: Session,
    now: datetime,
    *,
    previous_tick: datetime | None = None,
    report: TickReport | None = None,
    run: Pass | None = None,
) -> TickReport:
    """Queue the escalations due today for overdue cycles; never held, never switched off,
    never on a closed day."""
    report = report or TickReport()
    run = run or Pass(session, now, previous_tick)
    today = run.today
    if not is_business_day(today):
        return report  # what falls due today goes out on the next business day
    since = local_day(Cycle.state_since, run.dialect)
    for group in run.groups():
        if today <= group.due:
            continue
        schedule = run.schedule(group.fiscal_year)
        repeat = max(1, schedule.escalation_repeat_days or 7)
        due = sa.literal(group.due, sa.Date)
        clock = sa.case((since > due, since), else_=due)
        for level, rule in ESCALATION_RULES.items():
            role_name = group.definition.escalation.get(level)
            names = tuple(s for s in group.states if level in group.definition.states[s].escalate)
            if role_name is None or not names:
                continue  # e.g. the secretariat itself must act: only its own level applies
            timing = _level(group.due, today, schedule.escalation_after(level), repeat)
            if timing is None:
                continue
            step = sa.case(*((clock <= sa.literal(last, sa.Date), n) for last, n in timing.buckets))
            for rows in run.candidates(
                group,
                names,
                group.definition.roles[role_name],
                rule,
                step,
                clock,
                clock <= sa.literal(timing.clock_to, sa.Date),
            ):
                contexts = run.contexts(
                    rows,
                    group,
                    group.due,
                    lambda row: {
                        "clock_on": row.due_on.isoformat(),
                        "clock_label": day_label(row.due_on),
                    },
                )
                # The clock differs per cycle: its own context, its repeat number.
                missed = []
                for row in rows:
                    start = timing.starts[row.due_on]
                    for r in range(row.step):
                        target = start + timedelta(days=r * repeat)
                        if run.was_down_on(target):
                            missed.append(
                                (
                                    row,
                                    rule,
                                    r,
                                    row.due_on,
                                    target,
                                    {**contexts[row[0]], "step": r},
                                    f"督促（{day_label(target)}分）は停止中のため、"
                                    "再開後の督促にまとめて送信",
                                )
                            )
                if missed:
                    report.missed += run.missed(missed)
                queued, _ = run.record(
                    rows,
                    group,
                    rule,
                    rule,
                    contexts,
                    lambda row: DispatchStatus.QUEUED,
                    numbered=("step", "repeat"),
                )
                report.escalations += len(queued)
    return report


__all__ = [
    "ESCALATION_RULES",
    "REMINDER",
    "open_cycles",
    "Pass",
    "reminder_days",
    "send_escalations",
    "send_reminders",
]
