"""Manual reminders (督促) sent by the secretariat from its console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.models import Cycle, OutboxMessage, User
from app.outbox import enqueue

from .context import cycle_context


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
