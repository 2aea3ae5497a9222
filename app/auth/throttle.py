"""Login throttling kept in the database, so every web worker sees the same count."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.models import LoginFailure

MAX_FAILURES = 5
MAX_FAILURES_PER_ADDRESS = 30
WINDOW = timedelta(minutes=15)


def is_throttled(session: Session, login: str, remote_addr: str, now: datetime) -> bool:
    """Whether this login ID from this address, or this address at all, failed too often.

    Counting by login ID and address together means someone guessing elsewhere cannot lock
    a colleague out; an address that tries many login IDs is paused as a whole.
    """
    recent = select(func.count()).select_from(LoginFailure).where(LoginFailure.at > now - WINDOW)
    by_address = recent.where(LoginFailure.remote_addr == remote_addr)
    this_login = by_address.where(LoginFailure.login == login)
    return (session.scalar(this_login) or 0) >= MAX_FAILURES or (
        session.scalar(by_address) or 0
    ) >= MAX_FAILURES_PER_ADDRESS


def record_failure(session: Session, login: str, remote_addr: str, now: datetime) -> None:
    session.add(LoginFailure(login=login[:60], remote_addr=remote_addr[:64], at=now))
    # Old rows are of no use to the count; keep the table small.
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - 4 * WINDOW))


def clear_failures(session: Session, login: str, remote_addr: str) -> None:
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.login == login, LoginFailure.remote_addr == remote_addr
        )
    )
