"""Opening cycles and the year's end: carrying the measures forward, or ending the item.

Entering the state that closes the year (`closes_year`) carries the improvement measures
into next year's cycle, or -- when the direction is 完了 or 廃止 -- ends the item and every
later cycle still running. Leaving that state again (a reopen) undoes exactly that.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from app.models import (
    AuditEntry,
    Cycle,
    Direction,
    ExecutionPlan,
    Indicator,
    IndicatorValue,
    ItemStatus,
    ReformItem,
    User,
)
from app.models.bulk import chunks, insert_new

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
            last_activity_at=now,
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


def open_year(session: Session, fiscal_year: int, *, now: datetime) -> list[int]:
    """Open `fiscal_year`'s cycles of the active items (1 April); the ids newly opened.

    Set-based and idempotent: one query finds the items still without a cycle that year
    (nothing to do: one statement) and holds them against a concurrent move to another
    section until the year is opened; the cycles, their indicator rows and their first audit
    records are inserted in bulk, the unique (item, year) key skipping any another
    scheduler opened at the same moment.
    """
    definition = get_definition()
    previous = aliased(Cycle)
    rows = session.execute(
        select(
            ReformItem.id,
            ReformItem.owning_section_id,
            previous.definition_version,
            previous.state,
            previous.fiscal_year,
            previous.improvement,
        )
        .join(ExecutionPlan, ExecutionPlan.id == ReformItem.plan_id)
        .outerjoin(
            previous,
            and_(previous.item_id == ReformItem.id, previous.fiscal_year == fiscal_year - 1),
        )
        .where(
            ReformItem.status == ItemStatus.ACTIVE,
            ExecutionPlan.start_fy <= fiscal_year,
            ExecutionPlan.end_fy >= fiscal_year,
            ~exists().where(Cycle.item_id == ReformItem.id, Cycle.fiscal_year == fiscal_year),
            or_(
                previous.direction.is_(None),
                previous.direction.not_in([d for d in Direction if d.ends_item]),
            ),
        )
        .order_by(ReformItem.id)
        # PostgreSQL: an item whose section an uncommitted import is changing is read once
        # that import has committed, so the new cycle's copy of the section is the one the
        # import's own update of the item's cycles could not see (and an import reaching an
        # item read here waits for the year to be opened). Only the items still to be
        # opened are locked, none on an ordinary day. An import moving several of them on
        # 1 April, in another order, can deadlock with this read: PostgreSQL then ends one
        # side, the import with an error and nothing changed, or this job, which the next
        # tick runs again.
        .with_for_update(read=True, of=ReformItem)
    ).all()
    if not rows:
        return []
    values = []
    for item_id, section_id, version, state, year, improvement in rows:
        carried = ""
        if version is not None:
            closed = get_definition(version).state(state)
            if closed is not None and closed.closes_year:
                carried = _carry_text(_Previous(year, improvement))
        values.append(_new_cycle(item_id, section_id, fiscal_year, definition, now, carried))
    table = Cycle.__table__
    opened = insert_new(session, table, values, (table.c.id, table.c.item_id, table.c.carried_over))
    opened.sort()
    _ensure_year_values(session, fiscal_year, now)
    entries = []
    for cycle_id, _item_id, carried in opened:
        entry = AuditEntry(
            scope=f"cycle:{cycle_id}",
            seq=1,
            cycle_id=cycle_id,
            at=now.astimezone(UTC),
            actor_id=None,
            on_behalf_of_id=None,
            action="open",
            from_state=None,
            to_state=definition.initial,
            comment="",
            data={"definition": definition.version, "carried_over": bool(carried)},
            prev_hash="",
        )
        entry.hash = audit.entry_hash(entry)
        entries.append(
            {c.key: getattr(entry, c.key) for c in AuditEntry.__table__.columns if c.key != "id"}
        )
    insert_new(session, AuditEntry.__table__, entries, (AuditEntry.__table__.c.id,))
    return [cycle_id for cycle_id, _item, _carried in opened]


class _Previous:
    """What carrying the measures forward reads of last year's cycle."""

    def __init__(self, fiscal_year: int, improvement: str | None):
        self.fiscal_year, self.improvement = fiscal_year, improvement


def _new_cycle(
    item_id: int, section_id: int, fiscal_year: int, definition, now: datetime, carried_over: str
) -> dict:
    return {
        "item_id": item_id,
        "owning_section_id": section_id,
        "fiscal_year": fiscal_year,
        "state": definition.initial,
        "definition_version": definition.version,
        "version": 1,
        "state_since": now,
        "opened_at": now,
        "last_activity_at": now,
        "carried_over": carried_over,
        **{name: "" for name in _TEXTS},
    }


_TEXTS = (
    "goal",
    "schedule_q1",
    "schedule_q2",
    "schedule_q3",
    "schedule_q4",
    "achievements",
    "analysis",
    "issues",
    "effect_basis",
    "improvement",
)


def _ensure_year_values(session: Session, fiscal_year: int, now: datetime) -> None:
    """An indicator row of the year for every indicator of the items opened at `now`."""
    opened_items = select(Cycle.item_id).where(
        Cycle.fiscal_year == fiscal_year, Cycle.opened_at == now
    )
    missing = select(Indicator.id, sa.literal(fiscal_year), sa.null()).where(
        Indicator.item_id.in_(opened_items),
        ~exists().where(
            IndicatorValue.indicator_id == Indicator.id, IndicatorValue.fiscal_year == fiscal_year
        ),
    )
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(IndicatorValue)
        .from_select(["indicator_id", "fiscal_year", "target"], missing)
        .on_conflict_do_nothing()
    )


def open_next_cycles(session: Session, fiscal_year: int, *, now: datetime) -> list[Cycle]:
    """Open `fiscal_year`'s cycles of the active items (1 April); the newly opened ones."""
    ids = open_year(session, fiscal_year, now=now)
    found: list[Cycle] = []
    for batch in chunks(ids):
        found += session.scalars(select(Cycle).where(Cycle.id.in_(batch)).order_by(Cycle.id))
    # The rows went in without the ORM: collections already loaded are read again now.
    items = {cycle.item_id for cycle in found}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, ReformItem) and obj.id in items and "cycles" in obj.__dict__:
            session.refresh(obj, ["cycles"])
        elif isinstance(obj, Indicator) and obj.item_id in items and "values" in obj.__dict__:
            session.refresh(obj, ["values"])
    return found


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
