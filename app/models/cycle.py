"""One reform item's PDCA cycle in one fiscal year, with its stage contents."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .base import Base
from .org import User
from .outline import Indicator, ReformItem
from .types import LabeledEnum, UTCDateTime, enum_column, utcnow


class Grade(LabeledEnum):
    A = "A", "A 達成", "A Achieved"
    B = "B", "B 概ね達成", "B Mostly achieved"
    C = "C", "C 一部未達成", "C Partly not achieved"
    D = "D", "D 未達成・未着手", "D Not achieved / not started"


class ProgressStatus(LabeledEnum):
    DONE = "done", "実施済", "Implemented"
    PARTIAL = "partial", "一部実施", "Partly implemented"
    NOT_STARTED = "not_started", "未着手", "Not started"


class EffectKind(LabeledEnum):
    """The kind of a money effect (効果額); a row without one (before it existed) is
    shown as 未分類."""

    REVENUE = "revenue", "歳入確保", "Revenue secured"
    SAVING = "saving", "歳出削減", "Spending cut"
    OTHER = "other", "その他", "Other"


class Direction(LabeledEnum):
    CONTINUE = "continue", "継続", "Continue"
    EXPAND = "expand", "拡充", "Expand"
    REVISE = "revise", "見直し", "Revise"
    COMPLETE = "complete", "完了", "Complete"
    ABOLISH = "abolish", "廃止", "Abolish"

    @property
    def ends_item(self) -> bool:
        return self in (Direction.COMPLETE, Direction.ABOLISH)


# The kind of an ordinary progress report; the kinds a submission needs (中間報告 ...) are
# declared by the workflow definition (`reports:`).
PROGRESS_REPORT = "progress"


class Cycle(Base):
    """The PDCA cycle of one reform item in one fiscal year; the unit that moves."""

    __tablename__ = "cycle"
    __table_args__ = (
        sa.UniqueConstraint("item_id", "fiscal_year"),
        # The secretariat's list: a year's cycles, longest in their state first.
        sa.Index("ix_cycle_year_since", "fiscal_year", "state_since", "id"),
        # Which states a year's cycles are in, how many in each, how many stuck: counted
        # from the index alone.
        sa.Index(
            "ix_cycle_year_state",
            *("fiscal_year", "definition_version", "state", "state_since", "item_id", "id"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("reform_item.id"), index=True)
    # The item's owning section, kept in step with it (set when the cycle is inserted, moved
    # with the item: see below), so that counts by department read the cycles alone.
    owning_section_id: Mapped[int] = mapped_column(sa.ForeignKey("section.id"))
    fiscal_year: Mapped[int] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(sa.String(40), index=True)
    definition_version: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[int] = mapped_column(default=1)
    state_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the year's evaluation was confirmed (a transition marked `confirms`); cleared when
    # the cycle leaves the states that count as confirmed, kept when it is halted.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The time of the cycle's latest audit record (kept by `workflows.audit.record`), so
    # that lists show and sort by the last activity without reading the audit log.
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Plan (計画)
    goal: Mapped[str] = mapped_column(sa.Text, default="")
    schedule_q1: Mapped[str] = mapped_column(sa.Text, default="")
    schedule_q2: Mapped[str] = mapped_column(sa.Text, default="")
    schedule_q3: Mapped[str] = mapped_column(sa.Text, default="")
    schedule_q4: Mapped[str] = mapped_column(sa.Text, default="")
    carried_over: Mapped[str] = mapped_column(sa.Text, default="")

    # Check (評価)
    grade: Mapped[Grade | None] = mapped_column(enum_column(Grade))
    progress_status: Mapped[ProgressStatus | None] = mapped_column(enum_column(ProgressStatus))
    # 取組実績: what was actually done this year (facts), apart from the analysis of why.
    achievements: Mapped[str] = mapped_column(sa.Text, default="")
    analysis: Mapped[str] = mapped_column(sa.Text, default="")
    issues: Mapped[str] = mapped_column(sa.Text, default="")
    # 効果額 in yen (shown in 千円), its kind and its basis (算定根拠).
    effect_amount: Mapped[int | None] = mapped_column(sa.BigInteger)
    effect_kind: Mapped[EffectKind | None] = mapped_column(enum_column(EffectKind))
    effect_basis: Mapped[str] = mapped_column(sa.Text, default="")

    # Act (改善)
    improvement: Mapped[str] = mapped_column(sa.Text, default="")
    direction: Mapped[Direction | None] = mapped_column(enum_column(Direction))

    item: Mapped[ReformItem] = relationship(back_populates="cycles")
    submitted_by: Mapped[User | None] = relationship()
    reports: Mapped[list[ProgressReport]] = relationship(
        back_populates="cycle", order_by="ProgressReport.created_at"
    )
    extensions: Mapped[list[DeadlineExtension]] = relationship(
        back_populates="cycle", order_by="DeadlineExtension.created_at"
    )

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Cycle item={self.item_id} FY{self.fiscal_year} {self.state}>"


@event.listens_for(Cycle, "before_insert")
def _owning_section_of_item(_mapper, _connection, cycle: Cycle) -> None:
    """A cycle inserted through the ORM takes its item's section (in its INSERT); bulk
    inserts name it themselves, and the column is NOT NULL so none can forget it.

    The item's row is read FOR SHARE (PostgreSQL): a move to another section not yet
    committed is waited for, since its update of the item's cycles cannot see this one."""
    if cycle.owning_section_id is None:
        cycle.owning_section_id = (
            sa.select(ReformItem.owning_section_id)
            .where(ReformItem.id == cycle.item_id)
            .with_for_update(read=True)
            .scalar_subquery()
        )


@event.listens_for(Session, "after_flush")
def _cycles_follow_their_item(session: Session, _context) -> None:
    """An item moved to another section takes its cycles (every year's) with it."""
    moved: dict[int, int] = {}
    for item in session.dirty:
        if isinstance(item, ReformItem):
            attrs = sa.inspect(item).attrs
            if (
                attrs.owning_section_id.history.has_changes()
                or attrs.owning_section.history.has_changes()
            ):
                moved[item.id] = item.owning_section_id
    if not moved:
        return
    table = Cycle.__table__
    for item_id, section_id in moved.items():
        session.connection().execute(
            sa.update(table).where(table.c.item_id == item_id).values(owning_section_id=section_id)
        )
    for cycle in list(session.identity_map.values()):
        # Loaded cycles read it again when next asked (right after a savepoint's rollback
        # too); an expired one reads it anyway.
        item_id = sa.inspect(cycle).dict.get("item_id") if isinstance(cycle, Cycle) else None
        if item_id in moved:
            session.expire(cycle, ["owning_section_id"])


class ProgressReport(Base):
    """A progress report during Do; a report of a kind the definition declares (the mid-year
    report) is the one a submission presents for approval."""

    __tablename__ = "progress_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycle.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    as_of: Mapped[date]
    body: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    cycle: Mapped[Cycle] = relationship(back_populates="reports")
    created_by: Mapped[User] = relationship()
    values: Mapped[list[ProgressValue]] = relationship(
        back_populates="report", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<ProgressReport {self.kind} cycle={self.cycle_id} {self.as_of}>"


class ProgressValue(Base):
    """An indicator's actual value so far, as given in a progress report."""

    __tablename__ = "progress_value"
    __table_args__ = (sa.UniqueConstraint("report_id", "indicator_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        sa.ForeignKey("progress_report.id", ondelete="CASCADE"), index=True
    )
    indicator_id: Mapped[int] = mapped_column(sa.ForeignKey("indicator.id"), index=True)
    value: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 3))

    report: Mapped[ProgressReport] = relationship(back_populates="values")
    indicator: Mapped[Indicator] = relationship()

    def __repr__(self) -> str:
        return f"<ProgressValue report={self.report_id} indicator={self.indicator_id}>"


class DeadlineExtension(Base):
    """A deadline moved for one cycle's stage by the secretariat, with its reason."""

    __tablename__ = "deadline_extension"

    id: Mapped[int] = mapped_column(primary_key=True)
    cycle_id: Mapped[int] = mapped_column(sa.ForeignKey("cycle.id"), index=True)
    stage: Mapped[str] = mapped_column(sa.String(20))
    due_on: Mapped[date]
    reason: Mapped[str] = mapped_column(sa.Text)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    cycle: Mapped[Cycle] = relationship(back_populates="extensions")
    created_by: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<DeadlineExtension cycle={self.cycle_id} {self.stage} {self.due_on}>"
