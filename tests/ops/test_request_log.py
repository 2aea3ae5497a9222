"""The request log's line for a request that failed half-way through its transaction."""

from __future__ import annotations

import json

import pytest

from app.items import service
from tests.factories import Org


@pytest.fixture
def app_overrides() -> dict:
    return {"REQUEST_LOG": True, "PROPAGATE_EXCEPTIONS": False}


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_a_request_failing_after_a_commit_is_logged_with_its_user_and_status(
    app, client, make, db, login_as, monkeypatch, capsys
):
    make.plan(start_fy=2022, end_fy=2027)
    org: Org = make.org("企画")
    cycle = make.cycle(make.item(org), fiscal_year=2026, state="act_draft")
    db.session.commit()
    user_id = org.staff.id

    def breaks_its_transaction(session, cycle, *args, **kwargs):
        session.commit()  # what was loaded before (the signed-in user too) is expired now
        cycle.state = None
        session.flush()  # refused (NOT NULL): the session now wants a rollback first

    monkeypatch.setitem(service.SAVERS, "act", breaks_its_transaction)
    login_as(org.staff)
    capsys.readouterr()
    response = client.post(
        f"/items/{cycle.item_id}/cycles/2026/act", data={"action": "save", "improvement": "x"}
    )
    assert response.status_code == 500
    logged = [line for line in lines(capsys.readouterr().out) if line["method"] == "POST"]
    assert [(line["status"], line["user"]) for line in logged] == [(500, user_id)]
