"""The /workflow page in Chromium: Mermaid draws the diagram under the CSP; axe finds no
serious problem."""

from __future__ import annotations

import os

import pytest

import config
from app import create_app
from app.extensions import db as _db
from tests.browser_support import assert_accessible, live_server, login, new_page
from tests.factories import Factory

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("workflow_page")
    env = dict(
        os.environ,
        SECRET_KEY="browser-secret",
        TEST_DATABASE_URL=f"sqlite:///{folder / 'kaikaku.db'}",
    )

    class _Config(config.TestConfig):
        def __init__(self, instance_path, environ=None):
            super().__init__(folder / "instance", env)

    app = create_app(_Config, WTF_CSRF_ENABLED=True)
    with app.app_context():
        _db.create_all()
        Factory(_db.session).user("wfviewer", name="閲覧 太郎")
        _db.session.commit()
    with live_server(app) as url:
        yield url


def test_the_diagram_is_drawn_from_local_mermaid_under_the_csp(browser, server):
    context, page = new_page(browser, server)
    refused: list[str] = []
    page.on(
        "console", lambda msg: refused.append(msg.text) if "Content Security" in msg.text else None
    )
    try:
        login(page, "wfviewer")
        page.goto("/workflow")
        page.locator("pre.mermaid svg").wait_for()
        assert page.locator("pre.mermaid svg").get_by_text("事務局確認待ち").count() >= 1
        assert page.get_by_role("table").nth(1).get_by_text("send_back_plan").count() == 1
        assert not refused, refused
        assert_accessible(page)
    finally:
        context.close()
