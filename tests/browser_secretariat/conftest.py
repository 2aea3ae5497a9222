"""The secretariat, committee and admin pages in Debian's Chromium, against a real server.

The app runs with werkzeug's `make_server` in a thread on 127.0.0.1, on a temporary SQLite
file, with CSRF on. In CI (CI=true) a missing Chromium fails the run; elsewhere it skips.
"""

from __future__ import annotations

import os

import pytest

from app import create_app
from app.extensions import db as _db
from config import TestConfig
from tests.browser_support import assert_accessible, live_server, login, logout, new_page  # noqa: F401 (re-exported)
from tests.factories import Factory


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser_secretariat/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium(browser):
    """The run's one Chromium (tests/conftest.py)."""
    return browser


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
    with live_server(console_app) as url:
        yield url


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
    context, page = new_page(chromium, server_url, 1400, 1000)
    yield page
    context.close()
