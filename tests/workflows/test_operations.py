"""Operations: guards, reasons, withdrawals, own submissions, audit and outbox rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.models import AuditEntry, IndicatorValue, OutboxMessage
from workflows import operations as ops
from workflows.audit import verify
from workflows.errors import ConflictError, GuardFailed, InvalidTransition, PermissionDenied

from .conftest import NOW, drive_to, fill_for


def counts(db):
    return (
        db.session.scalar(select(func.count(AuditEntry.id))),
        db.session.scalar(select(func.count(OutboxMessage.id))),
    )


def outbox(db, kind=None):
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return db.session.scalars(query).all()


def test_the_whole_year_is_audited_and_the_chain_verifies(world, db):
    cycle = drive_to(world, "closed")
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.scope == f"cycle:{cycle.id}").order_by(AuditEntry.seq)
    ).all()
    assert [e.action for e in entries] == [
        "open",
        "submit_plan",
        "approve_plan",
        "submit_midyear",
        "approve_midyear",
        "start_check",
        "submit_check",
        "approve_check",
        "confirm_check",
        "submit_act",
        "approve_act",
    ]
    assert entries[2].actor == world.head and entries[2].from_state == "plan_submitted"
    assert cycle.closed_at == NOW
    assert verify(db.session) == []


def test_submitting_a_plan_without_a_goal_is_refused_and_changes_nothing(world, db):
    world.cycle.goal = "  "
    before = counts(db)
    with pytest.raises(GuardFailed) as info:
        ops.submit(world.cycle, by=world.staff, now=NOW)
    assert info.value.field == "goal" and "目標" in info.value.message
    assert world.cycle.state == "plan_draft" and counts(db) == before


def test_submitting_a_plan_without_a_target_for_the_year_is_refused(world, db):
    for indicator in world.cycle.item.indicators:
        indicator.value_for(2026).target = None
    db.session.flush()
    with pytest.raises(GuardFailed) as info:
        ops.submit(world.cycle, by=world.staff, now=NOW)
    assert info.value.field == "indicators"
    assert "2026年度の目標値を設定した指標" in info.value.message


def test_midyear_submission_needs_a_midyear_report(world, db):
    drive_to(world, "doing")
    with pytest.raises(GuardFailed, match="中間報告"):
        ops.submit(world.cycle, by=world.staff, now=NOW)
    fill_for(world.cycle, "doing", world.staff)
    ops.submit(world.cycle, by=world.staff, now=NOW)
    assert world.cycle.state == "midyear_submitted"


def test_check_submission_needs_grade_status_and_every_actual(world, db):
    drive_to(world, "check_draft")
    world.cycle.grade = None
    with pytest.raises(GuardFailed, match="達成度"):
        ops.submit(world.cycle, by=world.staff, now=NOW)
    fill_for(world.cycle, "check_draft", world.staff)
    value = db.session.scalars(select(IndicatorValue).where(IndicatorValue.fiscal_year == 2026))
    value.first().actual = None
    db.session.flush()
    with pytest.raises(GuardFailed, match="実績値") as info:
        ops.submit(world.cycle, by=world.staff, now=NOW)
    assert info.value.field == "indicators"


def test_act_submission_needs_a_direction_and_an_improvement(world, db):
    drive_to(world, "act_draft")
    world.cycle.direction = None
    with pytest.raises(GuardFailed, match="方向性"):
        ops.submit(world.cycle, by=world.staff, now=NOW)


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_send_back_needs_a_reason(world, db, reason):
    drive_to(world, "plan_submitted")
    before = counts(db)
    with pytest.raises(GuardFailed) as info:
        ops.send_back(world.cycle, by=world.head, now=NOW, reason=reason)
    assert info.value.field == "reason" and world.cycle.state == "plan_submitted"
    assert counts(db) == before


def test_send_back_mails_the_reason_to_the_author(world, db):
    drive_to(world, "plan_submitted")
    ops.send_back(world.cycle, by=world.head, now=NOW, reason="指標の目標値が低すぎます")
    assert world.cycle.state == "plan_draft"
    (mail,) = outbox(db, "transition_sent_back")
    assert mail.recipient == world.staff
    assert "指標の目標値が低すぎます" in mail.body_text
    assert "差戻し" in mail.subject


def test_submission_mails_the_head_with_a_decision_link_context(world, db):
    ops.submit(world.cycle, by=world.staff, now=NOW)
    (mail,) = outbox(db, "transition_submitted")
    assert mail.recipient == world.head
    assert mail.context["cycle_id"] == world.cycle.id
    assert mail.context["version"] == world.cycle.version
    assert "承認依頼" in mail.subject and world.cycle.item.title in mail.subject


def test_approval_mails_the_author(world, db):
    drive_to(world, "doing")
    (mail,) = outbox(db, "transition_approved")
    assert mail.recipient == world.staff and world.head.name in mail.body_text


def test_head_approval_of_check_asks_the_secretariat_to_confirm(world, db):
    drive_to(world, "check_confirming")
    (mail,) = outbox(db, "transition_confirm_requested")
    assert mail.recipient == world.secretariat


def test_only_the_submitter_withdraws_and_only_before_a_decision(world, db):
    ops.submit(world.cycle, by=world.staff, now=NOW)
    with pytest.raises(PermissionDenied):
        ops.withdraw(world.cycle, by=world.staff2, now=NOW)
    ops.withdraw(world.cycle, by=world.staff, now=NOW)
    assert world.cycle.state == "plan_draft"
    ops.submit(world.cycle, by=world.staff, now=NOW)
    ops.approve(world.cycle, by=world.head, now=NOW)
    with pytest.raises(InvalidTransition):
        ops.withdraw(world.cycle, by=world.staff, now=NOW)


def test_nobody_approves_their_own_submission(world, make, db):
    make.assign(world.head, world.org.staff_post)  # the head also holds a staff post
    ops.submit(world.cycle, by=world.head, now=NOW)
    with pytest.raises(PermissionDenied) as info:
        ops.approve(world.cycle, by=world.head, now=NOW)
    assert info.value.code == "own_submission"
    assert "自分が提出" in info.value.message


def test_a_substitute_does_not_decide_on_their_own_submission(world, db):
    ops.register_substitute(
        world.org.head_post,
        substitute=world.staff,
        by=world.head,
        now=NOW,
        starts_on=NOW.date(),
        ends_on=NOW.date() + timedelta(days=7),
    )
    ops.submit(world.cycle, by=world.staff, now=NOW)
    with pytest.raises(PermissionDenied):
        ops.approve(world.cycle, by=world.staff, now=NOW)
    ops.approve(world.cycle, by=world.head, now=NOW)


def test_a_stale_expected_version_is_a_conflict(world, db):
    ops.submit(world.cycle, by=world.staff, now=NOW)
    seen = world.cycle.version
    ops.withdraw(world.cycle, by=world.staff, now=NOW)
    ops.submit(world.cycle, by=world.staff, now=NOW)
    before = counts(db)
    with pytest.raises(ConflictError) as info:
        ops.approve(world.cycle, by=world.head, now=NOW, expected_version=seen)
    assert info.value.message.startswith("他の人が先に判断しました")
    assert world.cycle.state == "plan_submitted" and counts(db) == before


def test_every_transition_bumps_the_version_and_the_state_time(world, db):
    later = NOW + timedelta(hours=3)
    before = world.cycle.version
    ops.submit(world.cycle, by=world.staff, now=later)
    assert world.cycle.version == before + 1
    assert world.cycle.state_since == later
    assert world.cycle.submitted_by == world.staff and world.cycle.submitted_at == later


def test_the_secretariat_reopens_an_approved_stage_with_a_reason(world, db):
    drive_to(world, "doing")
    with pytest.raises(GuardFailed):
        ops.reopen(world.cycle, by=world.secretariat, now=NOW, reason="")
    with pytest.raises(PermissionDenied):
        ops.reopen(world.cycle, by=world.head, now=NOW, reason="再検討")
    ops.reopen(world.cycle, by=world.secretariat, now=NOW, reason="目標の再検討")
    assert world.cycle.state == "plan_draft"
    mails = outbox(db, "transition_reopened")
    assert {m.recipient for m in mails} == {world.staff, world.staff2}
    assert "目標の再検討" in mails[0].body_text


def test_reopening_a_closed_year_returns_to_act(world, db):
    drive_to(world, "closed")
    ops.reopen(world.cycle, by=world.secretariat, now=NOW, reason="方向性の訂正")
    assert world.cycle.state == "act_draft" and world.cycle.closed_at is None


def test_suspend_and_resume_return_to_the_same_state(world, db):
    drive_to(world, "check_submitted")
    ops.suspend(world.cycle, by=world.secretariat, now=NOW, reason="組織再編のため")
    assert world.cycle.state == "suspended"
    assert world.cycle.item.status == "suspended"
    with pytest.raises(InvalidTransition):
        ops.approve(world.cycle, by=world.head, now=NOW)
    ops.resume(world.cycle, by=world.secretariat, now=NOW)
    assert world.cycle.state == "check_submitted" and world.cycle.item.status == "active"
    assert verify(db.session) == []


def test_abolishing_marks_the_item_and_ends_the_cycle(world, db):
    ops.abolish(world.cycle, by=world.secretariat, now=NOW, reason="事業終了")
    assert world.cycle.state == "abolished" and world.cycle.item.status == "abolished"
    with pytest.raises(InvalidTransition):
        ops.reopen(world.cycle, by=world.secretariat, now=NOW, reason="誤り")


def test_every_transition_mail_renders_with_links_at_delivery(world, db):
    from app.outbox import render

    drive_to(world, "check_submitted")
    ops.withdraw(world.cycle, by=world.staff, now=NOW)
    drive_to(world, "act_draft")
    ops.suspend(world.cycle, by=world.secretariat, now=NOW, reason="組織再編")
    ops.resume(world.cycle, by=world.secretariat, now=NOW)
    ops.abolish(world.cycle, by=world.secretariat, now=NOW, reason="統合により廃止")
    kinds = {m.kind for m in outbox(db)}
    assert kinds == {
        "transition_submitted",
        "transition_approved",
        "transition_withdrawn",
        "transition_confirm_requested",
        "transition_confirmed",
        "transition_suspended",
        "transition_resumed",
        "transition_abolished",
    }
    for mail in outbox(db):
        subject, body = render(
            mail.kind,
            mail.context,
            base_url="https://kaikaku.example",
            decision_url=lambda c, v: f"https://kaikaku.example/d/{c}/{v}",
        )
        assert subject == mail.subject and "【行政改革】" in subject
        assert world.cycle.item.title in body
        if mail.kind == "transition_submitted":
            assert f"https://kaikaku.example/d/{world.cycle.id}/" in body


def test_a_locked_fiscal_year_refuses_every_transition_and_edit(world, db, make):
    from app.items.service import can_edit

    make.schedule(2026, locked_at=NOW)
    cycle = world.cycle
    before = cycle.version
    with pytest.raises(PermissionDenied, match="確定（ロック）済み"):
        ops.submit(cycle, by=world.staff, now=NOW)
    assert cycle.state == "plan_draft" and cycle.version == before
    assert not can_edit(world.staff, cycle, "plan", NOW.date())


def test_a_stale_version_tells_nothing_to_someone_with_no_part_in_the_cycle(world, db):
    drive_to(world, "plan_submitted")
    stale = world.cycle.version - 1
    with pytest.raises(PermissionDenied) as refused:
        ops.approve(world.cycle, by=world.other.head, now=NOW, expected_version=stale)
    assert "他の人が先に判断しました" not in refused.value.message
    assert "計画承認待ち" not in refused.value.message
    with pytest.raises(ConflictError):  # the head, who has a part, is told it moved on
        ops.approve(world.cycle, by=world.head, now=NOW, expected_version=stale)
    assert world.cycle.state == "plan_submitted"
