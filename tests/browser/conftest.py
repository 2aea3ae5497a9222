"""A real server on 127.0.0.1 with CSRF on, driven by Debian's Chromium through Playwright.

In CI (CI=true) a missing Chromium fails the run; elsewhere the browser tests are skipped.
"""

from __future__ import annotations

import os

import pytest

from app import create_app
from app.calendar import fiscal_year_of
from app.extensions import db as _db
from app.models import utcnow
from config import TestConfig
from tests.browser_support import assert_accessible, live_server, login, logout, new_page  # noqa: F401 (re-exported)
from tests.factories import Factory
from tests.web.catalogue import ensure_compiled

FY = fiscal_year_of(utcnow())
PASSWORD = "password"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


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
    with live_server(live_app) as url:
        yield url


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
    context, page = new_page(browser, base_url)
    yield page
    context.close()
