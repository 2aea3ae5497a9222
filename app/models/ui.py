"""What the web pages keep for themselves: decision links followed, form keys used."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .types import UTCDateTime, utcnow


class UsedDecisionLink(Base):
    """A decision link's digest, recorded when it is followed so it works only once."""

    __tablename__ = "used_decision_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycle.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<UsedDecisionLink cycle={self.cycle_id} {self.digest[:8]}>"


class SubmissionKey(Base):
    """The one-time key a form carried, stored with what it did: a repeat of the same form
    (a double click, a resend, two tabs racing) finds it and writes nothing."""

    __tablename__ = "submission_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(32), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Where the first submission led (its result page); empty until it has committed.
    result_url: Mapped[str] = mapped_column(sa.String(500), default="")

    def __repr__(self) -> str:
        return f"<SubmissionKey {self.endpoint} {self.key[:8]}>"
