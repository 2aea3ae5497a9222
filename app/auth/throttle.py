"""Login throttling kept in the database, so every web worker sees the same count."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.models import LoginFailure

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


def is_throttled(session: Session, login: str, now: datetime) -> bool:
    """Whether `login` had MAX_FAILURES failed attempts within the last WINDOW."""
    count = session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.login == login, LoginFailure.at > now - WINDOW)
    )
    return (count or 0) >= MAX_FAILURES


def record_failure(session: Session, login: str, remote_addr: str, now: datetime) -> None:
    session.add(LoginFailure(login=login[:60], remote_addr=remote_addr[:64], at=now))
    # Old rows are of no use to the count; keep the table small.
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - 4 * WINDOW))


def clear_failures(session: Session, login: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.login == login))
