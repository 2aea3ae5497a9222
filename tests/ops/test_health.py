"""`/healthz`: 200 when everything works, 503 with the reason when something does not."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta

from flask_migrate import stamp
from sqlalchemy import text

from app.extensions import db as _db
from app.models import OutboxMessage, OutboxStatus, SchedulerState
from tests.conftest import make_app

from .helpers import KAIKAKU, ROOT, kaikaku_env, stop


def _health_until(client, status: int, seconds: float = 30) -> dict:
    """Ask /healthz until it answers `status` (the scheduler lives in another process)."""
    deadline = time.monotonic() + seconds
    while True:
        response = client.get("/healthz")
        if response.status_code == status or time.monotonic() > deadline:
            assert response.status_code == status, response.get_json()
            return response.get_json()
        time.sleep(0.2)


def test_health_follows_a_real_scheduler_and_turns_503_when_it_stops(tmp_path, migrated_sqlite):
    url, _ = migrated_sqlite
    app = make_app(tmp_path, url, HEALTH_SCHEDULER_MAX_AGE_SECONDS=2)
    client = app.test_client()
    with app.app_context():
        assert client.get("/healthz").get_json()["problems"] == ["the scheduler has never ticked"]
        scheduler = subprocess.Popen(
            [*KAIKAKU, "scheduler", "run", "--interval", "1"],
            cwd=ROOT,
            env=kaikaku_env(url),
            stderr=subprocess.DEVNULL,
        )
        try:
            healthy = _health_until(client, 200)
        finally:
            stop(scheduler)
        assert healthy["status"] == "ok" and healthy["problems"] == []
        assert healthy["database"] == {"ok": True}
        assert healthy["migrations"]["current"] == healthy["migrations"]["head"]
        assert healthy["scheduler"]["age_seconds"] <= 2
        assert healthy["outbox"]["pending"] == 0 and healthy["outbox"]["failed"] == 0

        stopped = _health_until(client, 503)
        assert stopped["status"] == "unhealthy"
        assert "the scheduler's last tick is" in stopped["problems"][0]
        assert stopped["scheduler"]["age_seconds"] > 2
        _db.engine.dispose()


def test_health_names_an_old_schema_and_mail_that_waits_too_long(app, client, db):
    now = datetime.now(UTC)
    db.session.add(SchedulerState(name="main", last_tick_at=now))
    db.session.add(
        OutboxMessage(
            kind="nudge",
            to_address="tanaka@example.jp",
            subject="督促",
            body_text="本文",
            created_at=now - timedelta(hours=2),
        )
    )
    db.session.add(
        OutboxMessage(
            kind="nudge",
            to_address="x@example.jp",
            subject="s",
            body_text="b",
            status=OutboxStatus.FAILED,
        )
    )
    db.session.commit()
    # Tables made without the migrations: no schema version at all.
    report = client.get("/healthz").get_json()
    assert report["migrations"]["current"] == []
    assert report["problems"][0].startswith("database schema is not at the migrations' head")
    assert report["problems"][1].startswith("mail has waited 7")
    assert report["outbox"]["pending"] == 1 and report["outbox"]["failed"] == 1
    # Anonymous, and nothing about people in the answer.
    assert "tanaka" not in client.get("/healthz").get_data(as_text=True)

    stamp(directory=app.config["MIGRATIONS_DIR"])
    for message in db.session.query(OutboxMessage):
        message.created_at = now  # the mail is fresh: it is being sent as it should
    db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 200, response.get_json()
    outbox = response.get_json()["outbox"]
    assert outbox["pending"] == 1 and outbox["failed"] == 1
    assert outbox["oldest_pending_age_seconds"] < outbox["max_age_seconds"]
    db.session.execute(text("DROP TABLE alembic_version"))  # PostgreSQL runs share the schema
    db.session.commit()
