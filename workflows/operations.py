"""Operations on cycles, the engine's public API: the actor and the time are arguments.

`fire` moves a cycle by a trigger of its definition. The named operations fire the
transition of that kind leaving the cycle's state (`submit`, `approve`, `send_back`, ...),
whatever the definition calls it; `confirm` fires the one that confirms the evaluation.
"""

from __future__ import annotations

from datetime import datetime

from app.models import AuditEntry, Cycle, User

from .engine import fire
from .registry import definition_of
from .rollover import find_cycle, open_cycle, open_next_cycles
from .substitutes import register_substitute, revoke_substitute

__all__ = [
    "abolish",
    "approve",
    "confirm",
    "find_cycle",
    "fire",
    "open_cycle",
    "open_next_cycles",
    "register_substitute",
    "reopen",
    "resume",
    "revoke_substitute",
    "send_back",
    "submit",
    "suspend",
    "trigger_of_kind",
    "withdraw",
]


def trigger_of_kind(cycle: Cycle, kind: str) -> str:
    """The trigger of the transition of `kind` that leaves the cycle's state ("" if none:
    firing it then refuses with the engine's usual checks and messages)."""
    definition = definition_of(cycle)
    if kind == "confirm":
        found = next((t for t in definition.leaving(cycle.state) if t.confirms), None)
    else:
        found = definition.of_kind(cycle.state, kind)
    return found.trigger if found else ""


def _fire_kind(
    kind: str,
    cycle: Cycle,
    *,
    by: User,
    now: datetime,
    comment: str,
    expected_version: int | None,
) -> AuditEntry:
    return fire(
        cycle,
        trigger_of_kind(cycle, kind),
        by=by,
        now=now,
        comment=comment,
        expected_version=expected_version,
    )


def submit(
    cycle: Cycle, *, by: User, now: datetime, comment: str = "", expected_version: int | None = None
) -> AuditEntry:
    """Submit the stage the cycle is in (plan, report, evaluation, improvement ...)."""
    return _fire_kind(
        "submit", cycle, by=by, now=now, comment=comment, expected_version=expected_version
    )


def approve(
    cycle: Cycle, *, by: User, now: datetime, comment: str = "", expected_version: int | None = None
) -> AuditEntry:
    """Approve the waiting submission (in person or as a running substitute)."""
    return _fire_kind(
        "approve", cycle, by=by, now=now, comment=comment, expected_version=expected_version
    )


def send_back(
    cycle: Cycle, *, by: User, now: datetime, reason: str, expected_version: int | None = None
) -> AuditEntry:
    """Send the waiting submission back, with a reason."""
    return _fire_kind(
        "send_back", cycle, by=by, now=now, comment=reason, expected_version=expected_version
    )


def withdraw(
    cycle: Cycle, *, by: User, now: datetime, comment: str = "", expected_version: int | None = None
) -> AuditEntry:
    """Withdraw one's own submission before a decision."""
    return _fire_kind(
        "withdraw", cycle, by=by, now=now, comment=comment, expected_version=expected_version
    )


def confirm(
    cycle: Cycle, *, by: User, now: datetime, comment: str = "", expected_version: int | None = None
) -> AuditEntry:
    """Confirm the year's evaluation (the transition marked `confirms`)."""
    return _fire_kind(
        "confirm", cycle, by=by, now=now, comment=comment, expected_version=expected_version
    )


def reopen(
    cycle: Cycle, *, by: User, now: datetime, reason: str, expected_version: int | None = None
) -> AuditEntry:
    """Reopen an approved stage, with a reason."""
    return _fire_kind(
        "reopen", cycle, by=by, now=now, comment=reason, expected_version=expected_version
    )


def suspend(
    cycle: Cycle, *, by: User, now: datetime, reason: str, expected_version: int | None = None
) -> AuditEntry:
    """Suspend the item's cycle, with a reason."""
    return _fire_kind(
        "suspend", cycle, by=by, now=now, comment=reason, expected_version=expected_version
    )


def resume(
    cycle: Cycle, *, by: User, now: datetime, comment: str = "", expected_version: int | None = None
) -> AuditEntry:
    """Resume a suspended cycle in the state it was suspended in."""
    return _fire_kind(
        "resume", cycle, by=by, now=now, comment=comment, expected_version=expected_version
    )


def abolish(
    cycle: Cycle, *, by: User, now: datetime, reason: str, expected_version: int | None = None
) -> AuditEntry:
    """Abolish the item's cycle, with a reason."""
    return _fire_kind(
        "abolish", cycle, by=by, now=now, comment=reason, expected_version=expected_version
    )
