"""The fiscal year's schedule of deadlines and notification offsets, set by the secretariat."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .types import UTCDateTime


def default_reminder_days() -> list[int]:
    return [14, 7, 1, 0]


class FiscalYearSchedule(Base):
    """One fiscal year (年度): a deadline per stage of the workflow, committee and publication
    dates, reminder and escalation offsets, and the year's lock (確定)."""

    __tablename__ = "fiscal_year_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(unique=True)
    committee_from: Mapped[date | None]
    committee_to: Mapped[date | None]
    publication_on: Mapped[date | None]
    reminder_days: Mapped[list[int]] = mapped_column(sa.JSON, default=default_reminder_days)
    escalate_head_after: Mapped[int] = mapped_column(default=3)
    escalate_secretariat_after: Mapped[int] = mapped_column(default=10)
    escalation_repeat_days: Mapped[int] = mapped_column(default=7)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    deadlines: Mapped[list[StageDeadline]] = relationship(
        back_populates="schedule", cascade="all, delete-orphan", lazy="selectin"
    )

    def due_for(self, stage: str) -> date | None:
        """The deadline set for `stage` (before business-day adjustment), None if unset."""
        return next((d.due_on for d in self.deadlines if d.stage == stage), None)

    def set_due(self, stage: str, due_on: date) -> None:
        row = next((d for d in self.deadlines if d.stage == stage), None)
        if row is None:
            self.deadlines.append(StageDeadline(stage=stage, due_on=due_on))
        else:
            row.due_on = due_on

    def escalation_after(self, level: str) -> int:
        """Business days after the deadline at which an escalation level starts."""
        return self.escalate_head_after if level == "first" else self.escalate_secretariat_after

    def __repr__(self) -> str:
        return f"<FiscalYearSchedule FY{self.fiscal_year}>"


class StageDeadline(Base):
    """The deadline of one stage (a name declared by the workflow definition) in a year."""

    __tablename__ = "stage_deadline"
    __table_args__ = (sa.UniqueConstraint("schedule_id", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        sa.ForeignKey("fiscal_year_schedule.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(sa.String(20))
    due_on: Mapped[date]

    schedule: Mapped[FiscalYearSchedule] = relationship(back_populates="deadlines")

    def __repr__(self) -> str:
        return f"<StageDeadline {self.stage} {self.due_on}>"
