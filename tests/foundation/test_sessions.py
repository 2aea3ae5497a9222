"""Sessions end on the server: logout, a password change and deactivation stop copied cookies;
the client address comes from X-Forwarded-For only behind a trusted proxy."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import AuditEntry, LoginFailure

PASSWORD = "password"


def _login(client, user, remember: bool = False, **environ):
    data = {"login": user.login, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data, environ_overrides=environ or None)
    assert response.status_code == 302, response.status_code
    return response


def _copy(app, source, names=("session", "remember_token")):
    """A second browser holding copies of `source`'s cookies (as a thief would)."""
    thief = app.test_client()
    for name in names:
        cookie = source.get_cookie(name)
        if cookie is not None:
            thief.set_cookie(name, cookie.value)
    return thief


@pytest.fixture
def staff(make, db):
    user = make.user("shokuin")
    db.session.commit()
    return user


def test_a_copied_session_cookie_stops_working_after_logout(app, client, staff):
    _login(client, staff)
    thief = _copy(app, client, names=("session",))
    assert thief.get("/plan").status_code == 200  # the copy works while the session lives
    client.post("/logout")
    assert client.get("/plan").status_code == 302
    response = thief.get("/plan")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_copied_remember_me_cookie_stops_working_after_logout(app, client, staff):
    _login(client, staff, remember=True)
    assert client.get_cookie("remember_token") is not None
    thief = _copy(app, client, names=("remember_token",))
    assert thief.get("/plan").status_code == 200  # the cookie alone signs in
    client.post("/logout")
    fresh_thief = _copy(app, client, names=())
    fresh_thief.set_cookie("remember_token", thief.get_cookie("remember_token").value)
    assert fresh_thief.get("/plan").status_code == 302


def test_changing_ones_own_password_ends_the_other_sessions_and_keeps_this_one(
    app, client, staff, db
):
    _login(client, staff, remember=True)
    elsewhere = app.test_client()
    _login(elsewhere, staff)
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "kawagoe-line-2027",
            "confirm_password": "kawagoe-line-2027",
        },
    )
    assert response.status_code == 302
    assert client.get("/plan").status_code == 200
    assert elsewhere.get("/plan").status_code == 302
    db.session.refresh(staff)
    assert staff.check_password("kawagoe-line-2027") and not staff.check_password(PASSWORD)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "password_change"))
    assert entry is not None and entry.actor_id == staff.id


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        ("short-pw", "short-pw", "パスワードは12文字以上で入力してください。"),
        ("password1234", "password1234", "よく使われていて推測されやすいパスワードです"),
        ("qwerty123456", "qwerty123456", "よく使われていて推測されやすいパスワードです"),
        ("aaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaa", "推測されやすいパスワードは使えません"),
        ("shokuin-2027-spring", "shokuin-2027-spring", "推測されやすいパスワードは使えません"),
        ("kawagoe-line-2027", "kawagoe-line-2028", "確認用のパスワードが一致しません。"),
    ],
    ids=["too-short", "common-with-digits", "common", "one-letter", "contains-login", "mismatch"],
)
def test_a_weak_or_mistyped_new_password_is_refused_and_nothing_changes(
    client, staff, db, new, confirm, message
):
    _login(client, staff)
    before = staff.password_hash
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm_password": confirm},
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.refresh(staff)
    assert staff.password_hash == before
    assert client.get("/plan").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_a_wrong_current_password_is_refused_and_counted_as_a_failed_login(client, staff, db):
    _login(client, staff)
    response = client.post(
        "/account/password",
        data={
            "current_password": "not-my-password",
            "new_password": "kawagoe-line-2027",
            "confirm_password": "kawagoe-line-2027",
        },
    )
    assert response.status_code == 422
    assert "現在のパスワードが正しくありません。" in response.get_data(as_text=True)
    db.session.refresh(staff)
    assert staff.check_password(PASSWORD)
    assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 1


def test_deactivation_by_an_administrator_ends_the_users_sessions_for_good(
    app, client, make, db, staff
):
    admin = make.user("kanri", roles=["admin"])
    db.session.commit()
    _login(client, staff, remember=True)
    admin_client = app.test_client()
    _login(admin_client, admin)
    form = {"login": staff.login, "name": staff.name, "email": staff.email}
    assert admin_client.post(f"/admin/users/{staff.id}", data=form).status_code == 302
    assert client.get("/plan").status_code == 302
    # Active again: the old cookies do not come back to life.
    thief = _copy(app, client)
    assert admin_client.post(f"/admin/users/{staff.id}", data={**form, "active": "1"}).status_code
    assert thief.get("/plan").status_code == 302


def test_a_forged_x_forwarded_for_does_not_move_a_session_to_another_address(app, client, staff):
    _login(client, staff, REMOTE_ADDR="10.1.1.1")
    assert client.get("/plan", environ_overrides={"REMOTE_ADDR": "10.1.1.1"}).status_code == 200
    thief = _copy(app, client)
    stolen = thief.get(
        "/plan",
        headers={"X-Forwarded-For": "10.1.1.1"},
        environ_overrides={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert stolen.status_code == 302


def test_a_forged_x_forwarded_for_does_not_escape_the_login_throttle(client, staff, db):
    for n in range(5):
        client.post(
            "/login",
            data={"login": staff.login, "password": "wrong"},
            headers={"X-Forwarded-For": f"192.0.2.{n}"},
            environ_overrides={"REMOTE_ADDR": "10.2.2.2"},
        )
    addresses = set(db.session.scalars(select(LoginFailure.remote_addr)))
    assert addresses == {"10.2.2.2"}
    blocked = client.post(
        "/login",
        data={"login": staff.login, "password": PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.99"},
        environ_overrides={"REMOTE_ADDR": "10.2.2.2"},
    )
    assert blocked.status_code == 429


@pytest.mark.parametrize("app_overrides", [{"TRUSTED_PROXIES": 1}])
def test_behind_one_trusted_proxy_the_forwarded_address_is_the_clients(
    client, staff, db, app_overrides
):
    client.post(
        "/login",
        data={"login": staff.login, "password": "wrong"},
        headers={"X-Forwarded-For": "198.51.100.7, 10.3.3.3"},
        environ_overrides={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert set(db.session.scalars(select(LoginFailure.remote_addr))) == {"10.3.3.3"}


def test_an_unknown_login_id_costs_the_same_password_check_as_a_known_one(
    client, staff, monkeypatch
):
    from app.auth import sessions

    checked = []
    real = sessions.check_password_hash

    def counting(stored, password):
        checked.append(stored.split("$")[0])
        return real(stored, password)

    monkeypatch.setattr(sessions, "check_password_hash", counting)
    client.post("/login", data={"login": staff.login, "password": "wrong"})
    client.post("/login", data={"login": "nobody-here", "password": "wrong"})
    # One full hash check each, with the same method and cost.
    assert len(checked) == 2 and checked[0] == checked[1]


def test_signed_in_pages_and_exports_are_not_cached_and_the_csp_is_strict(client, staff, make):
    _login(client, staff)
    for url in ("/", "/plan"):
        assert client.get(url).headers["Cache-Control"] == "no-store"
    csp = client.get("/plan").headers["Content-Security-Policy"]
    for directive in ("base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"):
        assert directive in csp
    secretariat = make.user("jimu", roles=["secretariat"])
    client.post("/logout")
    _login(client, secretariat)
    export = client.get("/secretariat/items?format=csv")
    assert export.status_code == 200 and export.headers["Cache-Control"] == "no-store"
