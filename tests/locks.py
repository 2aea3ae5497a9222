"""Watching PostgreSQL's locks from a test: whether a session waits for one."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, text


def waits_for_a_lock(engine: Engine, thread: threading.Thread, seconds: float = 20) -> bool:
    """Whether a session of `engine`'s database waits for a lock before `thread` ends."""
    deadline = time.monotonic() + seconds
    with engine.connect() as watcher:
        while thread.is_alive() and time.monotonic() < deadline:
            waiting = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
            watcher.rollback()
            if waiting:
                return True
            time.sleep(0.05)
    return False
