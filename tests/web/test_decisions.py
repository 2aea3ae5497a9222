"""Decisions: approve, send back with a reason, conflicts, bulk approval, substitutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.calendar import local_date
from app.models import AuditEntry, Substitution

from .conftest import FY


def submitted(world, db, state="plan_submitted"):
    cycle = world.cycle(state, submitted_by_id=world.org.staff.id)
    db.session.commit()
    return cycle


def test_head_approves(client, world, login_as, db):
    cycle = submitted(world, db)
    login_as(world.org.head)
    page = client.get(f"/cycles/{cycle.id}/decide").get_data(as_text=True)
    assert "承認する" in page and "差し戻す" in page
    response = client.post(
        f"/cycles/{cycle.id}/decide",
        data={"trigger": "approve_plan", "expected_version": cycle.version},
    )
    assert response.status_code == 302
    db.session.refresh(cycle)
    assert cycle.state == "doing"


def test_sending_back_needs_a_reason(client, world, login_as, db):
    cycle = submitted(world, db)
    login_as(world.org.head)
    url = f"/cycles/{cycle.id}/decide"
    response = client.post(
        url, data={"trigger": "send_back_plan", "comment": " ", "expected_version": cycle.version}
    )
    assert response.status_code == 422
    assert "理由を入力してください" in response.get_data(as_text=True)
    db.session.refresh(cycle)
    assert cycle.state == "plan_submitted"
    client.post(
        url,
        data={
            "trigger": "send_back_plan",
            "comment": "目標値の根拠を追記してください",
            "expected_version": cycle.version,
        },
    )
    db.session.refresh(cycle)
    assert cycle.state == "plan_draft"


def test_a_stale_page_is_told_someone_decided_first(client, world, login_as, db):
    cycle = submitted(world, db)
    stale_version = cycle.version
    login_as(world.org.head)
    client.post(
        f"/cycles/{cycle.id}/decide",
        data={"trigger": "approve_plan", "expected_version": stale_version},
    )
    response = client.post(
        f"/cycles/{cycle.id}/decide",
        data={
            "trigger": "send_back_plan",
            "comment": "遅れた判断",
            "expected_version": stale_version,
        },
    )
    assert response.status_code == 409
    assert "他の人が先に判断しました" in response.get_data(as_text=True)
    db.session.refresh(cycle)
    assert cycle.state == "doing"


def test_author_withdraws(client, world, login_as, db):
    cycle = submitted(world, db)
    login_as(world.org.staff)
    response = client.post(
        f"/cycles/{cycle.id}/decide",
        data={"trigger": "withdraw_plan", "expected_version": cycle.version},
    )
    assert response.status_code == 302
    db.session.refresh(cycle)
    assert cycle.state == "plan_draft"


def test_bulk_approval_asks_for_confirmation_first(client, world, login_as, db):
    first, second = submitted(world, db), submitted(world, db, "midyear_submitted")
    login_as(world.org.head)
    page = client.get("/inbox").get_data(as_text=True)
    assert first.item.title in page
    values = [f"{first.id}:{first.version}", f"{second.id}:{second.version}"]
    response = client.post("/inbox", data={"step": "confirm", "cycle": values})
    assert "次の2件を承認します" in response.get_data(as_text=True)
    db.session.refresh(first)
    assert first.state == "plan_submitted"
    response = client.post(
        "/inbox", data={"step": "approve", "cycle": values}, follow_redirects=True
    )
    assert "2件を承認しました。" in response.get_data(as_text=True)
    db.session.refresh(first)
    db.session.refresh(second)
    assert (first.state, second.state) == ("doing", "midyear_approved")


def test_bulk_approval_reports_a_conflict_and_approves_the_rest(client, world, login_as, db):
    first, second = submitted(world, db), submitted(world, db)
    login_as(world.org.head)
    values = [f"{first.id}:{first.version - 1}", f"{second.id}:{second.version}"]
    response = client.post(
        "/inbox", data={"step": "approve", "cycle": values}, follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert "1件を承認しました。" in page and "他の人が先に判断しました" in page
    db.session.refresh(first)
    db.session.refresh(second)
    assert (first.state, second.state) == ("plan_submitted", "doing")


def test_substitute_is_registered_and_approves_on_record(client, world, login_as, db, make):
    deputy = make.deputy(world.org, "deputy", name="代理 次郎")
    cycle = submitted(world, db)
    db.session.commit()
    login_as(world.org.head)
    today = local_date(datetime.now(UTC))
    response = client.post(
        "/substitutes/",
        data={
            "post_id": world.org.head_post.id,
            "substitute_id": deputy.id,
            "starts_on": today.isoformat(),
            "ends_on": (today - timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 422
    assert "終了日は開始日以降にしてください。" in response.get_data(as_text=True)
    client.post(
        "/substitutes/",
        data={
            "post_id": world.org.head_post.id,
            "substitute_id": deputy.id,
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=7)).isoformat(),
            "reason": "出張",
        },
    )
    assert db.session.scalar(db.select(Substitution).where(Substitution.substitute_id == deputy.id))
    client.post("/logout")
    login_as(deputy)
    assert "代理" in client.get("/").get_data(as_text=True)
    client.post(
        f"/cycles/{cycle.id}/decide",
        data={"trigger": "approve_plan", "expected_version": cycle.version},
    )
    db.session.refresh(cycle)
    assert cycle.state == "doing"
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "approve_plan"))
    assert entry.actor_id == deputy.id and entry.on_behalf_of_id == world.org.head.id
    page = client.get(f"/items/{cycle.item_id}?fy={FY}").get_data(as_text=True)
    assert f"{world.org.head.name}の代理" in page


def test_revoked_substitute_can_no_longer_decide(client, world, login_as, db, make):
    deputy = make.user("deputy2")
    cycle = submitted(world, db)
    today = local_date(datetime.now(UTC))
    sub = Substitution(
        post=world.org.head_post,
        substitute=deputy,
        starts_on=today,
        ends_on=today + timedelta(days=3),
        created_by=world.org.head,
    )
    db.session.add(sub)
    db.session.commit()
    login_as(world.org.head)
    client.post(f"/substitutes/{sub.id}/revoke")
    db.session.refresh(sub)
    assert sub.revoked_at is not None
    client.post("/logout")
    login_as(deputy)
    assert client.get(f"/cycles/{cycle.id}/decide").status_code == 403


def test_secretariat_confirms_an_evaluation(client, world, login_as, db, make):
    secretariat = make.user("jimukyoku", roles=["secretariat"])
    cycle = world.cycle("check_confirming", submitted_by_id=world.org.staff.id)
    db.session.commit()
    login_as(secretariat)
    assert "事務局の確認待ち" in client.get("/").get_data(as_text=True)
    page = client.get(f"/cycles/{cycle.id}/decide").get_data(as_text=True)
    assert "事務局として確認する" in page
    client.post(
        f"/cycles/{cycle.id}/decide",
        data={"trigger": "confirm_check", "expected_version": cycle.version},
    )
    db.session.refresh(cycle)
    assert cycle.state == "act_draft"
