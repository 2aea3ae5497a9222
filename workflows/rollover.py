"""Opening cycles and the year's end: carrying the measures forward, or ending the item.

Entering the state that closes the year (`closes_year`) carries the improvement measures
into next year's cycle, or -- when the direction is 完了 or 廃止 -- ends the item and every
later cycle still running. Leaving that state again (a reopen) undoes exactly that.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    AuditEntry,
    Cycle,
    Direction,
    ExecutionPlan,
    IndicatorValue,
    ItemStatus,
    ReformItem,
    User,
)

from . import audit
from .engine import move
from .registry import definition_of, get_definition
from .roles import session_of

# Audit actions of moves that follow from another cycle's decision (not triggers).
ENDED_WITH_ITEM = "end_with_item"
RESUMED_WITH_ITEM = "resume_with_item"


def _ensure_indicator_values(session: Session, item: ReformItem, fiscal_year: int) -> None:
    for indicator in item.indicators:
        if indicator.value_for(fiscal_year) is None:
            indicator.values.append(IndicatorValue(fiscal_year=fiscal_year, target=None))
    session.flush()


def find_cycle(session: Session, item: ReformItem, fiscal_year: int) -> Cycle | None:
    return session.scalar(
        select(Cycle).where(Cycle.item_id == item.id, Cycle.fiscal_year == fiscal_year)
    )


def open_cycle(
    item: ReformItem,
    fiscal_year: int,
    *,
    now: datetime,
    by: User | None = None,
    carried_over: str = "",
) -> Cycle:
    """The item's cycle of `fiscal_year`, opened in the initial state if it does not exist."""
    session = session_of(item)
    existing = find_cycle(session, item, fiscal_year)
    if existing is not None:
        return existing
    definition = get_definition()
    with session.begin_nested():
        cycle = Cycle(
            item=item,
            fiscal_year=fiscal_year,
            state=definition.initial,
            definition_version=definition.version,
            state_since=now,
            opened_at=now,
            carried_over=carried_over,
        )
        session.add(cycle)
        _ensure_indicator_values(session, item, fiscal_year)
        session.flush()
        audit.record(
            session,
            scope=audit.cycle_scope(cycle),
            action="open",
            now=now,
            actor=by,
            cycle=cycle,
            to_state=definition.initial,
            data={"definition": definition.version, "carried_over": bool(carried_over)},
        )
    return cycle


def _carry_text(previous: Cycle) -> str:
    text = (previous.improvement or "").strip()
    if not text:
        return ""
    return f"【{previous.fiscal_year}年度の改善策】\n{text}"


def _year_closed(cycle: Cycle) -> bool:
    state = definition_of(cycle).state(cycle.state)
    return state is not None and state.closes_year


def open_next_cycles(session: Session, fiscal_year: int, *, now: datetime) -> list[Cycle]:
    """Open `fiscal_year`'s cycles of the active items (1 April); the newly opened ones."""
    items = session.scalars(
        select(ReformItem)
        .join(ExecutionPlan)
        .where(
            ReformItem.status == ItemStatus.ACTIVE,
            ExecutionPlan.start_fy <= fiscal_year,
            ExecutionPlan.end_fy >= fiscal_year,
        )
        .order_by(ReformItem.id)
    ).all()
    opened: list[Cycle] = []
    for item in items:
        if find_cycle(session, item, fiscal_year) is not None:
            continue
        previous = find_cycle(session, item, fiscal_year - 1)
        if previous is not None and previous.direction is not None and previous.direction.ends_item:
            continue
        carried = _carry_text(previous) if previous is not None and _year_closed(previous) else ""
        opened.append(open_cycle(item, fiscal_year, now=now, carried_over=carried))
    return opened


def _ended_status(direction: Direction) -> ItemStatus:
    return ItemStatus.COMPLETED if direction == Direction.COMPLETE else ItemStatus.ABOLISHED


def _later_cycles(session: Session, cycle: Cycle) -> list[Cycle]:
    return list(
        session.scalars(
            select(Cycle)
            .where(Cycle.item_id == cycle.item_id, Cycle.fiscal_year > cycle.fiscal_year)
            .order_by(Cycle.fiscal_year)
        )
    )


def _set_state(
    cycle: Cycle, state: str, *, action: str, by: User, now: datetime, comment: str, data: dict
) -> None:
    """Move a cycle as a consequence of another cycle's decision, on the record."""
    session = session_of(cycle)
    from_state = cycle.state
    move(cycle, definition_of(cycle), None, state, now=now)
    session.flush()
    audit.record(
        session,
        scope=audit.cycle_scope(cycle),
        action=action,
        now=now,
        actor=by,
        cycle=cycle,
        from_state=from_state,
        to_state=state,
        comment=comment,
        data=data,
    )


def undo_ending(cycle: Cycle, *, by: User, now: datetime) -> None:
    """Reopening an Act that ended the item: the item is active again, its later years resume."""
    session = session_of(cycle)
    item = cycle.item
    if cycle.direction is None or not cycle.direction.ends_item:
        return
    if item.status != _ended_status(cycle.direction):
        return
    item.status = ItemStatus.ACTIVE
    cause = f"cycle:{cycle.id}"
    for later in _later_cycles(session, cycle):
        last = session.scalar(
            select(AuditEntry)
            .where(AuditEntry.scope == audit.cycle_scope(later))
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        )
        if last is None or last.to_state != later.state or (last.data or {}).get("cause") != cause:
            continue
        _set_state(
            later,
            last.from_state or definition_of(later).initial,
            action=RESUMED_WITH_ITEM,
            by=by,
            now=now,
            comment=f"{cycle.fiscal_year}年度の改善が前の段階に戻されたため、廃止を取り消し",
            data={"cause": f"reopen:{cause}"},
        )


def roll_over(cycle: Cycle, *, by: User, now: datetime) -> None:
    """The year closed: carry the measures into next year, or end the item."""
    session = session_of(cycle)
    item = cycle.item
    next_fy = cycle.fiscal_year + 1
    following = find_cycle(session, item, next_fy)
    if cycle.direction is not None and cycle.direction.ends_item:
        item.status = _ended_status(cycle.direction)
        reason = f"{cycle.fiscal_year}年度の改善で「{cycle.direction.ja}」と決定したため"
        for later in _later_cycles(session, cycle):
            definition = definition_of(later)
            state = definition.state(later.state)
            if state is None or state.final:
                continue
            ended = definition.state_with_status(ItemStatus.ABOLISHED)
            if ended is None:
                continue
            # The next year's cycle is usually under way (plan approved in April) when the
            # previous year's Act is approved in June: it ends with the item.
            _set_state(
                later,
                ended,
                action=ENDED_WITH_ITEM,
                by=by,
                now=now,
                comment=reason,
                data={"cause": f"cycle:{cycle.id}"},
            )
        return
    if item.plan.end_fy < next_fy or item.status != ItemStatus.ACTIVE:
        return
    text = _carry_text(cycle)
    if following is None:
        open_cycle(item, next_fy, now=now, by=by, carried_over=text)
        return
    if text and text not in (following.carried_over or ""):
        following.carried_over = "\n\n".join(p for p in (following.carried_over, text) if p)
        session.flush()
        audit.record(
            session,
            scope=audit.cycle_scope(following),
            action="carry_over",
            now=now,
            actor=by,
            cycle=following,
            comment=text,
            data={"from_cycle": cycle.id},
        )
