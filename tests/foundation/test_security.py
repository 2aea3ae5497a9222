"""Deny by default: every page asks for a login or a role, every form needs its CSRF token."""

import re

import pytest

from app.models import Role

# Pages a citizen or an e-mail recipient may open without a session.
PUBLIC = {
    "auth.login",
    "public.index",
    "public.year",
    "public.export",
    "static",
    "ical.feed",
    "health.healthz",
    # The API's description and its page, and the published results (open data).
    "api_docs.openapi_json",
    "api_docs.docs",
    "public_api.published",
    "public_api.published_year",
    "public_api.open_data_json",
    "public_api.open_data_csv",
    "public_api.open_data_indicators",
}
API = "/api/"
# Pages every logged-in user may open (their content depends on who they are).
ANY_USER = {
    "main.index",
    "main.plan_items",
    "items.show",
    "items.inbox",
    "workflow_pages.diagram",
    "substitutes.index",
    "ical.settings",
    "items.follow_link",
    "items.edit",
    "items.decide",
    "committee.index",
    "committee.cycle",
    "tokens.index",
}
SAMPLE_VALUES = {"int": "1", "default": "x", "any": None, "path": "css/app.css"}


def url_for_rule(rule) -> str:
    def value(match):
        converter, _, name = match.group(1).rpartition(":")
        converter = converter.split("(")[0] or "default"
        if converter == "any":
            return re.search(r"\(([^,)]+)", match.group(1)).group(1).strip()
        if name == "fmt":
            return "csv"
        return SAMPLE_VALUES.get(converter, "x")

    return re.sub(r"<([^>]+)>", value, rule.rule)


def rules(app, method):
    """The pages (the API answers 401, not the login page: see the API tests below)."""
    return [
        r
        for r in app.url_map.iter_rules()
        if method in r.methods and r.endpoint not in PUBLIC and not r.rule.startswith(API)
    ]


def api_rules(app):
    return [
        (r, method)
        for r in app.url_map.iter_rules()
        if r.rule.startswith(API) and r.endpoint not in PUBLIC
        for method in sorted(r.methods - {"HEAD", "OPTIONS"})
    ]


def test_every_api_route_needs_a_token_even_with_a_signed_in_session(app, client, make, db):
    """Deny by default: no token, 401 problem; a session cookie (even the secretariat's
    and administrator's) authenticates nothing, so the API needs no CSRF token."""
    user = make.user("jimukyoku", roles=[Role.SECRETARIAT, Role.ADMIN])
    db.session.commit()
    checked = 0
    for signed_in in (False, True):
        if signed_in:
            with client.session_transaction() as session:
                session["_user_id"] = user.get_id()
                session["_fresh"] = True
        for rule, method in api_rules(app):
            response = client.open(url_for_rule(rule), method=method, json={})
            assert response.status_code == 401, (method, rule.rule, response.status_code)
            assert response.mimetype == "application/problem+json", rule.rule
            checked += 1
    assert checked > 25


def test_a_staff_token_cannot_read_the_secretariat_api(app, client, make, db):
    from datetime import UTC, datetime

    from app.tokens.service import create_token

    org = make.org("企画")
    _row, text = create_token(
        db.session, org.staff, name="t", access="write", days=30, now=datetime.now(UTC)
    )
    db.session.commit()
    refused = 0
    for rule, method in api_rules(app):
        if "/secretariat/" in rule.rule:
            response = client.open(
                url_for_rule(rule), method=method, headers={"Authorization": f"Bearer {text}"}
            )
            assert response.status_code == 403, rule.rule
            refused += 1
    assert refused == 2


def test_anonymous_users_get_the_login_page_for_every_private_page(app, client):
    checked = 0
    for rule in rules(app, "GET"):
        response = client.get(url_for_rule(rule))
        assert response.status_code == 302, (rule.rule, response.status_code)
        assert "/login" in response.headers["Location"], rule.rule
        checked += 1
    assert checked > 30


def test_staff_cannot_open_the_secretariat_committee_admin_or_publishing_pages(
    app, client, make, db, login_as
):
    org = make.org("企画")
    db.session.commit()
    login_as(org.staff)
    refused = 0
    for rule in rules(app, "GET"):
        if rule.endpoint in ANY_USER or rule.endpoint.startswith(("auth.",)):
            continue
        response = client.get(url_for_rule(rule))
        assert response.status_code in (403, 404), (rule.rule, response.status_code)
        refused += 1
    assert refused > 15


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_every_form_refuses_a_post_without_its_csrf_token(app, client, make, db, app_overrides):
    user = make.user("jimukyoku", roles=[Role.SECRETARIAT, Role.ADMIN])
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
    posts = [
        r for r in app.url_map.iter_rules() if "POST" in r.methods and not r.rule.startswith(API)
    ]
    assert len(posts) > 25
    for rule in posts:
        response = client.post(url_for_rule(rule), data={"anything": "1"})
        assert response.status_code == 400, (rule.rule, response.status_code)
        assert "送信の有効期限が切れました（CSRF）" in response.get_data(as_text=True), rule.rule


def test_a_request_larger_than_the_limit_is_refused_in_japanese(client):
    response = client.post("/login", data={"login": "x" * (17 * 1024 * 1024), "password": "p"})
    assert response.status_code == 413
    assert "送信された内容が大きすぎます" in response.get_data(as_text=True)


def test_exports_drop_characters_a_workbook_cannot_hold():
    import io

    from openpyxl import load_workbook

    from app.exports import to_csv, to_xlsx

    data = to_xlsx("一覧", ["目標"], [["前半\x0b後半\n次の行"]])
    cell = load_workbook(io.BytesIO(data)).active["A2"].value
    assert cell == "前半後半\n次の行"
    assert "前半" in to_csv(["目標"], [["前半\x0b後半"]]).decode("utf-8-sig")
