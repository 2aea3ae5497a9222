"""Manual reminders (督促) sent by the secretariat from its console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.calendar import local_date
from app.models import Cycle, OutboxMessage, Stage, User
from workflows.deadlines import schedule_for, stage_due
from workflows.labels import state_info

from .jobs import _context
from .outbox import enqueue


def cycle_context(session: Session, cycle: Cycle, now: datetime) -> dict:
    """What the mail templates know about a cycle: item, FY (和暦), state, deadline."""
    stage = state_info(cycle.state).get("stage")
    today = local_date(now)
    if stage is None:
        context = _context(cycle, "plan", today, today)
        context.update(
            stage="", stage_label="", due_on="", due_label="", days_left=0, days_overdue=0
        )
        return context
    due = stage_due(cycle, Stage(stage), schedule_for(session, cycle.fiscal_year))
    return _context(cycle, stage, due, today)


def nudge(
    session: Session,
    cycle: Cycle,
    recipient: User,
    *,
    sender: User,
    message: str,
    now: datetime,
) -> OutboxMessage:
    """Queue the secretariat's reminder about `cycle` to `recipient` (flushed)."""
    context = {
        **cycle_context(session, cycle, now),
        "message": message.strip(),
        "sender_name": sender.name,
    }
    return enqueue(
        session, kind="nudge", recipient=recipient, context=context, now=now, cycle_id=cycle.id
    )
