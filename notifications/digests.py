"""Digests: a user who asked for them gets the day's held reminders in one mail.

Set-based: one query for the held reminders with their recipients, one for the digests
already queued today, then the digests and the rows' new status written in bulk.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.calendar import local_date, tokyo_midnight
from app.models import DispatchStatus, NotificationDispatch, OutboxMessage, User
from app.models.bulk import set_column
from app.outbox import enqueue_rows, outbox_row

from .context import day_label
from .state import TickReport


def build_digests(
    session: Session, now: datetime, *, report: TickReport | None = None
) -> TickReport:
    """Gather each user's held reminders into one digest mail a day."""
    report = report or TickReport()
    today = local_date(now)
    held = session.execute(
        select(
            NotificationDispatch.id,
            NotificationDispatch.rule,
            NotificationDispatch.context,
            User.id,
            User.name,
            User.email,
        )
        .join(User, User.id == NotificationDispatch.recipient_id)
        .where(NotificationDispatch.status == DispatchStatus.HELD)
        .order_by(
            NotificationDispatch.recipient_id, NotificationDispatch.due_on, NotificationDispatch.id
        )
    ).all()
    if not held:
        return report
    suffix = f":{today.isoformat()}"
    # Today's digests already out: their users' held reminders wait for tomorrow's.
    done = set(
        session.scalars(
            select(OutboxMessage.dedupe_key).where(
                OutboxMessage.kind == "digest",
                OutboxMessage.created_at >= tokyo_midnight(today),
                OutboxMessage.created_at < tokyo_midnight(today + timedelta(days=1)),
            )
        )
    )
    by_user: dict[int, list] = defaultdict(list)
    for row in held:
        by_user[row[3]].append(row)
    mails, members = [], {}
    for user_id, rows in by_user.items():
        key = f"digest:{user_id}{suffix}"
        if key in done:
            continue
        items = [dict(row.context, rule=row.rule) for row in rows]
        context = {"day_label": day_label(today), "items": items, "count": len(items)}
        mails.append(
            outbox_row(
                kind="digest",
                recipient_id=user_id,
                name=rows[0].name,
                email=rows[0].email,
                context=context,
                now=now,
                dedupe_key=key,
            )
        )
        members[key] = [row[0] for row in rows]
    added = enqueue_rows(session, mails)  # a digest another tick made first is skipped
    links = {
        ident: added[key] for key, idents in members.items() if key in added for ident in idents
    }
    table = NotificationDispatch.__table__
    set_column(session, table, "digest_outbox_id", links)
    set_column(session, table, "status", dict.fromkeys(links, DispatchStatus.DIGESTED.value))
    report.digests += len(added)
    return report
