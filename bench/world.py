"""A prefecture's worth of reform items, built in bulk for the scale benchmark.

`build(session, items)` makes departments (each with a section, a head and a staff
member), the secretariat, and `items` reform items of the 2022-2026 plan, each with its
FY2026 cycle: a little over half still drafting their plan, the rest submitted to the
head, all opened on 1 April with their audit records. By 19 May every plan is more than
ten business days late, so the first tick escalates every cycle at both levels.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.models import AuditEntry, Cycle, Indicator, IndicatorValue, ReformItem
from app.models.bulk import chunks, insert_new
from tests.factories import Factory
from workflows import audit
from workflows.registry import get_definition

OPENED = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
SUBMITTED = datetime(2026, 4, 20, 1, 0, tzinfo=UTC)
BATCH = 5000


@dataclass
class World:
    """What the benchmark needs to act as people: per owning section, (staff, head) ids."""

    people: dict[int, tuple[int, int]]
    items: int


def build(session: Session, items: int, departments: int = 50) -> World:
    """The organisation, then `items` items and cycles with their audit records."""
    make = Factory(session)
    plan = make.plan()
    orgs = [make.org(f"部局{n:03d}") for n in range(departments)]
    make.user("jimukyoku", roles=["secretariat"], name="事務局 一郎")
    session.commit()
    definition = get_definition()
    viewpoints = [v.id for v in plan.outline.viewpoints]
    numbers = itertools.count(1)
    transition = definition.of_kind(definition.initial, "submit")
    for batch in chunks(range(items), BATCH):
        item_ids = _insert(
            session,
            ReformItem.__table__,
            [
                {
                    "plan_id": plan.id,
                    "viewpoint_id": viewpoints[n % len(viewpoints)],
                    "number": f"{n % 5 + 1}-{next(numbers)}",
                    "title": f"改革項目{n}",
                    "purpose": "",
                    "content": "",
                    "owning_section_id": orgs[n % departments].section.id,
                    "status": "active",
                }
                for n in batch
            ],
        )
        rows = []
        for n, item_id in zip(batch, item_ids, strict=True):
            submitted = n % 20 >= 11
            org = orgs[n % departments]
            # Each cycle moved at its own moment, as people do.
            opened, sent = OPENED + timedelta(seconds=n), SUBMITTED + timedelta(seconds=n)
            rows.append(
                {
                    "item_id": item_id,
                    "owning_section_id": org.section.id,
                    "fiscal_year": 2026,
                    "state": transition.dest if submitted else definition.initial,
                    "definition_version": definition.version,
                    "version": 2 if submitted else 1,
                    "state_since": sent if submitted else opened,
                    "opened_at": opened,
                    "last_activity_at": sent if submitted else opened,
                    "submitted_by_id": org.staff.id if submitted else None,
                    "submitted_at": sent if submitted else None,
                    "goal": "オンライン申請の拡大",
                    **dict.fromkeys(
                        (
                            "schedule_q1",
                            "schedule_q2",
                            "schedule_q3",
                            "schedule_q4",
                            "carried_over",
                            "analysis",
                            "issues",
                            "improvement",
                        ),
                        "",
                    ),
                }
            )
        cycle_ids = _insert(session, Cycle.__table__, rows)
        # One indicator per item with this year's target: what a plan needs to be submitted.
        indicator_ids = _insert(
            session,
            Indicator.__table__,
            [
                {
                    "item_id": item_id,
                    "position": 1,
                    "name": "電子申請件数",
                    "unit": "件",
                    "baseline_value": 100,
                    "baseline_fy": 2021,
                    "higher_is_better": True,
                }
                for item_id in item_ids
            ],
        )
        _insert(
            session,
            IndicatorValue.__table__,
            [
                {"indicator_id": ident, "fiscal_year": 2026, "target": 150, "actual": None}
                for ident in indicator_ids
            ],
        )
        entries = []
        for cycle_id, row in zip(cycle_ids, rows, strict=True):
            entries += _history(cycle_id, row, definition, transition)
        _insert(session, AuditEntry.__table__, entries)
        session.commit()
    return World({o.section.id: (o.staff.id, o.head.id) for o in orgs}, items)


def _insert(session: Session, table, rows: list[dict]) -> list[int]:
    """The rows in bulk; their new ids in the order of `rows` (serial ids rise with it)."""
    return sorted(ident for (ident,) in insert_new(session, table, rows, (table.c.id,)))


def _history(cycle_id: int, row: dict, definition, transition) -> list[dict]:
    """The cycle's audit chain: opened, and submitted when it was."""
    steps = [("open", None, definition.initial, row["opened_at"], None)]
    if row["submitted_by_id"]:
        steps.append(
            (
                transition.trigger,
                definition.initial,
                transition.dest,
                row["submitted_at"],
                row["submitted_by_id"],
            )
        )
    chain, prev = [], ""
    for seq, (action, source, dest, at, actor) in enumerate(steps, start=1):
        entry = AuditEntry(
            scope=f"cycle:{cycle_id}",
            seq=seq,
            cycle_id=cycle_id,
            at=at,
            actor_id=actor,
            on_behalf_of_id=None,
            action=action,
            from_state=source,
            to_state=dest,
            comment="",
            data={"definition": definition.version},
            prev_hash=prev,
        )
        entry.hash = prev = audit.entry_hash(entry)
        chain.append(
            {c.key: getattr(entry, c.key) for c in AuditEntry.__table__.columns if c.key != "id"}
        )
    return chain
