"""A real server on 127.0.0.1 with CSRF on, driven by Debian's Chromium through Playwright.

In CI (CI=true) a missing Chromium fails the run; elsewhere the browser tests are skipped.
"""

from __future__ import annotations

import pytest

from app.calendar import fiscal_year_of
from app.models import utcnow
from tests.browser_support import (  # noqa: F401 (login, logout, assert_accessible re-exported)
    assert_accessible,
    browser_app,
    live_server,
    login,
    logout,
    new_page,
    seeder,
)
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
    return browser_app(tmp_path_factory.mktemp("browser"), plan=(2022, max(FY, 2026)))


@pytest.fixture(scope="session")
def base_url(live_app):
    with live_server(live_app) as url:
        yield url


@pytest.fixture
def seed(live_app):
    return seeder(live_app)


@pytest.fixture
def page(browser, base_url):
    context, page = new_page(browser, base_url)
    yield page
    context.close()
