"""The scheduler's jobs: each one an idempotent "due and not yet done" pass.

`tick(session, now, settings)` runs them all once. Nothing here reads the clock: `now`
(aware) is given. A row in `notification_dispatch`, whose unique key is (cycle, rule, step,
due date, recipient), is inserted in the same transaction as the outbox row it causes, with
"on conflict do nothing": a second tick, a second process or a replay cannot send twice.

Reminders. For a deadline D and the schedule's offsets (14, 7, 1, 0 by default), step k is
due on the business day on or before D - k days. On a given day the *current* step is the
smallest k whose day has come; it is sent (once) to the people who must act now, provided
they were already the ones to act on the step's day (a submission or a send-back brings its
own transition mail). Earlier steps that the current one supersedes are not sent late; when
the scheduler was down on their day they are recorded as missed. Nothing is sent after D.

Escalations. The overdue clock starts at max(D, the day the cycle entered its state), so it
follows who must act. N business days after it (the schedule's `escalate_head_after`) the
department head (and active substitutes) get an escalation (unless the secretariat is the
one to act), M business days after it the secretariat; each repeats every
`escalation_repeat_days` days while the item stays where it is, and stops as soon as it
moves. After downtime only the current repeat is sent.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from app.calendar import (
    add_business_days,
    business_days_between,
    fiscal_year_of,
    local_date,
    previous_business_day,
    wareki_date,
    wareki_fiscal_year,
)
from app.models import (
    Cycle,
    DispatchStatus,
    FiscalYearSchedule,
    ItemStatus,
    MissedWindow,
    MissedWindowKind,
    NotificationDispatch,
    OutboxMessage,
    ReformItem,
    Role,
    SchedulerState,
    Section,
    Stage,
    User,
    UserRole,
)
from workflows.deadlines import schedule_for, stage_due
from workflows.labels import state_info, state_label

from .outbox import enqueue
from .settings import Settings

log = logging.getLogger(__name__)

REMINDER = "reminder"
ESCALATION_HEAD = "escalation_head"
ESCALATION_SECRETARIAT = "escalation_secretariat"
WEEKDAYS = "月火水木金土日"


@dataclass
class TickReport:
    """What one tick did; every count is of new rows or messages."""

    now: str = ""
    cycles_opened: int = 0
    reminders: int = 0
    held_for_digest: int = 0
    escalations: int = 0
    missed: int = 0
    digests: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    downtime: bool = False
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- helpers


def insert_ignore(session: Session, model, values: dict) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when this call inserted the row."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    table = model.__table__
    statement = (
        module.insert(table)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(*table.primary_key.columns)
    )
    # RETURNING yields no row when the key was taken (rowcount is not reliable here).
    return session.execute(statement).first() is not None


def day_label(day: date) -> str:
    """令和8年4月30日（木）."""
    return f"{wareki_date(day)}（{WEEKDAYS[day.weekday()]}）"


def reminder_days(due: date, offsets: list[int]) -> dict[int, date]:
    """The day each reminder step is due: D - k days, moved back to a business day."""
    return {k: previous_business_day(due - timedelta(days=k)) for k in sorted(set(offsets))}


def _who_must_act(cycle: Cycle, today: date) -> list[User]:
    from workflows.permissions import who_must_act

    return list(who_must_act(cycle, today))


def _department_heads(item: ReformItem, today: date) -> list[User]:
    from workflows.permissions import deciders

    return list(deciders(item, today))


def _secretariat(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.SECRETARIAT, User.active.is_(True))
            .order_by(User.id)
        )
    )


def _state(session: Session, name: str, now: datetime) -> SchedulerState:
    """The scheduler's state row, locked until the next commit (made on first use)."""
    query = select(SchedulerState).where(SchedulerState.name == name).with_for_update()
    state = session.scalars(query).first()
    if state is None:
        insert_ignore(
            session,
            SchedulerState,
            {
                "name": name,
                "last_error": "",
                "last_report": {},
                "smtp_failures": 0,
                "smtp_error": "",
                "leader": "",
                "updated_at": now,
            },
        )
        state = session.scalars(query).one()
    return state


def _context(cycle: Cycle, stage: str, due: date, today: date) -> dict:
    item = cycle.item
    section: Section = item.owning_section
    return {
        "cycle_id": cycle.id,
        "version": cycle.version,
        "item_id": item.id,
        "item_number": item.number,
        "item_title": item.title,
        "department": section.department.name,
        "section": section.name,
        "fiscal_year": cycle.fiscal_year,
        "fiscal_year_label": wareki_fiscal_year(cycle.fiscal_year),
        "state": cycle.state,
        "state_label": state_label(cycle.state),
        "stage": stage,
        "stage_label": Stage(stage).ja,
        "actor": state_info(cycle.state).get("actor", ""),
        "due_on": due.isoformat(),
        "due_label": day_label(due),
        "days_left": (due - today).days,
        "days_overdue": business_days_between(due, today),
    }


# --------------------------------------------------------------------------- jobs


def rollover(session: Session, now: datetime) -> int:
    """Open the fiscal year's cycles once 1 April has come (idempotent); the count opened."""
    from workflows.operations import open_next_cycles

    return len(open_next_cycles(session, fiscal_year_of(now), now=now) or [])


def open_cycles(session: Session) -> list[Cycle]:
    """Cycles in a state that waits on a deadline, with what the jobs need loaded."""
    waiting = [name for name in _waiting_states()]
    return list(
        session.scalars(
            select(Cycle)
            .join(ReformItem, ReformItem.id == Cycle.item_id)
            .where(Cycle.state.in_(waiting), ReformItem.status == ItemStatus.ACTIVE)
            .options(
                selectinload(Cycle.extensions),
                joinedload(Cycle.item)
                .joinedload(ReformItem.owning_section)
                .joinedload(Section.department),
            )
            .order_by(Cycle.id)
        )
    )


def _waiting_states() -> list[str]:
    from workflows.labels import _states

    return [n for n, info in _states().items() if info.get("stage") and info.get("actor")]


class _Pass:
    """State shared by the reminder and escalation passes of one tick."""

    def __init__(self, session: Session, now: datetime, previous_tick: datetime | None):
        self.session = session
        self.now = now
        self.today = local_date(now)
        self.previous_day = local_date(previous_tick) if previous_tick else None
        self._schedules: dict[int, FiscalYearSchedule] = {}
        self._secretariat: list[User] | None = None
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

    def secretariat(self) -> list[User]:
        if self._secretariat is None:
            self._secretariat = _secretariat(self.session)
        return self._secretariat

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
    run: _Pass | None = None,
) -> TickReport:
    """Queue the reminder step due today for each cycle's current actors (once each)."""
    report = report or TickReport()
    run = run or _Pass(session, now, previous_tick)
    today = run.today
    for cycle in run.cycles():
        stage = state_info(cycle.state)["stage"]
        due = stage_due(cycle, Stage(stage), run.schedule(cycle.fiscal_year))
        if today > due:
            continue
        days = reminder_days(due, run.schedule(cycle.fiscal_year).reminder_days or [])
        reached = [k for k, day in days.items() if day <= today]
        if not reached:
            continue
        current = min(reached)
        since = local_date(cycle.state_since)
        actors = [u for u in _who_must_act(cycle, today) if u.active and u.reminders_enabled]
        if not actors:
            continue
        context = _context(cycle, stage, due, today)
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
    run: _Pass | None = None,
) -> TickReport:
    """Queue the escalations due today for overdue cycles; never held, never switched off."""
    report = report or TickReport()
    run = run or _Pass(session, now, previous_tick)
    today = run.today
    for cycle in run.cycles():
        stage = state_info(cycle.state)["stage"]
        schedule = run.schedule(cycle.fiscal_year)
        due = stage_due(cycle, Stage(stage), schedule)
        if today <= due:
            continue
        clock = max(due, local_date(cycle.state_since))
        repeat = max(1, schedule.escalation_repeat_days or 7)
        for rule, after in (
            (ESCALATION_HEAD, schedule.escalate_head_after),
            (ESCALATION_SECRETARIAT, schedule.escalate_secretariat_after),
        ):
            if rule == ESCALATION_HEAD and state_info(cycle.state).get("actor") == "secretariat":
                continue  # the secretariat itself must act: only its own escalation applies
            start = add_business_days(clock, after)
            if today < start:
                continue
            current = (today - start).days // repeat
            if rule == ESCALATION_HEAD:
                recipients = _department_heads(cycle.item, today)
            else:
                recipients = run.secretariat()
            context = {
                **_context(cycle, stage, due, today),
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


def build_digests(
    session: Session, now: datetime, *, report: TickReport | None = None
) -> TickReport:
    """Gather each user's held reminders into one digest mail a day."""
    report = report or TickReport()
    today = local_date(now)
    held = session.scalars(
        select(NotificationDispatch)
        .where(NotificationDispatch.status == DispatchStatus.HELD)
        .options(selectinload(NotificationDispatch.recipient))
        .order_by(
            NotificationDispatch.recipient_id, NotificationDispatch.due_on, NotificationDispatch.id
        )
    ).all()
    by_user: dict[int, list[NotificationDispatch]] = defaultdict(list)
    for row in held:
        by_user[row.recipient_id].append(row)
    for rows in by_user.values():
        user = rows[0].recipient
        key = f"digest:{user.id}:{today.isoformat()}"
        if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
            continue  # today's digest is out; these wait for tomorrow's
        items = [dict(row.context, rule=row.rule) for row in rows]
        context = {"day_label": day_label(today), "items": items, "count": len(items)}
        try:
            with session.begin_nested():
                message = enqueue(
                    session, kind="digest", recipient=user, context=context, now=now, dedupe_key=key
                )
        except IntegrityError:
            continue  # another tick made it first
        for row in rows:
            row.status = DispatchStatus.DIGESTED
            row.digest_outbox_id = message.id
        report.digests += 1
    session.flush()
    return report


def missed_windows(session: Session, fiscal_year: int | None = None) -> list[MissedWindow]:
    """What the scheduler missed (downtime, steps not sent late), newest first."""
    query = select(MissedWindow).options(selectinload(MissedWindow.recipient))
    if fiscal_year is not None:
        query = query.where(MissedWindow.fiscal_year == fiscal_year)
    return list(session.scalars(query.order_by(MissedWindow.starts_at.desc(), MissedWindow.id)))


def scheduler_status(session: Session, name: str = "main") -> SchedulerState | None:
    """The scheduler's last tick, last success and mail-server health."""
    return session.get(SchedulerState, name)


# --------------------------------------------------------------------------- tick


def tick(
    session: Session,
    now: datetime,
    settings: Settings | None = None,
    *,
    smtp_factory=None,
    deliver: bool = True,
    extra_jobs: tuple[tuple[str, Callable[[Session, datetime], object]], ...] = (),
) -> TickReport:
    """Run every job once for `now`, committing after each; safe to run twice at once.

    `extra_jobs` are (name, job(session, now)) pairs of the app's own daily work (such as
    the secretariat's overdue snapshot), run like the others and idempotent like them.
    """
    from .delivery import deliver_outbox

    if now.tzinfo is None:
        raise ValueError("tick needs an aware datetime")
    settings = settings or Settings()
    report = TickReport(now=now.isoformat())

    state = _state(session, settings.scheduler_name, now)
    previous = state.last_tick_at
    if previous is not None and now - previous > settings.downtime_threshold:
        report.downtime = True
        session.add(
            MissedWindow(
                kind=MissedWindowKind.DOWNTIME,
                fiscal_year=fiscal_year_of(now),
                starts_at=previous,
                ends_at=now,
                detected_at=now,
                note=f"スケジューラが {previous.isoformat()} から {now.isoformat()} まで停止",
            )
        )
    if previous is None or now > previous:
        state.last_tick_at = now
    if settings.instance:
        state.leader = settings.instance
    session.commit()

    run = _Pass(session, now, previous)
    steps = (
        ("rollover", lambda: setattr(report, "cycles_opened", rollover(session, now))),
        (
            "reminders and escalations",
            lambda: (
                send_reminders(session, now, report=report, run=run),
                send_escalations(session, now, report=report, run=run),
            ),
        ),
        ("digests", lambda: build_digests(session, now, report=report)),
        *((name, lambda job=job: job(session, now)) for name, job in extra_jobs),
    )
    for name, step in steps:
        try:
            step()
            session.commit()
        except Exception as exc:  # one failing job must not stop the others
            session.rollback()
            log.exception("scheduler job %s failed", name)
            report.errors.append(f"{name}: {exc}")
    if deliver:
        try:
            deliver_outbox(session, now, settings, smtp_factory=smtp_factory, report=report)
        except Exception as exc:
            session.rollback()
            log.exception("outbox delivery failed")
            report.errors.append(f"delivery: {exc}")

    state = _state(session, settings.scheduler_name, now)
    if not report.errors:
        state.last_success_at = now
    state.last_error = "; ".join(report.errors)
    state.last_report = report.as_dict()
    session.commit()
    return report
