"""What the secretariat published to citizens: a frozen snapshot per fiscal year."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .org import User
from .types import UTCDateTime, utcnow


class Publication(Base):
    """One publication of a fiscal year's results; the newest not withdrawn is shown.

    The snapshot is taken when publishing, so later edits, reopenings or drafts never
    reach the public page until the secretariat publishes again.
    """

    __tablename__ = "publication"
    __table_args__ = (sa.UniqueConstraint("fiscal_year", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(index=True)
    revision: Mapped[int] = mapped_column(default=1)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    entries: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_reason: Mapped[str] = mapped_column(sa.Text, default="")

    published_by: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<Publication FY{self.fiscal_year} r{self.revision}>"
