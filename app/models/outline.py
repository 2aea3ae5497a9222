"""The reform outline, its viewpoints, execution plans, reform items and indicators."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .org import Section
from .types import LabeledEnum, enum_column


class ItemStatus(LabeledEnum):
    ACTIVE = "active", "推進中", "Active"
    SUSPENDED = "suspended", "休止", "Suspended"
    COMPLETED = "completed", "完了", "Completed"
    ABOLISHED = "abolished", "廃止", "Abolished"


class Outline(Base):
    """The reform outline (行政改革大綱): one per city, no end date."""

    __tablename__ = "outline"

    id: Mapped[int] = mapped_column(primary_key=True)
    city: Mapped[str] = mapped_column(sa.String(60))
    title: Mapped[str] = mapped_column(sa.String(200))
    basic_idea: Mapped[str] = mapped_column(sa.String(200))
    basic_idea_points: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    preface: Mapped[str] = mapped_column(sa.Text, default="")
    revised_on: Mapped[date | None]
    review_every_years: Mapped[int] = mapped_column(default=5)

    viewpoints: Mapped[list[Viewpoint]] = relationship(
        back_populates="outline", order_by="Viewpoint.number"
    )
    plans: Mapped[list[ExecutionPlan]] = relationship(
        back_populates="outline", order_by="ExecutionPlan.start_fy"
    )

    def __repr__(self) -> str:
        return f"<Outline {self.city} {self.title}>"


class Viewpoint(Base):
    """One of the five basic viewpoints (基本的な視点)."""

    __tablename__ = "viewpoint"
    __table_args__ = (sa.UniqueConstraint("outline_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outline_id: Mapped[int] = mapped_column(sa.ForeignKey("outline.id"), index=True)
    number: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(100))
    subtitle: Mapped[str] = mapped_column(sa.String(200), default="")
    name_en: Mapped[str] = mapped_column(sa.String(100), default="")

    outline: Mapped[Outline] = relationship(back_populates="viewpoints")
    directions: Mapped[list[PromotionDirection]] = relationship(
        back_populates="viewpoint", order_by="PromotionDirection.position"
    )

    def __repr__(self) -> str:
        return f"<Viewpoint {self.number} {self.name}>"


class PromotionDirection(Base):
    """A promotion direction (推進方向) under a viewpoint."""

    __tablename__ = "promotion_direction"

    id: Mapped[int] = mapped_column(primary_key=True)
    viewpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("viewpoint.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(sa.Text)

    viewpoint: Mapped[Viewpoint] = relationship(back_populates="directions")

    def __repr__(self) -> str:
        return f"<PromotionDirection {self.viewpoint_id}.{self.position}>"


class ExecutionPlan(Base):
    """A five-year execution plan (実行計画) listing the reform items."""

    __tablename__ = "execution_plan"
    __table_args__ = (sa.CheckConstraint("end_fy >= start_fy", name="years_ordered"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outline_id: Mapped[int] = mapped_column(sa.ForeignKey("outline.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    start_fy: Mapped[int]
    end_fy: Mapped[int]

    outline: Mapped[Outline] = relationship(back_populates="plans")
    items: Mapped[list[ReformItem]] = relationship(back_populates="plan")

    @property
    def fiscal_years(self) -> range:
        return range(self.start_fy, self.end_fy + 1)

    def __repr__(self) -> str:
        return f"<ExecutionPlan {self.start_fy}-{self.end_fy}>"


item_related_section = sa.Table(
    "item_related_section",
    Base.metadata,
    sa.Column("item_id", sa.ForeignKey("reform_item.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("section_id", sa.ForeignKey("section.id"), primary_key=True),
)


class ReformItem(Base):
    """A reform item (改革項目) of a plan, owned by a section; moves through PDCA yearly."""

    __tablename__ = "reform_item"
    __table_args__ = (sa.UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("execution_plan.id"), index=True)
    viewpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("viewpoint.id"), index=True)
    number: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(200))
    purpose: Mapped[str] = mapped_column(sa.Text, default="")
    content: Mapped[str] = mapped_column(sa.Text, default="")
    owning_section_id: Mapped[int] = mapped_column(sa.ForeignKey("section.id"), index=True)
    status: Mapped[ItemStatus] = mapped_column(enum_column(ItemStatus), default=ItemStatus.ACTIVE)

    plan: Mapped[ExecutionPlan] = relationship(back_populates="items")
    viewpoint: Mapped[Viewpoint] = relationship()
    owning_section: Mapped[Section] = relationship()
    related_sections: Mapped[list[Section]] = relationship(secondary=item_related_section)
    indicators: Mapped[list[Indicator]] = relationship(
        back_populates="item", order_by="Indicator.position", cascade="all, delete-orphan"
    )
    cycles: Mapped[list[Cycle]] = relationship(  # noqa: F821
        back_populates="item", order_by="Cycle.fiscal_year"
    )
    # 工程: what is planned in each fiscal year of the execution plan.
    steps: Mapped[list[ItemStep]] = relationship(
        back_populates="item", order_by="ItemStep.fiscal_year", cascade="all, delete-orphan"
    )

    def step_for(self, fiscal_year: int) -> str:
        """The 工程 planned for `fiscal_year` ("" when none)."""
        return next((s.text for s in self.steps if s.fiscal_year == fiscal_year), "")

    @property
    def sort_key(self) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else 0 for p in self.number.split("-"))

    def __repr__(self) -> str:
        return f"<ReformItem {self.number} {self.title}>"


class ItemStep(Base):
    """The 工程 of a reform item in one fiscal year of its plan (年度別計画)."""

    __tablename__ = "item_step"
    __table_args__ = (sa.UniqueConstraint("item_id", "fiscal_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("reform_item.id", ondelete="CASCADE"), index=True
    )
    fiscal_year: Mapped[int]
    text: Mapped[str] = mapped_column(sa.Text, default="")

    item: Mapped[ReformItem] = relationship(back_populates="steps")

    def __repr__(self) -> str:
        return f"<ItemStep {self.item_id} FY{self.fiscal_year}>"


class Indicator(Base):
    """An indicator (指標) of a reform item, with a baseline and a target per fiscal year."""

    __tablename__ = "indicator"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("reform_item.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(sa.String(200))
    unit: Mapped[str] = mapped_column(sa.String(40), default="")
    baseline_value: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 3))
    baseline_fy: Mapped[int | None]
    higher_is_better: Mapped[bool] = mapped_column(default=True)

    item: Mapped[ReformItem] = relationship(back_populates="indicators")
    values: Mapped[list[IndicatorValue]] = relationship(
        back_populates="indicator",
        order_by="IndicatorValue.fiscal_year",
        cascade="all, delete-orphan",
    )

    def value_for(self, fiscal_year: int) -> IndicatorValue | None:
        return next((v for v in self.values if v.fiscal_year == fiscal_year), None)

    def __repr__(self) -> str:
        return f"<Indicator {self.name}>"


class IndicatorValue(Base):
    """Target and year-end actual of one indicator in one fiscal year."""

    __tablename__ = "indicator_value"
    __table_args__ = (sa.UniqueConstraint("indicator_id", "fiscal_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        sa.ForeignKey("indicator.id", ondelete="CASCADE"), index=True
    )
    fiscal_year: Mapped[int]
    target: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 3))
    actual: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 3))

    indicator: Mapped[Indicator] = relationship(back_populates="values")

    def __repr__(self) -> str:
        return f"<IndicatorValue {self.indicator_id} FY{self.fiscal_year}>"
