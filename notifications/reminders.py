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
and stops as soon as it moves. After downtime only the current repeat is sent.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from app.calendar import add_business_days, local_date, previous_business_day
from app.models import (
    Cycle,
    DispatchStatus,
    FiscalYearSchedule,
    ItemStatus,
    MissedWindow,
    MissedWindowKind,
    NotificationDispatch,
    ReformItem,
    Section,
    User,
)
from app.outbox import enqueue
from workflows.deadlines import schedule_for, stage_due
from workflows.overdue import states_clause
from workflows.permissions import role_people, who_must_act
from workflows.registry import all_definitions, definition_of

from .context import day_label, mail_context
from .state import TickReport, insert_ignore

REMINDER = "reminder"
# Dispatch keys and mail kinds of the two escalation levels; stored keys keep these names.
ESCALATION_RULES = {"first": "escalation_head", "second": "escalation_secretariat"}


def reminder_days(due: date, offsets: list[int]) -> dict[int, date]:
    """The day each reminder step is due: D - k days, moved back to a business day."""
    return {k: previous_business_day(due - timedelta(days=k)) for k in sorted(set(offsets))}


def open_cycles(session: Session, *conditions) -> list[Cycle]:
    """Cycles in a state that waits on a deadline (and meeting `conditions`), with what the
    jobs need loaded."""
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


class Pass:
    """State shared by the reminder and escalation passes of one tick."""

    def __init__(self, session: Session, now: datetime, previous_tick: datetime | None):
        self.session = session
        self.now = now
        self.today = local_date(now)
        self.previous_day = local_date(previous_tick) if previous_tick else None
        self._schedules: dict[int, FiscalYearSchedule] = {}
        self._cycles: list[Cycle] | None = None
        self._known: set[tuple] | None = None

    def cycles(self) -> list[Cycle]:
        if self._cycles is None:
            self._cycles = open_cycles(self.session)
        return self._cycles

    def known(self) -> set[tuple]:
        """Dispatch keys already taken for the open cycles (read once; the key decides)."""
        if self._known is None:
            ids = [c.id for c in self.cycles()]
            rows = (
                self.session.execute(
                    select(
                        NotificationDispatch.cycle_id,
                        NotificationDispatch.rule,
                        NotificationDispatch.step,
                        NotificationDispatch.due_on,
                        NotificationDispatch.recipient_id,
                    ).where(NotificationDispatch.cycle_id.in_(ids))
                )
                if ids
                else []
            )
            self._known = {tuple(row) for row in rows}
        return self._known

    def schedule(self, fiscal_year: int) -> FiscalYearSchedule:
        if fiscal_year not in self._schedules:
            self._schedules[fiscal_year] = schedule_for(self.session, fiscal_year)
        return self._schedules[fiscal_year]

    def was_down_on(self, day: date) -> bool:
        """Whether no tick ran on `day` although the scheduler had run before it."""
        return self.previous_day is not None and self.previous_day < day < self.today

    def dispatch(
        self,
        cycle: Cycle,
        rule: str,
        step: int,
        due_on: date,
        user: User,
        status: DispatchStatus,
        context: dict,
    ) -> bool:
        key = (cycle.id, rule, step, due_on, user.id)
        if key in self.known():
            return False
        self.known().add(key)
        return insert_ignore(
            self.session,
            NotificationDispatch,
            {
                "cycle_id": cycle.id,
                "rule": rule,
                "step": step,
                "due_on": due_on,
                "recipient_id": user.id,
                "state": cycle.state,
                "status": status,
                "decided_at": self.now,
                "context": context,
            },
        )

    def send(
        self, cycle: Cycle, kind: str, rule: str, step: int, due_on: date, user: User, context: dict
    ) -> None:
        """Queue the mail and point the dispatch row at it (the row was just inserted)."""
        message = enqueue(
            self.session,
            kind=kind,
            recipient=user,
            context=context,
            now=self.now,
            cycle_id=cycle.id,
            dedupe_key=f"{rule}:{cycle.id}:{step}:{due_on}:{user.id}",
        )
        self.session.execute(
            sa.update(NotificationDispatch)
            .where(
                NotificationDispatch.cycle_id == cycle.id,
                NotificationDispatch.rule == rule,
                NotificationDispatch.step == step,
                NotificationDispatch.due_on == due_on,
                NotificationDispatch.recipient_id == user.id,
            )
            .values(outbox_id=message.id)
        )

    def missed(
        self,
        cycle: Cycle,
        kind: MissedWindowKind,
        rule: str,
        step: int,
        due_on: date,
        target: date,
        user: User,
        context: dict,
        note: str,
    ) -> bool:
        if not self.dispatch(cycle, rule, step, due_on, user, DispatchStatus.MISSED, context):
            return False
        self.session.add(
            MissedWindow(
                kind=kind,
                fiscal_year=cycle.fiscal_year,
                starts_at=self.now,
                ends_at=self.now,
                detected_at=self.now,
                cycle_id=cycle.id,
                recipient_id=user.id,
                rule=rule,
                step=step,
                target_on=target,
                note=note,
            )
        )
        return True


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
    for cycle in run.cycles():
        stage = definition_of(cycle).stage_of(cycle.state)
        due = stage_due(cycle, stage, run.schedule(cycle.fiscal_year))
        if today > due:
            continue
        days = reminder_days(due, run.schedule(cycle.fiscal_year).reminder_days or [])
        reached = [k for k, day in days.items() if day <= today]
        if not reached:
            continue
        current = min(reached)
        since = local_date(cycle.state_since)
        actors = [u for u in who_must_act(cycle, today) if u.active and u.reminders_enabled]
        if not actors:
            continue
        context = mail_context(cycle, stage, due, today)
        for k in reached:
            if since > days[k]:
                continue  # the actors took over after this step's day
            for user in actors:
                ctx = {**context, "step": k}
                if k != current:
                    if run.was_down_on(days[k]) and run.missed(
                        cycle,
                        MissedWindowKind.REMINDER,
                        REMINDER,
                        k,
                        due,
                        days[k],
                        user,
                        ctx,
                        f"{k}日前のリマインダー（{day_label(days[k])}）は停止中のため送信せず",
                    ):
                        report.missed += 1
                    continue
                status = DispatchStatus.HELD if user.wants_digest else DispatchStatus.QUEUED
                if not run.dispatch(cycle, REMINDER, k, due, user, status, ctx):
                    continue
                if status is DispatchStatus.HELD:
                    report.held_for_digest += 1
                else:
                    run.send(cycle, "reminder", REMINDER, k, due, user, ctx)
                    report.reminders += 1
    return report


def send_escalations(
    session: Session,
    now: datetime,
    *,
    previous_tick: datetime | None = None,
    report: TickReport | None = None,
    run: Pass | None = None,
) -> TickReport:
    """Queue the escalations due today for overdue cycles; never held, never switched off."""
    report = report or TickReport()
    run = run or Pass(session, now, previous_tick)
    today = run.today
    for cycle in run.cycles():
        definition = definition_of(cycle)
        state = definition.states[cycle.state]
        stage = state.stage
        schedule = run.schedule(cycle.fiscal_year)
        due = stage_due(cycle, stage, schedule)
        if today <= due:
            continue
        clock = max(due, local_date(cycle.state_since))
        repeat = max(1, schedule.escalation_repeat_days or 7)
        for level, rule in ESCALATION_RULES.items():
            role = definition.escalation.get(level)
            if role is None or level not in state.escalate:
                continue  # e.g. the secretariat itself must act: only its own level applies
            start = add_business_days(clock, schedule.escalation_after(level))
            if today < start:
                continue
            current = (today - start).days // repeat
            recipients = role_people(cycle, role, today)
            context = {
                **mail_context(cycle, stage, due, today),
                "clock_on": clock.isoformat(),
                "clock_label": day_label(clock),
            }
            for user in recipients:
                if not user.active:
                    continue
                for r in range(current):
                    target = start + timedelta(days=r * repeat)
                    if run.was_down_on(target) and run.missed(
                        cycle,
                        MissedWindowKind.ESCALATION,
                        rule,
                        r,
                        clock,
                        target,
                        user,
                        {**context, "step": r},
                        f"督促（{day_label(target)}分）は停止中のため、再開後の督促にまとめて送信",
                    ):
                        report.missed += 1
                ctx = {**context, "step": current, "repeat": current}
                if run.dispatch(cycle, rule, current, clock, user, DispatchStatus.QUEUED, ctx):
                    run.send(cycle, rule, rule, current, clock, user, ctx)
                    report.escalations += 1
    return report
