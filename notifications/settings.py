"""The scheduler's and the mail sender's settings, taken from the app config by the caller."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Settings:
    """What the jobs need to know; built once by the CLI, passed down as an argument."""

    base_url: str = "http://127.0.0.1:5000"
    secret_key: str = ""
    mail_from: str = "Kaikaku 行政改革事務局 <kaikaku@localhost>"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    # A CA bundle for a mail server whose certificate a private CA signed (LGWAN).
    smtp_ca_file: str | None = None
    smtp_timeout: float = 10.0
    # A message refused with a temporary (4xx) error is tried this many times in all.
    max_attempts: int = 8
    retry_base: timedelta = timedelta(minutes=1)
    retry_max: timedelta = timedelta(hours=6)
    # While the mail server cannot be reached, nothing is spent: retry the server itself.
    connect_retry_max: timedelta = timedelta(minutes=15)
    # Delivery goes on until the queue is empty, this many messages are sent, or this much
    # time has passed (the next tick carries on).
    batch_size: int = 100_000
    delivery_seconds: float = 50.0
    # Senders side by side on PostgreSQL, each with its own SMTP connection (SQLite: one).
    senders: int = 2
    # A gap between two ticks longer than this is recorded as downtime.
    downtime_threshold: timedelta = timedelta(minutes=15)
    scheduler_name: str = "main"
    # Who runs the ticks (host:pid), shown with the scheduler's state.
    instance: str = ""
    # Test hooks: called with the outbox row just before / just after the SMTP transaction.
    before_send: Callable | None = None
    after_send: Callable | None = None

    @classmethod
    def from_config(cls, config: Mapping, **overrides) -> Settings:
        """Build the settings from a Flask config mapping."""
        values = dict(
            base_url=config.get("BASE_URL", cls.base_url),
            secret_key=config.get("SECRET_KEY", ""),
            mail_from=config.get("MAIL_FROM", cls.mail_from),
            smtp_host=config.get("SMTP_HOST", cls.smtp_host),
            smtp_port=int(config.get("SMTP_PORT", cls.smtp_port)),
            smtp_username=config.get("SMTP_USERNAME"),
            smtp_password=config.get("SMTP_PASSWORD"),
            smtp_starttls=bool(config.get("SMTP_STARTTLS", False)),
            smtp_ca_file=config.get("SMTP_CA_FILE") or None,
            smtp_timeout=float(config.get("SMTP_TIMEOUT", cls.smtp_timeout)),
            max_attempts=int(config.get("SMTP_MAX_ATTEMPTS", cls.max_attempts)),
            senders=max(1, int(config.get("OUTBOX_SENDERS", cls.senders))),
        )
        values.update(overrides)
        return cls(**values)
