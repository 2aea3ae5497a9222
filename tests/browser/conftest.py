"""A real server on 127.0.0.1 with CSRF on, driven by Debian's Chromium through Playwright.

In CI (CI=true) a missing Chromium fails the run; elsewhere the browser tests are skipped.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app import create_app
from app.calendar import fiscal_year_of
from app.extensions import db as _db
from app.models import utcnow
from config import TestConfig
from tests.factories import Factory
from tests.web.catalogue import ensure_compiled

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parents[2] / "app" / "static" / "vendor" / "axe.min.js"
IN_CI = os.environ.get("CI", "").lower() == "true"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
FY = fiscal_year_of(utcnow())
PASSWORD = "password"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is mandatory in CI and missing")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    ensure_compiled()
    folder = tmp_path_factory.mktemp("browser")
    env = dict(
        os.environ,
        SECRET_KEY="browser-secret",
        TEST_DATABASE_URL=f"sqlite:///{folder / 'kaikaku.db'}",
    )

    class _Config(TestConfig):
        def __init__(self, instance_path, environ=None):
            super().__init__(folder / "instance", env)

    app = create_app(_Config, WTF_CSRF_ENABLED=True)
    with app.app_context():
        _db.create_all()
        Factory(_db.session).plan(start_fy=2022, end_fy=max(FY, 2026))
        _db.session.commit()
    return app


@pytest.fixture(scope="session")
def base_url(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def seed(live_app):
    """Run a function with a Factory inside the app and commit; returns its result."""

    def _seed(fn):
        with live_app.app_context():
            factory = Factory(_db.session)
            factory._plan = _db.session.scalar(_db.select(_plan_model()))
            result = fn(factory, _db.session)
            _db.session.commit()
            _db.session.expire_on_commit = True
            return result

    return _seed


def _plan_model():
    from app.models import ExecutionPlan

    return ExecutionPlan


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(
        base_url=base_url, locale="ja-JP", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(8000)
    page = context.new_page()
    yield page
    context.close()


def login(page, login_name: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("ログインID").fill(login_name)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_load_state()


def logout(page) -> None:
    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_load_state()


def assert_accessible(page) -> None:
    """axe-core finds no serious or critical violation on the page.

    axe.min.js is loaded from the app's own static folder: an inline copy would be refused
    by the Content-Security-Policy (script-src 'self'), which these tests keep on.
    """
    assert AXE.exists(), "run `make assets` to copy axe-core into app/static/vendor"
    page.add_script_tag(url="/static/vendor/axe.min.js")
    result = page.evaluate("async () => await axe.run()")
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{page.url}: {bad}"
