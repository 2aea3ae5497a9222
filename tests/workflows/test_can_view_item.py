"""Who may read an item's page: its workers and deciders, the secretariat and admins."""

from __future__ import annotations

from datetime import date

from workflows import operations as ops
from workflows.permissions import can_view_item

from .conftest import NOW


def test_the_heads_running_substitute_may_view_and_not_after(world, make, db):
    deputy = make.deputy(world.org, "deputy")
    item = world.cycle.item
    ops.register_substitute(
        world.org.head_post,
        substitute=deputy,
        starts_on=date(2026, 5, 11),
        ends_on=date(2026, 5, 15),
        by=world.head,
        now=NOW,
    )
    assert can_view_item(deputy, item, date(2026, 5, 12))
    assert not can_view_item(deputy, item, date(2026, 5, 18))


def test_admins_may_view_and_a_deactivated_staff_member_may_not(world, db):
    item = world.cycle.item
    assert can_view_item(world.admin, item, date(2026, 5, 12))
    assert not can_view_item(world.committee, item, date(2026, 5, 12))
    world.staff.active = False
    assert not can_view_item(world.staff, item, date(2026, 5, 12))
