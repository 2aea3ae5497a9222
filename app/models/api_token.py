"""Personal access tokens for the JSON API: stored as a digest, never as the token."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .org import User
from .types import UTCDateTime, utcnow

SCOPE_READ = "read"
SCOPE_WRITE = "write"


class ApiToken(Base):
    """A token a user made under settings: its SHA-256 digest, the first characters to
    recognise it by, the scopes, the expiry, the last use and the revocation."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # "read" or "read write"
    scopes: Mapped[str] = mapped_column(sa.String(40), default=SCOPE_READ)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def allows(self, scope: str) -> bool:
        return scope in self.scope_list

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now and self.user.active

    def __repr__(self) -> str:
        return f"<ApiToken {self.prefix} user={self.user_id} {self.scopes}>"
