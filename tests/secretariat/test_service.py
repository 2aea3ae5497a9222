"""The dashboard's rules, called directly with an explicit date."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.models import AuditEntry, Cycle, DeadlineExtension, OutboxMessage, OverdueSnapshot
from app.secretariat import actions
from app.secretariat.service import Filters, list_cycles, matrix
from app.text import ActionError
from notifications.snapshots import snapshot_overdue
from workflows.deadlines import year_locked
from workflows.errors import GuardFailed
from workflows.overdue import load_deadlines, states_of_year

from .helpers import at

TODAY = date(2026, 5, 20)  # after the FY2026 plan deadline (30 April), before the others
NOW = at(TODAY)
APRIL = at(date(2026, 4, 1))
MAY = at(date(2026, 5, 12))  # waiting since after the deadline: the clock starts here


@pytest.fixture
def world(db, make):
    sales, parks = make.org("税務"), make.org("公園")
    secretariat = make.user("jimukyoku", roles=["secretariat"], name="事務局 一郎")
    cycles = {
        "late_plan": make.cycle(make.item(sales), 2026, "plan_draft", state_since=APRIL),
        "plan_waiting": make.cycle(make.item(sales), 2026, "plan_submitted", state_since=MAY),
        "doing": make.cycle(make.item(parks), 2026, "doing", state_since=NOW - timedelta(days=3)),
        "closed": make.cycle(make.item(parks), 2026, "closed"),
    }
    return sales, parks, secretariat, cycles


def _dashboard(db, **filters):
    f = Filters(fiscal_year=2026, **filters)
    deadlines = load_deadlines(db.session, 2026, TODAY)
    states = states_of_year(db.session, 2026)
    return f, deadlines, states


def test_matrix_counts_cycles_per_department_and_stage_with_the_overdue_ones(db, world):
    sales, parks, _sec, _cycles = world
    f, deadlines, states = _dashboard(db)
    rows = {r.department.id: r for r in matrix(db.session, f, deadlines, states)}
    assert rows[sales.department.id].counts["plan"] == 2
    assert rows[sales.department.id].overdue["plan"] == 2
    assert rows[parks.department.id].counts["do"] == 1
    assert rows[parks.department.id].overdue["do"] == 0
    assert rows[parks.department.id].counts["ended"] == 1
    assert rows[parks.department.id].total_overdue == 0


def test_an_item_moved_to_another_section_is_counted_there_with_all_its_years(db, make, world):
    sales, parks, _sec, cycles = world
    item = cycles["late_plan"].item
    earlier = make.cycle(item, 2025, "closed")
    db.session.commit()
    item.owning_section = parks.section  # as an import does
    db.session.commit()
    f, deadlines, states = _dashboard(db)
    rows = {r.department.id: r for r in matrix(db.session, f, deadlines, states)}
    assert rows[sales.department.id].counts["plan"] == 1
    assert rows[parks.department.id].counts["plan"] == 1
    assert rows[parks.department.id].overdue["plan"] == 1
    # Every year's cycle moved, in the database and in the session alike.
    assert earlier.owning_section_id == parks.section.id
    stored = db.session.scalars(
        select(Cycle.owning_section_id)
        .where(Cycle.item_id == item.id)
        .execution_options(populate_existing=True)
    ).all()
    assert stored == [parks.section.id] * 2
    item.owning_section_id = sales.section.id  # by the column too
    db.session.commit()
    db.session.expire_all()
    assert {c.owning_section_id for c in item.cycles} == {sales.section.id}


def test_an_extension_takes_a_cycle_out_of_the_overdue_count(db, world):
    sales, _parks, secretariat, cycles = world
    actions.extend_deadline(
        db.session,
        cycles["late_plan"],
        by=secretariat,
        now=NOW,
        due_on=date(2026, 6, 30),
        reason="担当者の長期休暇のため",
    )
    f, deadlines, states = _dashboard(db)
    row = next(
        r
        for r in matrix(db.session, f, deadlines, states)
        if r.department.id == sales.department.id
    )
    assert row.overdue["plan"] == 1
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "extend_deadline"))
    assert entry.comment == "担当者の長期休暇のため"
    assert entry.data["to"] == "2026-06-30"


def test_stuck_list_shows_overdue_and_long_waiting_cycles_with_who_must_act(db, world):
    sales, _parks, _sec, cycles = world
    f, deadlines, states = _dashboard(db, stuck=True)
    listed, total = list_cycles(db.session, f, deadlines, states, NOW)
    assert total == 2
    assert {row.cycle.id for row in listed} == {cycles["late_plan"].id, cycles["plan_waiting"].id}
    late = next(r for r in listed if r.cycle.id == cycles["late_plan"].id)
    assert late.due == date(2026, 4, 30)
    # Business days after 30 April 2026 up to 20 May, counted on a calendar: 1 May (Fri);
    # 4-6 May are holidays (みどりの日, こどもの日, 振替休日 for 憲法記念日 on a Sunday), so
    # 7-8 May; 11-15 May; 18-20 May: 1 + 2 + 5 + 3.
    assert late.days_overdue == 11
    assert [u.id for u in late.must_act] == [sales.staff.id]
    waiting = next(r for r in listed if r.cycle.id == cycles["plan_waiting"].id)
    assert [u.id for u in waiting.must_act] == [sales.head.id]
    assert late.escalation == "事務局"  # 11 business days after 30 April (from 10 on)
    assert waiting.escalation == "所管部長"  # 6 business days after 12 May


def test_nudge_mails_whoever_must_act_and_records_it(db, world):
    sales, _parks, secretariat, cycles = world
    sent = actions.nudge(
        db.session,
        [cycles["late_plan"], cycles["plan_waiting"]],
        by=secretariat,
        now=NOW,
        message="至急ご対応ください",
    )
    assert sent == 2
    mails = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.recipient_id for m in mails] == [sales.staff.id, sales.head.id]
    assert "至急ご対応ください" in mails[0].body_text
    assert "事務局からのお願い" in mails[0].subject
    nudges = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "nudge")).all()
    assert {e.cycle_id for e in nudges} == {cycles["late_plan"].id, cycles["plan_waiting"].id}


def test_extension_needs_a_reason_and_a_later_date(db, world):
    _sales, _parks, secretariat, cycles = world
    with pytest.raises(ActionError, match="理由"):
        actions.extend_deadline(
            db.session,
            cycles["late_plan"],
            by=secretariat,
            now=NOW,
            due_on=date(2026, 6, 30),
            reason="  ",
        )
    with pytest.raises(ActionError, match="過去"):
        actions.extend_deadline(
            db.session,
            cycles["late_plan"],
            by=secretariat,
            now=NOW,
            due_on=date(2026, 5, 1),
            reason="理由",
        )
    assert db.session.scalar(select(DeadlineExtension)) is None
    assert db.session.scalars(select(AuditEntry)).all() == []


def test_a_locked_year_refuses_every_console_action(db, world):
    _sales, _parks, secretariat, cycles = world
    actions.lock_fiscal_year(db.session, 2026, by=secretariat, now=NOW)
    assert year_locked(db.session, 2026)
    with pytest.raises(ActionError, match="ロック"):
        actions.extend_deadline(
            db.session,
            cycles["late_plan"],
            by=secretariat,
            now=NOW,
            due_on=date(2026, 6, 30),
            reason="理由",
        )
    with pytest.raises(ActionError, match="ロック"):
        actions.nudge(db.session, [cycles["late_plan"]], by=secretariat, now=NOW)
    with pytest.raises(ActionError, match="ロック"):
        actions.lock_fiscal_year(db.session, 2026, by=secretariat, now=NOW)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "lock_fiscal_year"))
    assert entry.scope == "fy:2026" and entry.actor_id == secretariat.id
    # The refusals changed nothing: no extension, no mail, no audit entry but the lock's.
    assert db.session.scalar(select(DeadlineExtension)) is None
    assert db.session.scalar(select(OutboxMessage)) is None
    assert [e.action for e in db.session.scalars(select(AuditEntry))] == ["lock_fiscal_year"]


def test_snapshot_records_the_overdue_count_once_per_day(db, world):
    snapshot_overdue(db.session, TODAY)
    snapshot_overdue(db.session, TODAY)
    rows = db.session.scalars(select(OverdueSnapshot)).all()
    assert [(r.fiscal_year, r.open_count, r.overdue_count) for r in rows] == [(2026, 3, 2)]
    history = actions.overdue_history(db.session, Filters(fiscal_year=2026))
    assert [h.overdue_count for h in history] == [2]


def test_snapshot_ignores_years_that_have_not_started(db, make):
    org = make.org()
    make.cycle(make.item(org), 2027, "plan_draft")
    assert snapshot_overdue(db.session, TODAY) == []


def test_confirm_goes_through_the_engine(db, make):
    from app.models import Grade

    org = make.org()
    secretariat = make.user(roles=["secretariat"])
    cycle = make.cycle(
        make.item(org), 2026, "check_confirming", grade=Grade.B, submitted_by_id=org.staff.id
    )
    actions.fire(
        db.session, cycle, "confirm_check", by=secretariat, now=NOW, comment="確認しました"
    )
    assert cycle.state == "act_draft"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.cycle_id == cycle.id)).all()
    assert entry[-1].to_state == "act_draft"


def test_reopen_needs_a_reason(db, make):
    org = make.org()
    secretariat = make.user(roles=["secretariat"])
    cycle = make.cycle(make.item(org), 2026, "doing")
    for blank in ("", "   "):
        with pytest.raises(GuardFailed, match="理由を入力してください"):
            actions.fire(db.session, cycle, "reopen", by=secretariat, now=NOW, comment=blank)
        assert cycle.state == "doing" and cycle.version == 1
        assert db.session.scalars(select(AuditEntry)).all() == []
    actions.fire(db.session, cycle, "reopen", by=secretariat, now=NOW, comment="計画の見直し")
    assert cycle.state == "plan_draft"


def test_the_snapshot_command_records_today(app, db, world):
    result = app.test_cli_runner().invoke(args=["secretariat", "snapshot"])
    assert result.exit_code == 0, result.output
    assert "FY2026" in result.output
    assert db.session.scalar(select(OverdueSnapshot)) is not None
