"""The secretariat's actions; each one is written to the audit log and only flushed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.calendar import local_date
from app.models import Cycle, DeadlineExtension, FiscalYearSchedule, OverdueSnapshot, User
from app.text import ActionError, _
from workflows.deadlines import adjusted, due_date, schedule_for, stage_of, year_locked

from .service import Filters


def refuse_if_locked(session: Session, fiscal_year: int) -> None:
    if year_locked(session, fiscal_year):
        raise ActionError(
            _("%(year)s年度は確定（ロック）済みのため変更できません。", year=fiscal_year)
        )


def nudge(
    session: Session, cycles: Iterable[Cycle], *, by: User, now: datetime, message: str = ""
) -> int:
    """Send a manual reminder to whoever must act on each cycle; returns the mails queued."""
    from notifications.nudges import nudge as queue_nudge
    from workflows.audit import record
    from workflows.permissions import who_must_act

    today = local_date(now)
    sent = 0
    cycles = list(cycles)
    if not cycles:
        raise ActionError(_("督促する項目を選んでください。"))
    for cycle in cycles:
        refuse_if_locked(session, cycle.fiscal_year)
    for cycle in cycles:
        if stage_of(cycle) is None:
            continue
        recipients = list(who_must_act(cycle, today))
        for recipient in recipients:
            queue_nudge(session, cycle, recipient, sender=by, message=message, now=now)
            sent += 1
        record(
            session,
            scope=f"cycle:{cycle.id}",
            action="nudge",
            now=now,
            actor=by,
            cycle=cycle,
            comment=message,
            data={"recipients": [u.id for u in recipients]},
        )
    session.flush()
    return sent


def extend_deadline(
    session: Session, cycle: Cycle, *, by: User, now: datetime, due_on: date, reason: str
) -> DeadlineExtension:
    """Move the deadline of the cycle's current stage, with a reason."""
    from workflows.audit import record

    refuse_if_locked(session, cycle.fiscal_year)
    stage = stage_of(cycle)
    if stage is None:
        raise ActionError(_("この状態の項目には期限がありません。"))
    reason = (reason or "").strip()
    if not reason:
        raise ActionError(_("期限延長の理由を入力してください。"))
    if due_on < local_date(now):
        raise ActionError(_("新しい期限に過去の日付は指定できません。"))
    previous = due_date(session, cycle)
    if previous is not None and adjusted(due_on) <= previous:
        raise ActionError(_("新しい期限は現在の期限より後の日付にしてください。"))
    extension = DeadlineExtension(
        cycle=cycle, stage=stage, due_on=due_on, reason=reason, created_by_id=by.id, created_at=now
    )
    session.add(extension)
    session.flush()
    record(
        session,
        scope=f"cycle:{cycle.id}",
        action="extend_deadline",
        now=now,
        actor=by,
        cycle=cycle,
        comment=reason,
        data={
            "stage": stage,
            "from": previous.isoformat() if previous else None,
            "to": due_on.isoformat(),
        },
    )
    return extension


def fire(
    session: Session,
    cycle: Cycle,
    trigger: str,
    *,
    by: User,
    now: datetime,
    comment: str = "",
    expected_version: int | None = None,
) -> None:
    """Fire a transition of the cycle's workflow through the engine (it checks the right,
    the reason, the year lock and the guards, and records it)."""
    from workflows import operations

    refuse_if_locked(session, cycle.fiscal_year)
    operations.fire(
        cycle,
        trigger,
        by=by,
        now=now,
        comment=(comment or "").strip(),
        expected_version=expected_version,
    )


def lock_fiscal_year(
    session: Session, fiscal_year: int, *, by: User, now: datetime
) -> FiscalYearSchedule:
    """Close a fiscal year to further edits and transitions."""
    from workflows.audit import record

    refuse_if_locked(session, fiscal_year)
    schedule = schedule_for(session, fiscal_year)
    if schedule.id is None:
        session.add(schedule)
    schedule.locked_at = now
    schedule.locked_by_id = by.id
    session.flush()
    record(
        session,
        scope=f"fy:{fiscal_year}",
        action="lock_fiscal_year",
        now=now,
        actor=by,
        data={"fiscal_year": fiscal_year},
    )
    return schedule


def overdue_history(session: Session, filters: Filters) -> list[OverdueSnapshot]:
    """The last snapshot of each week of the fiscal year, oldest first."""
    rows = session.scalars(
        select(OverdueSnapshot)
        .where(OverdueSnapshot.fiscal_year == filters.fiscal_year)
        .order_by(OverdueSnapshot.taken_on)
    ).all()
    weekly: dict[tuple[int, int], OverdueSnapshot] = {}
    for row in rows:
        weekly[row.taken_on.isocalendar()[:2]] = row
    return list(weekly.values())
