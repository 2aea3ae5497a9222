"""Send the outbox over SMTP: one connection per batch, one commit per message.

Guarantee: a row is marked sent in the same commit that follows the server's acceptance.
If the process dies between the server accepting a message and that commit, the row is
still pending and is sent again later with the same Message-ID: delivery is at-least-once
at the SMTP boundary, and such a repeat is recognisable by its Message-ID. A process dying
anywhere else (before the SMTP transaction, between messages, inside the other jobs)
sends nothing twice and loses nothing.

Errors: while the server cannot be reached nothing is spent (the message's attempts stay
as they are) and the server is tried again with a growing pause (`smtp_retry_at`). A
message refused with a temporary error (4xx) is retried with exponential backoff and
marked failed after `max_attempts`; a permanent refusal (5xx) is marked failed at once.
Failed rows stay in the table with their last error; `flask outbox retry` requeues them.
Each message is isolated: a malformed one (an address with a line break, one no mail
server would take, a header that cannot be written) or one the server refuses for good is
marked failed with its reason, and the others go out; only the server's own state (down,
refusing our sender) stops a pass.
A reminder or escalation whose cycle has left the state it was about (the item was submitted,
approved, sent back...) while it waited is not sent: it is marked cancelled, never deleted.
"""

from __future__ import annotations

import html
import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.links import make_decision_token
from app.models import Cycle, OutboxMessage, OutboxStatus
from app.outbox import render

from .settings import Settings
from .state import TickReport, scheduler_state

log = logging.getLogger(__name__)

CONNECTION_ERRORS = (
    OSError,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    smtplib.SMTPNotSupportedError,
    smtplib.SMTPAuthenticationError,
)


class ServerUnavailable(Exception):
    """The mail server could not be reached or refused the session."""


def message_id(row: OutboxMessage, settings: Settings) -> str:
    """The Message-ID of an outbox row: the same for every attempt."""
    _name, address = parseaddr(settings.mail_from)
    domain = address.rpartition("@")[2] or "kaikaku"
    return f"<outbox-{row.id}.{row.created_at:%Y%m%d%H%M%S}@{domain}>"


_URL = re.compile(r"(https?://[^\s<>\"]+)")


def text_to_html(text: str) -> str:
    """A plain HTML rendering of a text mail, with the links made clickable."""
    escaped = html.escape(text)
    linked = _URL.sub(lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>', escaped)
    return (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8"></head><body>'
        '<div style="font-family: sans-serif; white-space: pre-wrap; line-height: 1.6">'
        f"{linked}</div></body></html>"
    )


def build_message(row: OutboxMessage, settings: Settings) -> EmailMessage:
    """The e-mail for a row, rendered again with the site's real links."""
    subject, body = row.subject, row.body_text
    if row.context:

        def decision_url(cycle_id: int, version: int) -> str:
            token = make_decision_token(
                settings.secret_key,
                cycle_id=cycle_id,
                version=version,
                recipient_id=row.recipient_id or 0,
            )
            return f"{settings.base_url}/links/{token}"

        try:
            subject, body = render(
                row.kind, row.context, base_url=settings.base_url, decision_url=decision_url
            )
        except Exception:  # a template changed since queueing: the stored text still serves
            log.warning("cannot render outbox row %s again; sending the stored text", row.id)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.mail_from
    name = row.context.get("recipient_name", "") if row.context else ""
    message["To"] = formataddr((name, row.to_address)) if name else row.to_address
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = message_id(row, settings)
    message["X-Kaikaku-Kind"] = row.kind
    if row.cycle_id is not None:
        message["X-Kaikaku-Cycle"] = str(row.cycle_id)
    message.set_content(body)
    message.add_alternative(row.body_html or text_to_html(body), subtype="html")
    return message


class Malformed(Exception):
    """A message that cannot be sent as it stands: failed at once, with the reason."""


def address_problem(address: str) -> str | None:
    """Why `address` cannot be a recipient (a message for the log), or None."""
    from email_validator import EmailNotValidError, validate_email

    if not address or any(c in address for c in "\r\n\0"):
        return f"宛先のメールアドレスが正しくありません: {address!r}"
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"宛先のメールアドレスが正しくありません: {address!r} ({exc})"
    return None


def prepare(row: OutboxMessage, settings: Settings) -> EmailMessage:
    """The message for a row; Malformed (with the reason) when it cannot be sent as it is."""
    problem = address_problem(row.to_address)
    if problem:
        raise Malformed(problem)
    try:
        message = build_message(row, settings)
        message.as_bytes()  # every header must be writable before the SMTP session sees it
    except Exception as exc:  # noqa: BLE001 - whatever the cause, this one message cannot go
        raise Malformed(f"メールを組み立てられません: {exc.__class__.__name__}: {exc}") from exc
    return message


def smtp_connect(settings: Settings) -> smtplib.SMTP:
    """Open an SMTP session with STARTTLS and login when configured."""
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
    try:
        smtp.ehlo()
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=settings.smtp_ca_file))
            smtp.ehlo()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
    except Exception:
        smtp.close()
        raise
    return smtp


class _Connection:
    """One SMTP session reused for a batch, opened on first use, reopened once if dropped."""

    def __init__(self, factory: Callable[[], smtplib.SMTP]):
        self.factory = factory
        self.smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        for attempt in (1, 2):
            if self.smtp is None:
                try:
                    self.smtp = self.factory()
                except CONNECTION_ERRORS as exc:
                    raise ServerUnavailable(str(exc) or exc.__class__.__name__) from exc
            try:
                self.smtp.send_message(message)
                return
            except smtplib.SMTPServerDisconnected as exc:
                self.smtp = None
                if attempt == 2:
                    raise ServerUnavailable(str(exc) or "disconnected") from exc
            except smtplib.SMTPSenderRefused as exc:
                # The session or our sender address is refused: every message would fail
                # alike, so it is the server's state, not this message's fault.
                self.close()
                raise ServerUnavailable(str(exc)) from exc

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except Exception:  # closing a broken session is best effort
                self.smtp.close()
            self.smtp = None


def _claim(session: Session, now: datetime, skip: set[int]) -> OutboxMessage | None:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
    )
    if skip:
        query = query.where(OutboxMessage.id.not_in(skip))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).first()


# Kinds that are about the cycle's current state: pointless once the item has moved on.
STATE_BOUND_KINDS = ("reminder", "escalation_head", "escalation_secretariat")


def _moved_on(session: Session, row: OutboxMessage) -> bool:
    """Whether a reminder or escalation's cycle left the state it was about."""
    if row.kind not in STATE_BOUND_KINDS or row.cycle_id is None or not row.context:
        return False
    state = row.context.get("state")
    cycle = session.get(Cycle, row.cycle_id)
    return bool(state) and cycle is not None and cycle.state != state


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The pause before the next try after `attempts` failed ones."""
    pause = settings.retry_base * (2 ** max(0, attempts - 1))
    return min(pause, settings.retry_max)


def _temporary(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return all(400 <= code < 500 for code in codes)
    code = getattr(exc, "smtp_code", None)
    return code is not None and 400 <= code < 500


def deliver_outbox(
    session: Session,
    now: datetime,
    settings: Settings | None = None,
    *,
    smtp_factory: Callable[[], smtplib.SMTP] | None = None,
    report: TickReport | None = None,
) -> TickReport:
    """Send the pending messages that are due, committing after each one."""
    settings = settings or Settings()
    report = report or TickReport()
    if _claim(session, now, set()) is None:
        session.commit()
        return report
    state = scheduler_state(session, settings.scheduler_name, now)
    if state.smtp_retry_at is not None and state.smtp_retry_at > now:
        session.commit()
        return report
    session.commit()

    connection = _Connection(smtp_factory or (lambda: smtp_connect(settings)))
    skip: set[int] = set()
    server_error = ""
    try:
        for _ in range(settings.batch_size):
            row = _claim(session, now, skip)
            if row is None:
                break
            skip.add(row.id)
            if _moved_on(session, row):
                row.status = OutboxStatus.CANCELLED
                row.last_error = "送信前に対応が進んだため取り止め"
                session.commit()
                report.cancelled += 1
                continue
            mid = message_id(row, settings)
            try:
                message = prepare(row, settings)
                if settings.before_send:
                    settings.before_send(row)
                connection.send(message)
            except Malformed as exc:
                row.attempts += 1
                row.status = OutboxStatus.FAILED
                row.last_error = str(exc)[:2000]
                row.message_id = mid
                session.commit()
                report.failed += 1
                continue
            except ServerUnavailable as exc:
                server_error = str(exc)
                row.last_error = f"メールサーバーに接続できません: {exc}"
                session.commit()
                break
            except (smtplib.SMTPException, UnicodeError) as exc:
                # Refused for this message alone (or it needs SMTPUTF8 the server lacks).
                row.attempts += 1
                row.last_error = f"{exc.__class__.__name__}: {exc}"[:2000]
                row.message_id = mid
                if _temporary(exc) and row.attempts < settings.max_attempts:
                    row.next_attempt_at = now + backoff(settings, row.attempts)
                    report.retried += 1
                else:
                    row.status = OutboxStatus.FAILED
                    report.failed += 1
                session.commit()
                continue
            if settings.after_send:
                settings.after_send(row)
            row.attempts += 1
            row.status = OutboxStatus.SENT
            row.sent_at = now
            row.message_id = mid
            row.last_error = ""
            session.commit()
            report.sent += 1
    finally:
        connection.close()

    state = scheduler_state(session, settings.scheduler_name, now)
    if server_error:
        state.smtp_failures += 1
        pause = min(
            settings.retry_base * (2 ** (state.smtp_failures - 1)), settings.connect_retry_max
        )
        state.smtp_retry_at = now + pause
        state.smtp_error = server_error
        report.errors.append(f"delivery: {server_error}")
    elif report.sent or report.retried or report.failed:
        state.smtp_failures = 0
        state.smtp_retry_at = None
        state.smtp_error = ""
    session.commit()
    return report


def retry_failed(session: Session, now: datetime, ids: list[int] | None = None) -> int:
    """Put failed messages back in the queue (all of them, or those given); the count."""
    query = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    if ids:
        query = query.where(OutboxMessage.id.in_(ids))
    rows = session.scalars(query).all()
    for row in rows:
        row.status = OutboxStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = now
    session.flush()
    return len(rows)
