"""Substitutes (代理), the yearly rollover, and the audit chain's verification."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from app.models import AuditEntry, Cycle, Direction, ItemStatus
from workflows import operations as ops
from workflows.audit import verify
from workflows.errors import GuardFailed, PermissionDenied
from workflows.permissions import role_people, who_must_act

from .conftest import NOW, drive_to


def substitute(world, make, starts_on, ends_on):
    deputy = make.deputy(world.org, "deputy", name="企画部次長 代理子")
    ops.register_substitute(
        world.org.head_post,
        substitute=deputy,
        starts_on=starts_on,
        ends_on=ends_on,
        by=world.head,
        now=NOW,
        reason="出張",
    )
    return deputy


def test_a_running_substitute_decides_on_behalf_of_the_head(world, make, db):
    deputy = substitute(world, make, date(2026, 5, 11), date(2026, 5, 15))
    drive_to(world, "plan_submitted")
    assert deputy in role_people(world.cycle, "head", NOW.date())
    assert deputy in who_must_act(world.cycle, NOW.date())
    entry = ops.approve(world.cycle, by=deputy, now=NOW)
    assert entry.actor == deputy and entry.on_behalf_of == world.head
    assert world.cycle.state == "doing"


@pytest.mark.parametrize(
    ("starts_on", "ends_on"),
    [(date(2026, 5, 1), date(2026, 5, 10)), (date(2026, 5, 12), date(2026, 5, 20))],
    ids=["expired", "future"],
)
def test_expired_or_future_substitutions_give_no_rights(world, make, db, starts_on, ends_on):
    deputy = substitute(world, make, starts_on, ends_on)
    drive_to(world, "plan_submitted")
    assert deputy not in role_people(world.cycle, "head", NOW.date())
    with pytest.raises(PermissionDenied):
        ops.approve(world.cycle, by=deputy, now=NOW)


def test_a_revoked_substitution_gives_no_rights(world, make, db):
    deputy = make.deputy(world.org, "deputy")
    sub = ops.register_substitute(
        world.org.head_post,
        substitute=deputy,
        by=world.head,
        now=NOW,
        starts_on=date(2026, 5, 1),
        ends_on=date(2026, 5, 31),
    )
    ops.revoke_substitute(sub, by=world.head, now=NOW)
    drive_to(world, "plan_submitted")
    with pytest.raises(PermissionDenied):
        ops.approve(world.cycle, by=deputy, now=NOW)


def test_registering_a_substitute_is_limited_and_audited(world, make, db):
    deputy = make.deputy(world.org, "deputy")
    with pytest.raises(PermissionDenied):
        ops.register_substitute(
            world.org.head_post,
            substitute=deputy,
            by=world.staff,
            now=NOW,
            starts_on=date(2026, 5, 1),
            ends_on=date(2026, 5, 2),
        )
    with pytest.raises(GuardFailed):
        ops.register_substitute(
            world.org.head_post,
            substitute=world.head,
            by=world.head,
            now=NOW,
            starts_on=date(2026, 5, 1),
            ends_on=date(2026, 5, 2),
        )
    with pytest.raises(GuardFailed, match="終了日"):
        ops.register_substitute(
            world.org.head_post,
            substitute=deputy,
            by=world.head,
            now=NOW,
            starts_on=date(2026, 5, 2),
            ends_on=date(2026, 5, 1),
        )
    ops.register_substitute(
        world.org.head_post,
        substitute=deputy,
        by=world.secretariat,
        now=NOW,
        starts_on=date(2026, 5, 1),
        ends_on=date(2026, 5, 2),
    )
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.scope == f"post:{world.org.head_post.id}")
    )
    assert entry.action == "register_substitute" and entry.actor == world.secretariat
    assert entry.data["substitute"] == deputy.id


# --- rollover ---------------------------------------------------------------------------


@pytest.fixture
def fy2025(world, make, db):
    """A FY2025 cycle of the same item (the plan runs FY2022-2026)."""
    world.cycle = ops.open_cycle(world.cycle.item, 2025, now=NOW)
    world.cycle.goal = "前年度の目標"
    db.session.flush()
    return world


def test_approving_act_carries_the_measures_into_the_open_next_cycle(fy2025, db):
    world = fy2025
    next_cycle = db.session.scalar(select(Cycle).where(Cycle.fiscal_year == 2026))
    assert next_cycle.state == "plan_draft"
    drive_to(world, "closed")
    assert "【2025年度の改善策】" in next_cycle.carried_over
    assert "申請様式を統一する" in next_cycle.carried_over
    assert next_cycle.state == "plan_draft"
    assert verify(db.session) == []


def test_approving_act_opens_the_next_cycle_when_missing(world, make, db):
    item = make.item(world.org)
    world.cycle = ops.open_cycle(item, 2025, now=NOW)
    world.cycle.goal = "目標"
    drive_to(world, "closed")
    following = db.session.scalar(
        select(Cycle).where(Cycle.item_id == item.id, Cycle.fiscal_year == 2026)
    )
    assert following.state == "plan_draft" and "申請様式を統一する" in following.carried_over
    assert [v.fiscal_year for v in item.indicators[0].values].count(2026) == 1


@pytest.mark.parametrize(
    ("direction", "status"),
    [
        (Direction.COMPLETE, ItemStatus.COMPLETED),
        (Direction.ABOLISH, ItemStatus.ABOLISHED),
    ],
)
def test_complete_or_abolish_ends_the_item_and_the_opened_next_cycle(fy2025, db, direction, status):
    world = fy2025
    drive_to(world, "act_draft")
    world.cycle.direction = direction
    drive_to(world, "closed")
    following = db.session.scalar(select(Cycle).where(Cycle.fiscal_year == 2026))
    assert world.cycle.item.status == status
    assert following.state == "abolished"
    assert ops.open_next_cycles(db.session, 2027, now=NOW) == []
    assert verify(db.session) == []


def test_no_next_cycle_after_the_plan_has_ended(world, db):
    drive_to(world, "closed")  # FY2026 is the plan's last year
    assert db.session.scalar(select(Cycle).where(Cycle.fiscal_year == 2027)) is None


def test_open_next_cycles_is_idempotent_and_skips_ended_items(world, make, db):
    done = make.item(world.org, title="終わった項目")
    previous = ops.open_cycle(done, 2025, now=NOW)
    previous.direction = Direction.COMPLETE
    first = ops.open_next_cycles(db.session, 2026, now=NOW)
    assert done not in [c.item for c in first]
    assert world.cycle not in first  # already open
    assert ops.open_next_cycles(db.session, 2026, now=NOW) == []


# --- audit verification -----------------------------------------------------------------


def test_an_altered_record_is_reported(world, db):
    drive_to(world, "doing")
    entry_id = db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "approve_plan"))
    db.session.execute(
        text("UPDATE audit_entry SET comment = 'forged' WHERE id = :id"), {"id": entry_id}
    )
    db.session.expire_all()
    problems = verify(db.session)
    assert any("#3 (approve_plan) was altered" in p for p in problems)


def test_a_removed_record_is_reported(world, db):
    drive_to(world, "doing")
    scope = f"cycle:{world.cycle.id}"
    db.session.execute(text("DELETE FROM audit_entry WHERE scope = :s AND seq = 2"), {"s": scope})
    db.session.expire_all()
    assert any(f"{scope}: record #2 is missing" in p for p in verify(db.session))


def test_a_removed_last_record_is_reported(world, db):
    drive_to(world, "doing")
    scope = f"cycle:{world.cycle.id}"
    db.session.execute(text("DELETE FROM audit_entry WHERE scope = :s AND seq = 3"), {"s": scope})
    db.session.expire_all()
    assert any("a record is missing" in p for p in verify(db.session))


def test_the_orm_refuses_to_change_an_audit_record(world, db):
    entry = db.session.scalar(select(AuditEntry))
    entry.comment = "forged"
    with pytest.raises(ValueError, match="append-only"):
        db.session.flush()
    db.session.rollback()


def test_next_day_substitution_boundaries_are_inclusive(world, make, db):
    deputy = substitute(world, make, NOW.date() - timedelta(days=3), NOW.date())
    drive_to(world, "plan_submitted")
    ops.approve(world.cycle, by=deputy, now=NOW)
    assert world.cycle.state == "doing"


def test_the_author_is_told_who_decided_on_whose_behalf(world, make, db):
    from app.models import OutboxMessage

    deputy = substitute(world, make, date(2026, 5, 11), date(2026, 5, 15))
    drive_to(world, "plan_submitted")
    ops.send_back(world.cycle, by=deputy, now=NOW, reason="数値の根拠を追記してください")
    mail = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.kind == "transition_sent_back")
    )
    assert mail.recipient == world.staff
    assert f"{deputy.name}（{world.head.name} の代理）" in mail.body_text


@pytest.mark.parametrize(
    ("state", "who"),
    [
        ("plan_draft", "staff"),
        ("plan_submitted", "head"),
        ("check_confirming", "secretariat"),
        ("closed", None),
        ("suspended", None),
        ("abolished", None),
    ],
)
def test_who_must_act_follows_the_state(world, db, state, who):
    world.cycle.state = state
    expected = {
        "staff": {world.staff, world.staff2},
        "head": {world.head},
        "secretariat": {world.secretariat},
        None: set(),
    }[who]
    assert set(who_must_act(world.cycle, NOW.date())) == expected


@pytest.mark.parametrize("who", ["committee", "outsider", "other_department_staff"])
def test_only_someone_eligible_under_the_workflows_roles_may_be_named_substitute(
    world, make, db, who
):
    from app.models import Substitution
    from workflows.errors import GuardFailed

    candidate = {
        "committee": world.committee,
        "outsider": make.user("outsider"),
        "other_department_staff": world.other.staff,
    }[who]
    with pytest.raises(GuardFailed, match="ワークフローの役職に就いている職員"):
        ops.register_substitute(
            world.org.head_post,
            substitute=candidate,
            starts_on=date(2026, 5, 11),
            ends_on=date(2026, 5, 15),
            by=world.head,
            now=NOW,
        )
    assert db.session.scalar(select(func.count()).select_from(Substitution)) == 0
