"""What the browser tests share: a live server for an app, login/logout, the axe-core check."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.models import ExecutionPlan
from config import TestConfig
from tests.factories import Factory

AXE = Path(__file__).resolve().parents[1] / "app" / "static" / "vendor" / "axe.min.js"


def browser_app(folder: Path, plan: tuple[int, int] | None = None, **overrides):
    """The app on a fresh SQLite file in `folder`, with CSRF on, as a browser meets it."""
    environ = {"SECRET_KEY": "browser-secret", "TEST_DATABASE_URL": f"sqlite:///{folder}/k.db"}

    class _Config(TestConfig):
        def __init__(self, instance_path, environ_=None):
            super().__init__(folder / "instance", environ)

    app = create_app(_Config, **{"WTF_CSRF_ENABLED": True, **overrides})
    with app.app_context():
        db.create_all()
        if plan:
            Factory(db.session).plan(start_fy=plan[0], end_fy=plan[1])
        db.session.commit()
    return app


def seeder(app):
    """`seed(fn)`: run `fn(factory, session)` inside `app` and commit; returns its result."""

    def seed(fn):
        with app.app_context():
            factory = Factory(db.session)
            factory._plan = db.session.scalar(select(ExecutionPlan))
            result = fn(factory, db.session)
            db.session.commit()
            return result

    return seed


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
