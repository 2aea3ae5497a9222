"""Login, logout, sessions and the first page."""

import pytest


@pytest.fixture
def org(make, db):
    org = make.org("企画")
    make.item(org, number="1-1", title="行政手続のオンライン化の推進", viewpoint=1)
    make.item(org, number="5-3", title="RPA・AIの活用による業務効率化", viewpoint=5)
    db.session.commit()
    return org


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get("/plan")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_wrong_password_is_refused_in_japanese(client, org):
    response = client.post("/login", data={"login": org.staff.login, "password": "wrong"})
    assert response.status_code == 401
    assert "ログインIDまたはパスワードが正しくありません" in response.get_data(as_text=True)


def test_inactive_user_cannot_log_in(client, org, db):
    org.staff.active = False
    db.session.commit()
    response = client.post("/login", data={"login": org.staff.login, "password": "password"})
    assert response.status_code == 401


def test_plan_page_lists_items_by_viewpoint(client, login_as, org):
    login_as(org.staff)
    page = client.get("/plan").get_data(as_text=True)
    assert "1. サービスの最適化" in page
    assert "5. 組織機構の最適化" in page
    assert page.index("行政手続のオンライン化の推進") < page.index("5. 組織機構の最適化")
    assert page.index("RPA・AIの活用による業務効率化") > page.index("5. 組織機構の最適化")


def test_login_does_not_follow_an_outside_next(client, org):
    response = client.post(
        "/login?next=https://evil.example/",
        data={"login": org.staff.login, "password": "password"},
    )
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"]


def test_logout_is_a_post(client, login_as, org):
    login_as(org.staff)
    assert client.get("/logout").status_code == 405
    client.post("/logout")
    assert client.get("/plan").status_code == 302


def test_changing_the_password_ends_existing_sessions(client, login_as, org, db):
    login_as(org.staff)
    assert client.get("/plan").status_code == 200
    org.staff.set_password("a-new-password")
    db.session.commit()
    assert client.get("/plan").status_code == 302


def test_passwords_are_stored_hashed(org):
    assert "password" not in org.staff.password_hash
    assert org.staff.password_hash.startswith(("scrypt:", "pbkdf2:"))


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_a_login_without_the_csrf_token_is_refused_and_signs_nobody_in(
    client, org, app_overrides, db
):
    from sqlalchemy import func, select

    from app.models import LoginFailure

    response = client.post("/login", data={"login": org.staff.login, "password": "password"})
    assert response.status_code == 400
    assert "送信の有効期限が切れました（CSRF）" in response.get_data(as_text=True)
    assert client.get("/plan").status_code == 302  # not logged in
    assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 0
    # With the token from the page, the same login works.
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    ok = client.post(
        "/login", data={"login": org.staff.login, "password": "password", "csrf_token": token}
    )
    assert ok.status_code == 302 and client.get("/plan").status_code == 200


def test_pages_forbid_framing_and_foreign_scripts(client):
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_repeated_failures_throttle_the_login_even_with_the_right_password(client, org):
    for _ in range(5):
        bad = client.post("/login", data={"login": org.staff.login, "password": "wrong"})
        assert bad.status_code == 401
    response = client.post("/login", data={"login": org.staff.login, "password": "password"})
    assert response.status_code == 429
    assert "しばらくログインできません" in response.get_data(as_text=True)
    assert client.get("/plan").status_code == 302


def test_throttling_ends_after_the_window(db, org):
    from datetime import UTC, datetime, timedelta

    from app.auth.throttle import WINDOW, is_throttled, record_failure

    start = datetime(2026, 11, 25, 1, tzinfo=UTC)
    later = start + timedelta(minutes=5)
    for minute in range(5):
        record_failure(db.session, org.staff.login, "10.0.0.9", start + timedelta(minutes=minute))
    assert is_throttled(db.session, org.staff.login, "10.0.0.9", later)
    assert not is_throttled(db.session, org.staff.login, "10.0.0.9", later + WINDOW)
    # Guessing from one address does not lock the user out from their own desk.
    assert not is_throttled(db.session, org.staff.login, "10.0.0.5", later)
    assert not is_throttled(db.session, org.head.login, "10.0.0.5", later)


def test_an_address_trying_many_login_ids_is_paused(db, org):
    from datetime import UTC, datetime, timedelta

    from app.auth.throttle import MAX_FAILURES_PER_ADDRESS, is_throttled, record_failure

    start = datetime(2026, 11, 25, 1, tzinfo=UTC)
    for n in range(MAX_FAILURES_PER_ADDRESS):
        record_failure(db.session, f"guess{n}", "10.0.0.9", start + timedelta(seconds=n))
    assert is_throttled(db.session, org.head.login, "10.0.0.9", start + timedelta(minutes=1))
    assert not is_throttled(db.session, org.head.login, "10.0.0.5", start + timedelta(minutes=1))


def test_a_successful_login_clears_earlier_failures(client, org):
    for _ in range(4):
        client.post("/login", data={"login": org.staff.login, "password": "wrong"})
    ok = client.post("/login", data={"login": org.staff.login, "password": "password"})
    assert ok.status_code == 302
    client.post("/logout")
    for _ in range(4):
        client.post("/login", data={"login": org.staff.login, "password": "wrong"})
    assert (
        client.post("/login", data={"login": org.staff.login, "password": "password"}).status_code
        == 302
    )


def test_plan_page_links_items_only_for_those_who_may_open_them(client, login_as, org, make, db):
    committee = make.user("iin", roles=["committee"])
    db.session.commit()
    login_as(org.staff)
    assert '<a href="/items/' in client.get("/plan").get_data(as_text=True)
    login_as(committee)
    page = client.get("/plan").get_data(as_text=True)
    assert "行政手続のオンライン化の推進" in page and '<a href="/items/' not in page
