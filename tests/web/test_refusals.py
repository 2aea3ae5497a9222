"""The engine's refusals reach the user as pages, never as a server error."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from app.calendar import local_date
from app.models import AuditEntry, Cycle, ProgressReport
from workflows import operations

from .conftest import FY


def test_a_decision_raced_by_another_is_told_someone_decided_first(
    client, world, login_as, db, monkeypatch
):
    cycle = world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    db.session.commit()
    fire = operations.fire

    def raced(cycle, trigger, **kwargs):
        # Another decider's UPDATE lands between reading the page and writing the decision.
        db.session.execute(
            update(Cycle).where(Cycle.id == cycle.id).values(version=Cycle.version + 1)
        )
        return fire(cycle, trigger, **kwargs)

    monkeypatch.setattr(operations, "fire", raced)
    login_as(world.org.head)
    response = client.post(
        f"/cycles/{cycle.id}/decide",
        data={"trigger": "approve_plan", "expected_version": cycle.version},
    )
    assert response.status_code == 409
    assert "他の人が先に判断しました" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Cycle, cycle.id).state == "plan_submitted"


def test_a_decision_in_a_locked_year_is_refused_and_changes_nothing(
    client, world, login_as, db, make
):
    cycle = world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    make.schedule(FY, locked_at=datetime.now(UTC))
    db.session.commit()
    entries = db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    login_as(world.org.head)
    response = client.post(
        f"/cycles/{cycle.id}/decide",
        data={"trigger": "approve_plan", "expected_version": cycle.version},
    )
    assert response.status_code == 403
    assert "確定（ロック）済み" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Cycle, cycle.id).state == "plan_submitted"
    assert db.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) == (
        entries
    )


def test_submitting_the_midyear_report_without_one_keeps_what_was_typed(
    client, world, login_as, db
):
    cycle = world.cycle("doing")
    db.session.commit()
    login_as(world.org.staff)
    response = client.post(
        f"/items/{cycle.item_id}/cycles/{FY}/report",
        data={
            "action": "submit",
            "expected_version": cycle.version,
            "kind": "progress",
            "as_of": local_date(datetime.now(UTC)).isoformat(),
            "body": "窓口アンケートを実施した（途中経過）",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "中間報告を作成してから提出してください。" in page
    assert "窓口アンケートを実施した（途中経過）" in page
    db.session.expire_all()
    assert db.session.get(Cycle, cycle.id).state == "doing"
    assert db.session.scalars(select(ProgressReport)).all() == []
