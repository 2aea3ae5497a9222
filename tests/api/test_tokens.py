"""Personal access tokens: made under settings, shown once, hashed, revoked, expired,
throttled; the session cookie never authenticates the API."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.models import ApiToken, AuditEntry

from .conftest import Api


def test_a_token_is_shown_once_then_only_its_prefix(world, client, login_as, db):
    login_as(world.org.staff)
    page = client.get("/account/tokens")
    assert page.status_code == 200 and "APIトークン" in page.get_data(as_text=True)
    made = client.post(
        "/account/tokens", data={"name": "庁内ポータル", "access": "read", "days": "90"}
    )
    assert made.status_code == 201
    html = made.get_data(as_text=True)
    text = re.search(r'value="(kkp_[A-Za-z0-9_-]+)"', html).group(1)
    assert "二度と表示されません" in html
    row = db.session.scalar(select(ApiToken))
    # Stored as a digest; the page later shows the prefix only.
    assert row.digest == hashlib.sha256(text.encode()).hexdigest()
    assert text not in str(row.__dict__)
    later = client.get("/account/tokens").get_data(as_text=True)
    assert text not in later and row.prefix in later and "庁内ポータル" in later
    assert row.scope_list == ["read"]
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_token_create"))
    # And it works.
    me = Api(client, text).get("/me")
    assert me.status_code == 200 and me.get_json()["login"] == world.org.staff.login


def test_the_token_form_refuses_bad_choices_in_japanese(world, client, login_as, db):
    login_as(world.org.staff)
    refused = client.post("/account/tokens", data={"name": "", "access": "admin", "days": "9"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "トークンの名前を入力してください" in html and "選択肢が正しくありません" in html
    assert db.session.scalar(select(ApiToken)) is None


def test_a_revoked_token_is_refused_with_401(world, client, login_as, token, db):
    text = token(world.org.staff)
    assert Api(client, text).get("/me").status_code == 200
    login_as(world.org.staff)
    row = db.session.scalar(select(ApiToken))
    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 303
    refused = Api(client, text).get("/me")
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert body["code"] == "invalid_token"
    assert body["messages"]["ja"]["detail"] and body["messages"]["en"]["detail"]
    assert "WWW-Authenticate" in refused.headers


def test_nobody_revokes_someone_elses_token(world, client, login_as, token, db):
    token(world.org.staff)
    row = db.session.scalar(select(ApiToken))
    login_as(world.other.staff)
    assert client.post(f"/account/tokens/{row.id}/revoke").status_code == 404
    db.session.refresh(row)
    assert row.revoked_at is None


def test_an_expired_token_is_refused(world, client, token, db):
    text = token(world.org.staff)
    row = db.session.scalar(select(ApiToken))
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    assert Api(client, text).get("/me").status_code == 401


def test_a_deactivated_user_s_token_stops_working(world, client, token, db):
    text = token(world.org.staff)
    world.org.staff.active = False
    db.session.commit()
    assert Api(client, text).get("/me").status_code == 401


def test_the_last_use_is_noted(world, client, token, db):
    text = token(world.org.staff)
    Api(client, text).get("/me")
    row = db.session.scalar(select(ApiToken))
    db.session.refresh(row)
    assert row.last_used_at is not None


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer ", "Bearer kkp_wrong"])
def test_without_a_good_token_the_api_answers_401(world, client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/me/tasks/counts", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_a_session_cookie_does_not_authenticate_the_api(world, client, login_as):
    login_as(world.org.staff)
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    # Nor can a page's session make a write (and no CSRF token is asked for: none helps).
    assert client.post("/api/v1/cycles/1/approve", json={}).status_code == 401


def test_guessing_tokens_is_throttled_like_logins(world, client, token):
    good = token(world.org.staff)
    bad = Api(client, "kkp_guess" + "x" * 30)
    for _ in range(5):
        assert bad.get("/me").status_code == 401
    throttled = bad.get("/me")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"]
    # Another address is not paused, and a good token from here works (other prefix).
    assert Api(client, good).get("/me").status_code == 200


def test_many_bad_tokens_from_one_address_pause_the_address(world, client, token):
    good = token(world.org.staff)
    for n in range(30):
        Api(client, f"kkp_{n:08d}" + "y" * 30).get("/me")
    assert Api(client, good).get("/me").status_code == 429


def test_a_read_token_cannot_write(world, api, db):
    cycle = world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    db.session.commit()
    head = api(world.org.head, access="read")
    response = head.post(f"/cycles/{cycle.id}/approve", headers={"If-Match": str(cycle.version)})
    assert response.status_code == 403
    assert response.get_json()["code"] == "insufficient_scope"
    db.session.refresh(cycle)
    assert cycle.state == "plan_submitted"
    # Reading is fine.
    assert head.get(f"/cycles/{cycle.id}").status_code == 200
