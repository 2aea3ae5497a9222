"""Counting what is sent to the database: the statement-count tests and the benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def statements(engine) -> Iterator[list[tuple[str, int]]]:
    """The statements sent meanwhile, each with its number of bound parameters (0 for an
    executemany)."""
    from sqlalchemy import event

    seen: list[tuple[str, int]] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        size = len(parameters) if isinstance(parameters, dict | tuple | list) else 0
        seen.append((statement, 0 if executemany else size))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)
