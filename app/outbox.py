"""The outbox writer: queue e-mail inside the caller's transaction.

It sits below both the workflow engine (transition mails) and the scheduler jobs
(reminders, escalations, digests), which both write through it; delivery (in
`notifications`) reads the rows after commit, in the scheduler process, never in a web
request. Each kind of mail is one template in notifications/templates/mail/<kind>.txt whose
first line is `Subject: ...`; the rest is the plain-text body.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.orm import Session

from app.calendar import wareki_fiscal_year
from app.models import OutboxMessage, OutboxStatus, User
from app.models.bulk import insert_new

TEMPLATES = Path(__file__).parent.parent / "notifications" / "templates"


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        # Templates ship with the code: no stat of the file for each of many mails.
        auto_reload=False,
    )
    # Years as the pages write them (令和8年度), not as stored (2026).
    env.filters["fy"] = wareki_fiscal_year
    return env


def _no_links(*args, **kwargs) -> str:
    return ""


def render(
    kind: str, context: dict, *, base_url: str = "", decision_url=_no_links
) -> tuple[str, str]:
    """Render a mail kind to (subject, text body).

    `base_url` prefixes the links to the site; `decision_url(cycle_id, version)` makes a
    signed link to a decision page. Both are given at delivery, where the settings are
    known; when the row is queued they are left empty, for the notification log.
    """
    text = (
        _env()
        .get_template(f"mail/{kind}.txt")
        .render(**context, base_url=base_url, decision_url=decision_url)
    )
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"mail template {kind} must start with 'Subject:'")
    return first.removeprefix("Subject:").strip(), body.lstrip("\n")


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient: User,
    context: dict,
    now: datetime,
    cycle_id: int | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Add one rendered message for `recipient` to the outbox (flushed, not committed)."""
    context = {**context, "recipient_name": recipient.name}
    subject, body = render(kind, context)
    message = OutboxMessage(
        kind=kind,
        recipient_id=recipient.id,
        to_address=recipient.email,
        subject=subject,
        body_text=body,
        context=context,
        cycle_id=cycle_id,
        dedupe_key=dedupe_key,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(message)
    session.flush()
    return message


def outbox_row(
    *,
    kind: str,
    recipient_id: int,
    name: str,
    email: str,
    context: dict,
    now: datetime,
    cycle_id: int | None = None,
    dedupe_key: str | None = None,
) -> dict:
    """One rendered outbox row as values for a bulk insert (`enqueue_rows`)."""
    context = {**context, "recipient_name": name}
    subject, body = render(kind, context)
    return {
        "kind": kind,
        "recipient_id": recipient_id,
        "to_address": email,
        "subject": subject,
        "body_text": body,
        "body_html": "",
        "context": context,
        "cycle_id": cycle_id,
        "dedupe_key": dedupe_key,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "last_error": "",
        "message_id": "",
    }


def enqueue_rows(session: Session, rows: list[dict]) -> dict[str, int]:
    """Add many outbox rows in a few statements; {dedupe_key: id} of those added (a row
    whose dedupe key is already queued is skipped)."""
    table = OutboxMessage.__table__
    added = insert_new(session, table, rows, (table.c.id, table.c.dedupe_key))
    return {key: ident for ident, key in added}
