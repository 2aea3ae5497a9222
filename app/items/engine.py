"""The workflow engine's API as the pages reach it.

The engine's modules are imported when first used, so the pages name one place for
every predicate and operation they borrow from `workflows`.
"""

from __future__ import annotations

from types import ModuleType


def permissions() -> ModuleType:
    from workflows import permissions as module

    return module


def operations() -> ModuleType:
    from workflows import operations as module

    return module


def errors() -> ModuleType:
    from workflows import errors as module

    return module


def record_audit(session, **fields) -> None:
    """Append an audit entry through the engine's audit log."""
    from workflows import audit

    audit.record(session, **fields)
