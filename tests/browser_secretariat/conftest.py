"""The secretariat, committee and admin pages in Debian's Chromium, against a real server.

The app runs with werkzeug's `make_server` in a thread on 127.0.0.1, on a temporary SQLite
file, with CSRF on. In CI (CI=true) a missing Chromium fails the run; elsewhere it skips.
"""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db as _db
from config import TestConfig
from tests.factories import Factory

CHROMIUM = "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() == "true"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser_secretariat/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def _active_playwright():
    """The sync Playwright another test folder already started in this process, if any.

    Only one sync Playwright can run per thread; when tests/browser/ has started one for the
    session, the browser here is launched through it instead of a second one.
    """
    import asyncio
    import gc

    from playwright.sync_api import Playwright

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return None
    return next((o for o in gc.get_objects() if isinstance(o, Playwright)), None)


# Module scope: a Playwright started here is stopped before any other test folder needs one.
@pytest.fixture(scope="module")
def chromium():
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is mandatory in CI and missing")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    shared = _active_playwright()
    if shared is not None:
        browser = shared.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()
        return
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def console_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("console")
    env = dict(
        os.environ,
        SECRET_KEY="console-secret",
        TEST_DATABASE_URL=f"sqlite:///{folder / 'kaikaku.db'}",
    )

    class _Config(TestConfig):
        def __init__(self, instance_path, environ=None):
            super().__init__(folder / "instance", env)

    app = create_app(_Config, WTF_CSRF_ENABLED=True)
    with app.app_context():
        _db.create_all()
        Factory(_db.session).plan(start_fy=2018, end_fy=2030)
        _db.session.commit()
    return app


@pytest.fixture(scope="session")
def server_url(console_app):
    server = make_server("127.0.0.1", 0, console_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def seed(console_app):
    """Run `fn(factory, session)` in the app and commit; returns what it returns."""

    def _seed(fn):
        from app.models import ExecutionPlan

        with console_app.app_context():
            factory = Factory(_db.session)
            factory._plan = _db.session.scalar(_db.select(ExecutionPlan))
            result = fn(factory, _db.session)
            _db.session.commit()
            return result

    return _seed


@pytest.fixture
def query(console_app):
    """Run `fn(session)` in the app (to check what the pages stored)."""

    def _query(fn):
        with console_app.app_context():
            return fn(_db.session)

    return _query


@pytest.fixture
def page(chromium, server_url):
    context = chromium.new_context(
        base_url=server_url, locale="ja-JP", viewport={"width": 1400, "height": 1000}
    )
    context.set_default_timeout(8000)
    page = context.new_page()
    yield page
    context.close()


def login(page, login_name: str, password: str = "password") -> None:
    page.goto("/login")
    page.get_by_label("ログインID").fill(login_name)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_load_state()


def logout(page) -> None:
    page.get_by_role("button", name="ログアウト").click()
    page.wait_for_load_state()


def assert_accessible(page) -> None:
    """axe-core (served by the app, as the CSP requires) finds no serious or critical issue."""
    page.add_script_tag(url="/static/vendor/axe.min.js")
    result = page.evaluate("async () => await axe.run()")
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{page.url}: {bad}"
