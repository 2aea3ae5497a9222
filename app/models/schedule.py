"""The fiscal year's schedule of deadlines and notification offsets, set by the secretariat."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

from .types import UTCDateTime


def default_reminder_days() -> list[int]:
    return [14, 7, 1, 0]


class FiscalYearSchedule(db.Model):
    """Deadlines of one fiscal year (年度); dates as set, before business-day adjustment."""

    __tablename__ = "fiscal_year_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(unique=True)
    plan_due: Mapped[date]
    midyear_due: Mapped[date]
    check_due: Mapped[date]
    act_due: Mapped[date]
    committee_from: Mapped[date | None]
    committee_to: Mapped[date | None]
    publication_on: Mapped[date | None]
    reminder_days: Mapped[list[int]] = mapped_column(sa.JSON, default=default_reminder_days)
    escalate_head_after: Mapped[int] = mapped_column(default=3)
    escalate_secretariat_after: Mapped[int] = mapped_column(default=10)
    escalation_repeat_days: Mapped[int] = mapped_column(default=7)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    @classmethod
    def defaults(cls, fiscal_year: int) -> FiscalYearSchedule:
        """The calendar of DOMAIN.md for `fiscal_year` (April of that year to March)."""
        fy, nxt = fiscal_year, fiscal_year + 1
        return cls(
            fiscal_year=fy,
            plan_due=date(fy, 4, 30),
            midyear_due=date(fy, 10, 31),
            check_due=date(nxt, 5, 31),
            act_due=date(nxt, 6, 30),
            committee_from=date(nxt, 7, 1),
            committee_to=date(nxt, 8, 31),
            publication_on=date(nxt, 9, 30),
            reminder_days=default_reminder_days(),
            escalate_head_after=3,
            escalate_secretariat_after=10,
            escalation_repeat_days=7,
        )

    def due_for(self, stage: str) -> date:
        return {
            "plan": self.plan_due,
            "do": self.midyear_due,
            "check": self.check_due,
            "act": self.act_due,
        }[str(stage)]

    def __repr__(self) -> str:
        return f"<FiscalYearSchedule FY{self.fiscal_year}>"
