"""The secretariat, committee and admin pages in Debian's Chromium, against a real server.

The app runs with werkzeug's `make_server` in a thread on 127.0.0.1, on a temporary SQLite
file, with CSRF on. In CI (CI=true) a missing Chromium fails the run; elsewhere it skips.
"""

from __future__ import annotations

import pytest

from app.extensions import db as _db
from tests.browser_support import (  # noqa: F401 (login, logout, assert_accessible re-exported)
    assert_accessible,
    browser_app,
    live_server,
    login,
    logout,
    new_page,
    seeder,
)


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
    return browser_app(tmp_path_factory.mktemp("console"), plan=(2018, 2030))


@pytest.fixture(scope="session")
def server_url(console_app):
    with live_server(console_app) as url:
        yield url


@pytest.fixture
def seed(console_app):
    return seeder(console_app)


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
