"""Digests: a user who asked for them gets the day's held reminders in one mail."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.calendar import local_date
from app.models import DispatchStatus, NotificationDispatch, OutboxMessage
from app.outbox import enqueue

from .context import day_label
from .state import TickReport


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
