"""Answers remembered for one session until it next writes.

A page asks the same questions many times (who plays a role for the item, the year's
schedule, whether the year is locked); the answers cannot change before the session
flushes or its transaction ends, so each is asked of the database once in between.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

T = TypeVar("T")

_MEMO = "kaikaku.memo"


def remembered(session: Session, key: tuple, compute: Callable[[], T]) -> T:
    """`compute()`, asked once per session until its next flush or transaction end.

    While the session holds unflushed changes the question goes to the database (through
    the autoflush), so that nothing added or changed in the meantime is missed.
    """
    if session.new or session.dirty or session.deleted:
        return compute()
    memo = session.info.setdefault(_MEMO, {})
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def forget(session: Session) -> None:
    """Drop what the session remembers (a web request starts with nothing remembered)."""
    session.info.pop(_MEMO, None)


@event.listens_for(Session, "after_flush")
@event.listens_for(Session, "after_transaction_end")  # commit, rollback, close
def _forget(session: Session, *_) -> None:
    forget(session)
