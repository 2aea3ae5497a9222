"""What the browser tests share: a live server for an app, login/logout, the axe-core check."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import expect
from werkzeug.serving import make_server

AXE = Path(__file__).resolve().parents[1] / "app" / "static" / "vendor" / "axe.min.js"


@contextmanager
def live_server(app) -> Iterator[str]:
    """Serve `app` on a free port of 127.0.0.1 in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def new_page(browser, base_url: str, width: int = 1280, height: int = 900):
    context = browser.new_context(
        base_url=base_url, locale="ja-JP", viewport={"width": width, "height": height}
    )
    context.set_default_timeout(8000)
    return context, context.new_page()


def login(page, login_name: str, password: str = "password") -> None:
    """Log in through the form and wait until the login page is left."""
    page.goto("/login")
    page.get_by_label("ログインID").fill(login_name)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def logout(page) -> None:
    page.get_by_role("button", name="ログアウト").click()
    expect(page).to_have_url(re.compile(r"/login"))


def assert_accessible(page) -> None:
    """axe-core finds no serious or critical violation on the page.

    axe.min.js is loaded from the app's own static folder: an inline copy would be refused
    by the Content-Security-Policy (script-src 'self'), which these tests keep on.
    """
    assert AXE.exists(), "run `make assets` to copy axe-core into app/static/vendor"
    page.wait_for_load_state()
    page.add_script_tag(url="/static/vendor/axe.min.js")
    result = page.evaluate("async () => await axe.run()")
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{page.url}: {bad}"
