"""Failed logins, counted to throttle guessing."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .types import UTCDateTime


class LoginFailure(Base):
    __tablename__ = "login_failure"
    __table_args__ = (sa.Index("ix_login_failure_login_at", "login", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(60))
    remote_addr: Mapped[str] = mapped_column(sa.String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<LoginFailure {self.login} {self.at}>"
