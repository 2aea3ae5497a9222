"""The committee's review of a year's results, and the secretariat's overdue history."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .cycle import Cycle
from .org import User
from .types import UTCDateTime, utcnow


class CommitteeOpinion(Base):
    """A committee member's opinion (意見) on one cycle, and the department's reply (対応)."""

    __tablename__ = "committee_opinion"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycle.id"), index=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reply_body: Mapped[str] = mapped_column(sa.Text, default="")
    reply_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    cycle: Mapped[Cycle] = relationship()
    member: Mapped[User] = relationship(foreign_keys=[member_id])
    reply_by: Mapped[User | None] = relationship(foreign_keys=[reply_by_id])

    def __repr__(self) -> str:
        return f"<CommitteeOpinion {self.id} cycle={self.cycle_id}>"


class CommitteeQuestion(Base):
    """A question (事前質問) asked before the meeting, answered by the owning department."""

    __tablename__ = "committee_question"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycle.id"), index=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    question: Mapped[str] = mapped_column(sa.Text)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answer: Mapped[str] = mapped_column(sa.Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    cycle: Mapped[Cycle] = relationship()
    member: Mapped[User] = relationship(foreign_keys=[member_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])

    def __repr__(self) -> str:
        return f"<CommitteeQuestion {self.id} cycle={self.cycle_id}>"


class OverdueSnapshot(Base):
    """How many of a fiscal year's open cycles were overdue on one day (for the chart)."""

    __tablename__ = "overdue_snapshot"
    __table_args__ = (sa.UniqueConstraint("fiscal_year", "taken_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(index=True)
    taken_on: Mapped[date]
    open_count: Mapped[int] = mapped_column(default=0)
    overdue_count: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<OverdueSnapshot FY{self.fiscal_year} {self.taken_on} {self.overdue_count}>"
