"""The API's documentation page draws the OpenAPI document in Chromium, under the app's
Content-Security-Policy, with nothing fetched from elsewhere."""

from __future__ import annotations

from playwright.sync_api import expect


def test_the_docs_page_draws_every_operation_offline(page, base_url):
    problems: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(r.url) if r.status >= 400 else None)
    page.on(
        "request",
        lambda r: foreign.append(r.url) if not r.url.startswith(base_url) else None,
    )
    page.goto(base_url + "/api/v1/docs")
    expect(page.get_by_text("Kaikaku API", exact=False).first).to_be_visible()
    expect(
        page.locator(".opblock-summary-path", has_text="/api/v1/cycles/{cycle_id}/send-back")
    ).to_be_visible()
    assert page.locator(".opblock").count() >= 20
    assert not problems, problems
    assert not [u for u in foreign if not u.startswith("data:")], foreign
