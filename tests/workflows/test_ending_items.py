"""An Act that completes or abolishes the item ends the years after it; reopening undoes that."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import AuditEntry, Cycle, Direction, ItemStatus
from workflows import operations as ops
from workflows.audit import cycle_scope, verify

from .conftest import NOW, drive_to


@pytest.fixture
def running(world, db):
    """FY2026's plan is approved and under way while FY2025's Act waits for its decision."""
    drive_to(world, "doing")
    following = world.cycle
    world.cycle = ops.open_cycle(following.item, 2025, now=NOW)
    world.cycle.goal = "前年度の目標"
    drive_to(world, "act_draft")
    db.session.flush()
    return world, following


def last_entry(db, cycle: Cycle) -> AuditEntry:
    return db.session.scalar(
        select(AuditEntry)
        .where(AuditEntry.scope == cycle_scope(cycle))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    )


@pytest.mark.parametrize(
    ("direction", "status"),
    [(Direction.COMPLETE, ItemStatus.COMPLETED), (Direction.ABOLISH, ItemStatus.ABOLISHED)],
)
def test_ending_the_item_abolishes_the_next_year_already_under_way(running, db, direction, status):
    world, following = running
    world.cycle.direction = direction
    drive_to(world, "closed")
    assert world.cycle.item.status == status
    assert following.state == "abolished"
    entry = last_entry(db, following)
    assert entry.action == "end_with_item" and entry.from_state == "doing"
    assert f"2025年度の改善で「{direction.ja}」と決定したため" in entry.comment
    assert verify(db.session) == []


def test_a_closed_later_year_is_left_as_it_is(running, db):
    world, following = running
    following.state = "closed"
    db.session.flush()
    world.cycle.direction = Direction.COMPLETE
    drive_to(world, "closed")
    assert following.state == "closed"


def test_reopening_the_ending_act_makes_the_item_active_and_resumes_the_next_year(running, db):
    world, following = running
    world.cycle.direction = Direction.COMPLETE
    drive_to(world, "closed")
    ops.reopen(world.cycle, by=world.secretariat, now=NOW, reason="継続が正しい")
    assert world.cycle.state == "act_draft"
    assert world.cycle.item.status == ItemStatus.ACTIVE
    assert following.state == "doing"
    world.cycle.direction = Direction.CONTINUE
    drive_to(world, "closed")
    assert world.cycle.item.status == ItemStatus.ACTIVE
    assert following.state == "doing"
    assert "【2025年度の改善策】" in following.carried_over
    assert verify(db.session) == []


def test_reopening_and_continuing_opens_the_next_year(world, make, db):
    item = make.item(world.org)
    world.cycle = ops.open_cycle(item, 2025, now=NOW)
    world.cycle.goal = "目標"
    drive_to(world, "act_draft")
    world.cycle.direction = Direction.COMPLETE
    drive_to(world, "closed")
    assert ops.find_cycle(db.session, item, 2026) is None
    ops.reopen(world.cycle, by=world.secretariat, now=NOW, reason="継続が正しい")
    world.cycle.direction = Direction.CONTINUE
    drive_to(world, "closed")
    assert item.status == ItemStatus.ACTIVE
    assert ops.find_cycle(db.session, item, 2026).state == "plan_draft"
