"""What the scheduler has sent or decided not to send, and when it last ran."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .org import User
from .types import LabeledEnum, UTCDateTime, enum_column, utcnow


class DispatchStatus(LabeledEnum):
    QUEUED = "queued", "送信キュー登録済み", "Queued"
    HELD = "held", "まとめ通知待ち", "Held for the digest"
    DIGESTED = "digested", "まとめ通知に掲載", "In a digest"
    MISSED = "missed", "停止中のため未送信", "Missed while down"


class NotificationDispatch(Base):
    """One reminder or escalation step decided for one recipient; the key forbids a second.

    `due_on` is the deadline for reminders; for escalations it is the date the overdue
    clock counts from (the deadline, or the day the item passed to its current actor
    when that came later), so that a send-back or a submission starts a new series.
    """

    __tablename__ = "notification_dispatch"
    __table_args__ = (sa.UniqueConstraint("cycle_id", "rule", "step", "due_on", "recipient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Found by the unique key, which leads with it.
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycle.id"))
    rule: Mapped[str] = mapped_column(sa.String(40))
    step: Mapped[int]
    due_on: Mapped[date]
    recipient_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    state: Mapped[str] = mapped_column(sa.String(40), default="")
    status: Mapped[DispatchStatus] = mapped_column(enum_column(DispatchStatus), index=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    outbox_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_message.id"))
    digest_outbox_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outbox_message.id"))
    context: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    recipient: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return (
            f"<NotificationDispatch cycle={self.cycle_id} {self.rule}#{self.step} "
            f"{self.due_on} user={self.recipient_id} {self.status}>"
        )


class MissedWindowKind(LabeledEnum):
    DOWNTIME = "downtime", "スケジューラ停止", "Scheduler down"
    REMINDER = "reminder", "リマインダー未送信", "Reminder not sent"
    ESCALATION = "escalation", "督促の繰り返し未送信", "Escalation repeat not sent"


class MissedWindow(Base):
    """A stretch when the scheduler did not run, or a step it could no longer send usefully."""

    __tablename__ = "missed_window"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[MissedWindowKind] = mapped_column(enum_column(MissedWindowKind))
    fiscal_year: Mapped[int] = mapped_column(index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cycle_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cycle.id"), index=True)
    recipient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    rule: Mapped[str] = mapped_column(sa.String(40), default="")
    step: Mapped[int | None]
    target_on: Mapped[date | None]
    note: Mapped[str] = mapped_column(sa.Text, default="")

    recipient: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<MissedWindow {self.kind} {self.starts_at}..{self.ends_at}>"


class SchedulerState(Base):
    """One row per scheduler name: the last tick, the last success, the mail server's health."""

    __tablename__ = "scheduler_state"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    last_tick_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    last_report: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    smtp_failures: Mapped[int] = mapped_column(default=0)
    smtp_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    smtp_error: Mapped[str] = mapped_column(sa.Text, default="")
    leader: Mapped[str] = mapped_column(sa.String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<SchedulerState {self.name} last={self.last_tick_at}>"


class CalendarFeed(Base):
    """The secret token of a user's iCalendar feed of deadlines."""

    __tablename__ = "calendar_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<CalendarFeed user={self.user_id}>"
