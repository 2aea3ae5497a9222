"""The outbox: every e-mail is a row written in the transaction that causes it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .org import User
from .types import LabeledEnum, UTCDateTime, enum_column, utcnow


class OutboxStatus(LabeledEnum):
    PENDING = "pending", "送信待ち", "Pending"
    SENT = "sent", "送信済み", "Sent"
    FAILED = "failed", "送信失敗", "Failed"
    # A reminder or escalation whose item moved on before it could be sent.
    CANCELLED = "cancelled", "送信取り止め", "Cancelled"


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    # What the senders claim: pending rows whose time has come, oldest first.
    __table_args__ = (sa.Index("ix_outbox_message_due", "status", "next_attempt_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(sa.String(60))
    recipient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    to_address: Mapped[str] = mapped_column(sa.String(200))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text, default="")
    # What the template was rendered from; delivery renders again with the site's links.
    context: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    cycle_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cycle.id"), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(250), unique=True)
    # Found by ix_outbox_message_due, which leads with it.
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str] = mapped_column(sa.String(200), default="")

    recipient: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status}>"
