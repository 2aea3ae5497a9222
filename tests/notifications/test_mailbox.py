"""The development mailbox: `flask mail catcher` keeps mail, /dev/mailbox lists it."""

from __future__ import annotations

import re

import pytest

from app.outbox import enqueue
from notifications.catcher import start_catcher
from notifications.delivery import deliver_outbox
from notifications.settings import Settings

from .conftest import free_port
from .helpers import at


@pytest.fixture
def app_overrides(tmp_path):
    return {"MAIL_CATCHER": True, "MAILBOX_DIR": str(tmp_path / "mailbox")}


def test_the_mailbox_page_shows_caught_mail_to_the_secretariat_only(app, make, db, login_as):
    port = free_port()
    catcher = start_catcher(app.config["MAILBOX_DIR"], port=port)
    try:
        user = make.user("tanaka", name="田中 花子")
        context = {
            "item_id": 1,
            "item_number": "1-1",
            "item_title": "窓口の改善",
            "fiscal_year_label": "令和8年度",
            "state_label": "計画作成中",
            "stage_label": "計画",
        }
        enqueue(
            db.session,
            kind="nudge",
            recipient=user,
            context=context,
            now=at("2026-06-01"),
            dedupe_key="page",
        )
        db.session.commit()
        deliver_outbox(db.session, at("2026-06-01", 10), Settings(smtp_port=port))
    finally:
        catcher.stop()

    client = login_as(make.user("staff-x"))
    assert client.get("/dev/mailbox/").status_code == 403
    client.post("/logout")
    client = login_as(make.user("sec", roles=["secretariat"]))
    page = client.get("/dev/mailbox/").get_data(as_text=True)
    assert "【事務局からのお願い】1-1 窓口の改善（計画）" in page
    assert "2026年6月1日 09:00" in page  # queued at 9:00 in Tokyo, shown as such (not UTC)
    link = re.search(r'href="(/dev/mailbox/[^"]+\.eml)"', page).group(1)
    assert "田中 花子 様" in client.get(link).get_data(as_text=True)
    assert client.get("/dev/mailbox/..%2Fsecret_key").status_code == 404


def test_scheduler_status_shows_tokyo_time(app, db):
    from notifications.jobs import tick

    tick(db.session, at("2026-06-01", 9), Settings(smtp_port=free_port()))
    db.session.commit()
    output = app.test_cli_runner().invoke(args=["scheduler", "status"]).output
    assert "last tick: 2026-06-01 09:00 JST" in output, output
