"""The /workflow page in Chromium: Mermaid draws the diagram under the CSP; axe finds no
serious problem."""

from __future__ import annotations

import pytest

from tests.browser_support import (
    assert_accessible,
    browser_app,
    live_server,
    login,
    new_page,
    seeder,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = browser_app(tmp_path_factory.mktemp("workflow_page"))
    seeder(app)(lambda make, session: make.user("wfviewer", name="閲覧 太郎"))
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
        transitions = page.get_by_role("table", name="操作ごとの遷移元・遷移先・操作できる人・条件")
        assert transitions.get_by_text("send_back_plan").count() == 1
        assert not refused, refused
        assert_accessible(page)
    finally:
        context.close()
