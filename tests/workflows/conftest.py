"""A small world for the workflow tests: one department, its head, staff and the secretariat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.models import Cycle, Direction, Grade, ProgressReport, ProgressStatus, User
from tests.factories import Org
from workflows import operations as ops

NOW = datetime(2026, 5, 11, 1, 0, tzinfo=UTC)  # Monday 11 May 2026, 10:00 in Tokyo


@dataclass
class World:
    org: Org
    other: Org
    secretariat: User
    committee: User
    admin: User
    staff2: User
    cycle: Cycle

    @property
    def head(self) -> User:
        return self.org.head

    @property
    def staff(self) -> User:
        return self.org.staff


@pytest.fixture
def world(make, db) -> World:
    org = make.org("企画")
    other = make.org("福祉")
    staff2 = make.user("staff_b", name="企画課 次郎")
    make.assign(staff2, org.staff_post)
    item = make.item(org)
    cycle = ops.open_cycle(item, 2026, now=NOW)
    cycle.goal = "オンライン申請を100手続に拡大する"
    db.session.flush()
    return World(
        org=org,
        other=other,
        secretariat=make.user("jimukyoku", roles=["secretariat"], name="事務局 三郎"),
        committee=make.user("iin", roles=["committee"], name="委員 四郎"),
        admin=make.user("admin", roles=["admin"], name="管理 五郎"),
        staff2=staff2,
        cycle=cycle,
    )


def fill_for(cycle: Cycle, state: str, author: User) -> None:
    """Give the cycle what the guards ask for before leaving `state`."""
    from sqlalchemy.orm import object_session

    session = object_session(cycle)
    if state == "doing":
        session.add(
            ProgressReport(
                cycle=cycle,
                kind="midyear",
                as_of=NOW.date(),
                body="順調",
                created_by=author,
            )
        )
    if state in ("midyear_approved", "check_draft"):
        cycle.grade = cycle.grade or Grade.B
        cycle.progress_status = cycle.progress_status or ProgressStatus.PARTIAL
        for indicator in cycle.item.indicators:
            value = indicator.value_for(cycle.fiscal_year)
            if value is not None and value.target is not None:
                value.actual = Decimal("95")
    if state == "act_draft":
        cycle.direction = cycle.direction or Direction.CONTINUE
        cycle.improvement = cycle.improvement or "申請様式を統一する"
    session.flush()


PATH = {
    # state -> (trigger, role that fires it) on the way to closed
    "plan_draft": ("submit_plan", "staff"),
    "plan_submitted": ("approve_plan", "head"),
    "doing": ("submit_midyear", "staff"),
    "midyear_submitted": ("approve_midyear", "head"),
    "midyear_approved": ("start_check", "staff"),
    "check_draft": ("submit_check", "staff"),
    "check_submitted": ("approve_check", "head"),
    "check_confirming": ("confirm_check", "secretariat"),
    "act_draft": ("submit_act", "staff"),
    "act_submitted": ("approve_act", "head"),
}


def drive_to(world: World, target: str, now: datetime = NOW) -> Cycle:
    """Move the world's cycle along the happy path until it is in `target`."""
    cycle = world.cycle
    actors = {"staff": world.staff, "head": world.head, "secretariat": world.secretariat}
    while cycle.state != target:
        trigger, role = PATH[cycle.state]
        fill_for(cycle, cycle.state, world.staff)
        ops.fire(cycle, trigger, by=actors[role], now=now)
    return cycle
