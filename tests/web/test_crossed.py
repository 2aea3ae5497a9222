"""A request whose transaction PostgreSQL ends because another crossed it (a deadlock)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import AuditEntry, Cycle, OutboxMessage
from tests.factories import Factory
from tests.locks import waits_for_a_lock
from workflows import audit
from workflows import operations as ops
from workflows.registry import get_definition

from ..workflows.conftest import NOW


def _by_page(client, head, cycle_id: int, version: int, trigger: str):
    assert client.post("/login", data={"login": head.login, "password": "password"})
    return lambda: client.post(
        f"/cycles/{cycle_id}/decide", data={"trigger": trigger, "expected_version": version}
    )


def _by_api(client, head, cycle_id: int, version: int, trigger: str):
    from datetime import UTC, datetime

    from app.tokens import service as tokens

    _row, secret = tokens.create_token(
        db.session, head, name="test", access="write", days=90, now=datetime.now(UTC)
    )
    db.session.commit()
    headers = {"Authorization": f"Bearer {secret}", "If-Match": f'"{version}"'}
    return lambda: client.post(f"/api/v1/cycles/{cycle_id}/approve", json={}, headers=headers)


@pytest.fixture
def app_overrides():
    # The request's side looks for a deadlock after 5 s (the other side after 30 s): time
    # enough for the other side to start waiting, even on a loaded machine.
    return {
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            "connect_args": {"options": "-c deadlock_timeout=5s"},
        }
    }


@pytest.mark.postgres
@pytest.mark.parametrize("channel", [_by_page, _by_api], ids=["page", "api"])
def test_a_decision_ended_by_a_deadlock_is_refused_and_changes_nothing(pg_app, channel):
    """The head approves while another transaction holds the cycle's row and then asks for
    the cycle's audit lock, which the decision holds: PostgreSQL ends the decision. The
    head is told to try again, in Japanese, and nothing of the decision is written."""
    make = Factory(db.session)
    org = make.org("企画")
    cycle = ops.open_cycle(make.item(org), 2026, now=NOW)
    cycle.goal = "目標"
    ops.submit(cycle, by=org.staff, now=NOW)
    db.session.commit()
    cycle_id, version, state = cycle.id, cycle.version, cycle.state
    approve = get_definition().of_kind(state, "approve").trigger
    counted = (select(func.count(AuditEntry.id)), select(func.count(OutboxMessage.id)))
    send = channel(pg_app.test_client(), org.head, cycle_id, version, approve)
    before = [db.session.scalar(q) for q in counted]
    db.session.remove()
    answers = []

    def decide() -> None:
        answers.append(send())

    with db.engine.connect() as other:
        # This side waits long before looking for a deadlock: the decision finds it.
        other.execute(text("SET LOCAL deadlock_timeout = '30s'"))
        other.execute(text("SELECT 1 FROM cycle WHERE id = :id FOR UPDATE"), {"id": cycle_id})
        thread = threading.Thread(target=decide)
        thread.start()
        assert waits_for_a_lock(db.engine, thread)  # the decision waits for the cycle's row
        other.execute(select(audit.lock_clause(f"cycle:{cycle_id}")))
        other.rollback()
    thread.join(timeout=30)
    (response,) = answers
    assert response.status_code == 409
    if channel is _by_api:
        assert response.json["code"] == "crossed"
        assert "何も変更されていません" in response.json["detail"]
    else:
        page = response.get_data(as_text=True)
        assert "他の処理と重なりました" in page and "何も変更されていません" in page
    stored = db.session.get(Cycle, cycle_id)
    assert (stored.state, stored.version) == (state, version)
    assert [db.session.scalar(q) for q in counted] == before
