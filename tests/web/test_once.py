"""A form sent twice (a double click, a resend, two racing requests) is stored once."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from app.calendar import local_date
from app.models import (
    AuditEntry,
    CommitteeOpinion,
    CommitteeQuestion,
    Grade,
    OutboxMessage,
    ProgressReport,
    Publication,
    SubmissionKey,
)

from .conftest import FY


def key() -> str:
    return uuid.uuid4().hex


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def report_form(cycle, once: str) -> dict:
    return {
        "action": "save",
        "kind": "progress",
        "as_of": local_date(datetime.now(UTC)).isoformat(),
        "body": "窓口アンケートを実施した",
        "once": once,
    }


def test_a_progress_report_sent_twice_is_stored_once_and_the_repeat_shows_the_first(
    client, world, login_as, db
):
    cycle = world.cycle("doing")
    db.session.commit()
    login_as(world.org.staff)
    url = f"/items/{cycle.item_id}/cycles/{FY}/report"
    form = report_form(cycle, key())
    first = client.post(url, data=form)
    assert first.status_code == 302
    audit = count(db, AuditEntry)
    again = client.post(url, data=form)
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert count(db, ProgressReport) == 1 and count(db, AuditEntry) == audit
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "この送信はすでに受け付けています" in page
    # A new page (a new key) is a new report.
    assert client.post(url, data=report_form(cycle, key())).status_code == 302
    assert count(db, ProgressReport) == 2


def test_a_refused_submission_does_not_use_up_its_key(client, world, login_as, db):
    cycle = world.cycle("doing")
    db.session.commit()
    login_as(world.org.staff)
    url = f"/items/{cycle.item_id}/cycles/{FY}/report"
    once = key()
    refused = client.post(url, data={**report_form(cycle, once), "body": ""})
    assert refused.status_code == 422 and count(db, SubmissionKey) == 0
    assert client.post(url, data=report_form(cycle, once)).status_code == 302
    assert count(db, ProgressReport) == 1


@pytest.mark.parametrize(
    "bad", ["not-a-key", "g" * 32, "A" * 32, "0123456789abcdef" * 2 + "0", "\x00" * 32]
)
def test_a_malformed_key_is_refused_and_nothing_is_written(client, world, login_as, db, bad):
    cycle = world.cycle("doing")
    db.session.commit()
    login_as(world.org.staff)
    audit = count(db, AuditEntry)
    response = client.post(
        f"/items/{cycle.item_id}/cycles/{FY}/report", data=report_form(cycle, bad)
    )
    assert response.status_code == 400
    assert count(db, ProgressReport) == 0 and count(db, AuditEntry) == audit


def test_someone_elses_key_is_refused_and_nothing_is_written(client, world, login_as, db):
    cycle = world.cycle("doing")
    db.session.commit()
    login_as(world.org.staff)
    url = f"/items/{cycle.item_id}/cycles/{FY}/report"
    form = report_form(cycle, key())
    assert client.post(url, data=form).status_code == 302
    login_as(world.committee)
    assert client.post(url, data=form).status_code == 400
    assert count(db, ProgressReport) == 1


@pytest.fixture
def reviewed(world, db):
    """A confirmed evaluation of last year, open to opinions and questions."""
    cycle = world.cycle("act_draft", grade=Grade.B, analysis="概ね達成")
    cycle.fiscal_year = FY - 1
    world.make.schedule(FY - 1, committee_from=None)  # questions still taken
    db.session.commit()
    return cycle


@pytest.mark.parametrize(
    ("path", "field", "model"),
    [("opinions", "body", CommitteeOpinion), ("questions", "question", CommitteeQuestion)],
    ids=["opinion", "question"],
)
def test_a_committee_opinion_or_question_sent_twice_is_stored_once(
    client, world, login_as, db, reviewed, path, field, model
):
    login_as(world.committee)
    form = {field: "指標の見直しをお願いします", "once": key()}
    url = f"/committee/cycles/{reviewed.id}/{path}"
    assert client.post(url, data=form).status_code == 302
    audit = count(db, AuditEntry)
    assert client.post(url, data=form).status_code == 303
    assert count(db, model) == 1 and count(db, AuditEntry) == audit


def test_a_nudge_sent_twice_queues_its_mails_once(client, world, login_as, db):
    cycle = world.cycle("plan_draft")
    secretariat = world.make.user("jimu", roles=["secretariat"])
    db.session.commit()
    login_as(secretariat)
    form = {"cycle_id": str(cycle.id), "message": "至急", "once": key()}
    assert client.post("/secretariat/nudge", data=form).status_code == 302
    mails, audit = count(db, OutboxMessage), count(db, AuditEntry)
    assert mails >= 1
    assert client.post("/secretariat/nudge", data=form).status_code == 303
    assert count(db, OutboxMessage) == mails and count(db, AuditEntry) == audit


def test_a_publish_sent_twice_adds_one_revision(client, world, login_as, db):
    cycle = world.cycle("closed", grade=Grade.A, analysis="達成")
    cycle.fiscal_year = FY - 1
    secretariat = world.make.user("jimu", roles=["secretariat"])
    db.session.commit()
    login_as(secretariat)
    form = {"note": "公表します", "once": key()}
    assert client.post(f"/public/manage/{FY - 1}", data=form).status_code == 302
    assert client.post(f"/public/manage/{FY - 1}", data=form).status_code == 303
    assert [p.revision for p in db.session.scalars(select(Publication))] == [1]


def _reporting_cycle(session):
    """A department and its item's cycle in Do, where a progress report is written."""
    from tests.factories import Factory

    make = Factory(session)
    make.plan(start_fy=2022, end_fy=max(FY, 2026))
    org = make.org("企画")
    item = make.item(org, targets={fy: 100 for fy in range(2022, FY + 1)})
    return org, make.cycle(item, fiscal_year=FY, state="doing")


@pytest.mark.postgres
def test_two_racing_requests_with_one_key_store_one_report(pg_app):
    """Two requests of the same form at the same moment, each on its own connection."""
    from app.extensions import db

    org, cycle = _reporting_cycle(db.session)
    db.session.commit()
    url = f"/items/{cycle.item_id}/cycles/{FY}/report"
    form = report_form(cycle, key())
    from tests.conftest import Client

    pg_app.test_client_class = Client
    clients = [pg_app.test_client() for _ in range(2)]
    for c in clients:
        c.post("/login", data={"login": org.staff.login, "password": "password"})
    start = threading.Barrier(2)
    statuses: list[int] = []

    def send(c):
        with pg_app.app_context():
            start.wait()
            response = c.post(url, data=form)
            statuses.append((response.status_code, response.headers.get("Location", "")))

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(code for code, _ in statuses) == [302, 303], statuses
    db.session.expire_all()
    assert count(db, ProgressReport) == 1
    assert count(db, SubmissionKey) == 1


@pytest.mark.postgres
@pytest.mark.parametrize(
    "app_overrides",
    [
        {
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "pool_pre_ping": True,
                "connect_args": {"options": "-c lock_timeout=1s"},
            }
        }
    ],
)
def test_saved_work_is_shown_as_saved_when_the_keys_bookkeeping_is_refused(pg_app):
    """After the report's commit, the form key's bookkeeping (where it led, the expired
    keys cleared) waits for a lock another transaction holds, past the lock timeout. The
    report is saved: the staff member is sent on as usual, not shown an error, and a
    repeat of the form goes to the start page."""
    from datetime import timedelta

    from sqlalchemy import text

    from app.extensions import db
    from tests.conftest import Client

    org, cycle = _reporting_cycle(db.session)
    expired = SubmissionKey(
        key=key(),
        user_id=org.staff.id,
        endpoint="items.report",
        created_at=datetime.now(UTC) - timedelta(days=40),
    )
    db.session.add(expired)
    db.session.commit()
    expired_id, expired_key, item_id = expired.id, expired.key, cycle.item_id
    url = f"/items/{item_id}/cycles/{FY}/report"
    form = report_form(cycle, key())
    pg_app.test_client_class = Client
    client = pg_app.test_client()
    client.post("/login", data={"login": org.staff.login, "password": "password"})
    db.session.remove()
    with db.engine.connect() as other:
        assert other.execute(text("SHOW lock_timeout")).scalar() == "1s"
        other.execute(
            text("SELECT 1 FROM submission_key WHERE id = :id FOR UPDATE"), {"id": expired_id}
        )
        response = client.post(url, data=form)
        other.rollback()
    assert response.status_code in (302, 303), response.status_code
    assert f"/items/{item_id}" in response.headers["Location"]
    assert count(db, ProgressReport) == 1
    stored = db.session.execute(
        select(SubmissionKey.key, SubmissionKey.result_url).order_by(SubmissionKey.id)
    ).all()
    # The expired key waits for the next submission; where the report led is not known.
    assert [tuple(row) for row in stored] == [(expired_key, ""), (form["once"], "")]
    repeat = client.post(url, data=form)
    assert repeat.status_code == 303 and repeat.headers["Location"].endswith("/")
    assert count(db, ProgressReport) == 1
