"""Leadership: one active scheduler at a time.

On PostgreSQL the leader holds a session advisory lock on a connection of its own for as
long as it lives; when the process dies the server drops the connection and the lock with
it, and a standby's next try succeeds. On SQLite (one machine) an exclusive `flock` on a
file next to the database plays the same part; the kernel releases it when the process dies.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

# An arbitrary 64-bit key naming "the Kaikaku scheduler" among advisory locks.
LOCK_KEY = 0x4B41494B414B55  # "KAIKAKU"


def lock_file_for(engine: Engine, instance_path: str | os.PathLike) -> Path:
    """The lock file of a SQLite database: beside the file, or in instance/ for memory."""
    database = engine.url.database
    if database and database != ":memory:":
        return Path(os.path.abspath(database) + ".scheduler.lock")
    return Path(instance_path) / "scheduler.lock"


class Leadership:
    """Try to become, stay and stop being the one active scheduler."""

    def __init__(
        self, engine: Engine, instance_path: str | os.PathLike = "instance", key: int = LOCK_KEY
    ):
        self.engine = engine
        self.key = key
        self.postgres = engine.dialect.name == "postgresql"
        self.lock_path = None if self.postgres else lock_file_for(engine, instance_path)
        self._connection: Connection | None = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process is (now) the leader."""
        if self.held:
            return self.still_held()
        if self.postgres:
            connection = self.engine.connect()
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            ).scalar()
            connection.commit()
            if got:
                self._connection = connection
                return True
            connection.close()
            return False
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def still_held(self) -> bool:
        """Whether the lock is still ours (a dropped database connection loses it)."""
        if self._fd is not None:
            return True
        if self._connection is None:
            return False
        try:
            self._connection.execute(text("SELECT 1")).scalar()
            self._connection.commit()
            return True
        except Exception:
            self._drop()
            return False

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # the connection is already gone
                pass
            self._connection = None

    def release(self) -> None:
        """Give the lock up so that a standby can take over."""
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
