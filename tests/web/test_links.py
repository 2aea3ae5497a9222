"""E-mail decision links: login first, once only, and a clear page when stale."""

from __future__ import annotations

from app.links import make_decision_token


def token_for(app, cycle, user):
    return make_decision_token(
        app.config["SECRET_KEY"], cycle_id=cycle.id, version=cycle.version, recipient_id=user.id
    )


def test_link_asks_for_login_then_opens_the_decision_page_once(app, client, world, db, login_as):
    cycle = world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    db.session.commit()
    token = token_for(app, cycle, world.org.head)
    response = client.get(f"/links/{token}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login_as(world.org.head)
    response = client.get(f"/links/{token}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cycles/{cycle.id}/decide")
    again = client.get(f"/links/{token}")
    assert again.status_code == 410
    assert "すでに使用されています" in again.get_data(as_text=True)


def test_link_after_the_item_moved_on(app, client, world, db, login_as):
    cycle = world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    db.session.commit()
    token = token_for(app, cycle, world.org.head)
    login_as(world.org.head)
    client.post(
        f"/cycles/{cycle.id}/decide",
        data={"trigger": "approve_plan", "expected_version": cycle.version},
    )
    response = client.get(f"/links/{token}")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "状態が変わっています" in page and "実施中" in page


def test_tampered_and_foreign_links(app, client, world, db, login_as):
    cycle = world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    db.session.commit()
    token = token_for(app, cycle, world.org.head)
    login_as(world.org.other.head if hasattr(world.org, "other") else world.other.head)
    assert client.get(f"/links/{token}").status_code == 403
    assert client.get(f"/links/{token}x").status_code == 404


def _token_made_days_ago(app, cycle, user, days: int, monkeypatch) -> str:
    """A real token, signed as if the mail had been made `days` ago."""
    import time

    from itsdangerous.timed import TimestampSigner

    with monkeypatch.context() as patch:
        patch.setattr(
            TimestampSigner, "get_timestamp", lambda self: int(time.time()) - days * 24 * 3600
        )
        return token_for(app, cycle, user)


def test_a_link_older_than_fourteen_days_has_expired_and_records_nothing(
    app, client, world, db, login_as, monkeypatch
):
    from sqlalchemy import func, select

    from app.models import UsedDecisionLink

    cycle = world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    db.session.commit()
    stale = _token_made_days_ago(app, cycle, world.org.head, 15, monkeypatch)
    login_as(world.org.head)
    response = client.get(f"/links/{stale}")
    assert response.status_code == 410
    assert "有効期限が切れています" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(UsedDecisionLink)) == 0


def test_a_link_thirteen_days_old_still_opens_the_decision_page(
    app, client, world, db, login_as, monkeypatch
):
    cycle = world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    db.session.commit()
    recent = _token_made_days_ago(app, cycle, world.org.head, 13, monkeypatch)
    login_as(world.org.head)
    response = client.get(f"/links/{recent}")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/cycles/{cycle.id}/decide")
