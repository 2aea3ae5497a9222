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
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr

import sqlalchemy as sa
from sqlalchemy import select, tuple_
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


def build_message(row: OutboxMessage, settings: Settings) -> Message:
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
    # The compat32 MIME classes encode the Japanese headers (RFC 2047) and bodies (UTF-8,
    # base64) as the default policy would, at a third of its cost per message.
    message = MIMEMultipart("alternative")
    message["Subject"] = Header(subject, "utf-8")
    sender_name, sender = parseaddr(settings.mail_from)
    message["From"] = formataddr((sender_name, sender), charset="utf-8")
    name = row.context.get("recipient_name", "") if row.context else ""
    message["To"] = formataddr((name, row.to_address), charset="utf-8") if name else row.to_address
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = message_id(row, settings)
    message["X-Kaikaku-Kind"] = row.kind
    if row.cycle_id is not None:
        message["X-Kaikaku-Cycle"] = str(row.cycle_id)
    message.attach(MIMEText(body, "plain", "utf-8"))
    message.attach(MIMEText(row.body_html or text_to_html(body), "html", "utf-8"))
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


def prepare(row: OutboxMessage, settings: Settings) -> Message:
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

    def send(self, message: Message) -> None:
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


def _claim(
    session: Session, now: datetime, after: tuple[datetime, int] | None = None
) -> tuple[OutboxMessage, str | None] | None:
    """The next due message (after `after` in sending order) with its cycle's state, locked
    until the next commit; on PostgreSQL rows another sender holds are skipped."""
    query = (
        select(OutboxMessage, Cycle.state)
        .outerjoin(Cycle, Cycle.id == OutboxMessage.cycle_id)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
    )
    if after is not None:
        query = query.where(
            tuple_(OutboxMessage.next_attempt_at, OutboxMessage.id)
            > tuple_(sa.literal(after[0], OutboxMessage.next_attempt_at.type), sa.literal(after[1]))
        )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=OutboxMessage, skip_locked=True)
    found = session.execute(query).first()
    return (found[0], found[1]) if found else None


# Kinds that are about the cycle's current state: pointless once the item has moved on.
STATE_BOUND_KINDS = ("reminder", "escalation_head", "escalation_secretariat")


def _moved_on(row: OutboxMessage, cycle_state: str | None) -> bool:
    """Whether a reminder or escalation's cycle left the state it was about."""
    if row.kind not in STATE_BOUND_KINDS or row.cycle_id is None or not row.context:
        return False
    state = row.context.get("state")
    return bool(state) and cycle_state is not None and cycle_state != state


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


# Messages waiting per sender before another sender joins.
PER_SENDER = 50


class _Pass:
    """What the senders of one delivery share: the report, the deadline, a stop flag."""

    def __init__(self, settings: Settings, report: TickReport):
        self.settings, self.report = settings, report
        self.lock = threading.Lock()
        self.left = settings.batch_size
        self.deadline = time.monotonic() + settings.delivery_seconds
        self.server_error = ""

    def take(self) -> bool:
        with self.lock:
            if self.server_error or self.left <= 0 or time.monotonic() > self.deadline:
                return False
            self.left -= 1
            return True

    def count(self, name: str) -> None:
        with self.lock:
            setattr(self.report, name, getattr(self.report, name) + 1)

    def stop(self, error: str) -> None:
        with self.lock:
            self.server_error = self.server_error or error


def _send(session: Session, now: datetime, run: _Pass, factory) -> None:
    """One sender: claim the next due message, send it on a reused connection, record it,
    commit; until the queue is empty, the time is up or the server is unreachable."""
    settings = run.settings
    connection = _Connection(factory)
    after = None
    try:
        while run.take():
            claimed = _claim(session, now, after)
            if claimed is None:
                break
            row, cycle_state = claimed
            after = (row.next_attempt_at, row.id)
            if _moved_on(row, cycle_state):
                row.status = OutboxStatus.CANCELLED
                row.last_error = "送信前に対応が進んだため取り止め"
                session.commit()
                run.count("cancelled")
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
                run.count("failed")
                continue
            except ServerUnavailable as exc:
                run.stop(str(exc))
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
                    run.count("retried")
                else:
                    row.status = OutboxStatus.FAILED
                    run.count("failed")
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
            run.count("sent")
    finally:
        connection.close()
        session.rollback()


def deliver_outbox(
    session: Session,
    now: datetime,
    settings: Settings | None = None,
    *,
    smtp_factory: Callable[[], smtplib.SMTP] | None = None,
    report: TickReport | None = None,
) -> TickReport:
    """Send the pending messages that are due, committing after each one.

    On PostgreSQL `settings.senders` senders run side by side, each on its own database
    session and SMTP connection, claiming rows with FOR UPDATE SKIP LOCKED: a row is
    locked from its claim to the commit that records it sent, so no two senders send it.
    """
    settings = settings or Settings()
    report = report or TickReport()
    if _claim(session, now) is None:
        session.commit()
        return report
    state = scheduler_state(session, settings.scheduler_name, now)
    if state.smtp_retry_at is not None and state.smtp_retry_at > now:
        session.commit()
        return report
    session.commit()

    factory = smtp_factory or (lambda: smtp_connect(settings))
    run = _Pass(settings, report)
    bind = session.get_bind()
    senders = settings.senders if bind.dialect.name == "postgresql" else 1
    if senders > 1:
        # A second sender pays for its connection only when there is a queue to share.
        due = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now
            )
            .limit(PER_SENDER * senders)
            .subquery()
        )
        waiting = session.scalar(select(sa.func.count()).select_from(due)) or 0
        session.commit()
        senders = max(1, min(senders, waiting // PER_SENDER))
    failures: list[BaseException] = []

    def side_sender() -> None:
        try:
            with Session(bind) as own:
                _send(own, now, run, factory)
        except BaseException as exc:  # reported by the caller's thread
            failures.append(exc)
            run.stop(str(exc))

    helpers = [threading.Thread(target=side_sender) for _ in range(max(0, senders - 1))]
    for helper in helpers:
        helper.start()
    try:
        _send(session, now, run, factory)
    finally:
        for helper in helpers:
            helper.join()
    if failures:
        raise failures[0]

    state = scheduler_state(session, settings.scheduler_name, now)
    if run.server_error:
        state.smtp_failures += 1
        pause = min(
            settings.retry_base * (2 ** (state.smtp_failures - 1)), settings.connect_retry_max
        )
        state.smtp_retry_at = now + pause
        state.smtp_error = run.server_error
        report.errors.append(f"delivery: {run.server_error}")
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
