"""Personal access tokens: made once and shown once, kept as a SHA-256 digest, revoked.

A token is 32 random bytes (URL-safe text) after the `kkp_` mark, so a digest without a
salt is enough: there is nothing to guess from it. Bad tokens are throttled by the login
throttle (`app.auth.throttle`), counted under the token's first characters and the
client's address, in the same table: five failures with one prefix, or thirty from one
address, pause it for fifteen minutes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.throttle import is_throttled, record_failure
from app.models import SCOPE_READ, SCOPE_WRITE, ApiToken, User
from workflows import audit

MARK = "kkp_"
PREFIX_LENGTH = len(MARK) + 8
LIFETIMES = (30, 90, 180, 365)  # days a token may be made for
SCOPES = {"read": (SCOPE_READ,), "write": (SCOPE_READ, SCOPE_WRITE)}
# last_used_at is written at most this often per token (reads should not all write).
TOUCH_EVERY = timedelta(minutes=1)
MAX_ACTIVE = 20


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def throttle_key(token: str) -> str:
    """What the login throttle counts a bad token under: its visible prefix."""
    return "api-token:" + token[:PREFIX_LENGTH]


def create_token(
    session: Session, user: User, *, name: str, access: str, days: int, now: datetime
) -> tuple[ApiToken, str]:
    """Make a token for `user`; the row and the token text (shown once, never stored)."""
    if access not in SCOPES or days not in LIFETIMES:
        raise ValueError("unknown access or lifetime")
    text = MARK + secrets.token_urlsafe(32)
    row = ApiToken(
        user=user,
        name=name,
        prefix=text[:PREFIX_LENGTH],
        digest=digest_of(text),
        scopes=" ".join(SCOPES[access]),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        scope="admin",
        action="api_token_create",
        now=now,
        actor=user,
        data={"id": row.id, "prefix": row.prefix, "scopes": row.scopes},
    )
    return row, text


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def active_count(session: Session, user: User, now: datetime) -> int:
    return sum(1 for t in tokens_of(session, user) if t.usable(now))


def revoke_token(session: Session, token: ApiToken, *, by: User, now: datetime) -> None:
    """Revoke one's own token (once; a second revocation changes nothing)."""
    if token.revoked_at is not None:
        return
    token.revoked_at = now
    audit.record(
        session,
        scope="admin",
        action="api_token_revoke",
        now=now,
        actor=by,
        data={"id": token.id, "prefix": token.prefix},
    )


@dataclass
class Refusal:
    """Why a presented token was not accepted: "throttled" or "invalid"."""

    reason: str


def authenticate(
    session: Session, presented: str, remote_addr: str, now: datetime
) -> ApiToken | Refusal:
    """The usable token `presented` names, or why not. A failure is counted (the caller
    commits either way); while throttled even a good token is refused."""
    key = throttle_key(presented)
    if is_throttled(session, key, remote_addr, now):
        return Refusal("throttled")
    row = None
    if presented.startswith(MARK) and len(presented) <= 100:
        row = session.scalar(select(ApiToken).where(ApiToken.digest == digest_of(presented)))
    if row is None or not row.usable(now):
        record_failure(session, key, remote_addr, now)
        return Refusal("invalid")
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = now
    return row
