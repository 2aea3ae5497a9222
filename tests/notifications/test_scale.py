"""The scheduler at scale: a tick costs the same number of statements whatever the number of
cycles, never binds one parameter per cycle, and two schedulers at once send nothing twice."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.extensions import db as _db
from app.models import (
    Cycle,
    DeadlineExtension,
    NotificationDispatch,
    OutboxMessage,
    OutboxStatus,
    OverdueSnapshot,
    Substitution,
    bulk,
)
from app.outbox import enqueue_rows, outbox_row
from notifications import reminders
from notifications.delivery import deliver_outbox
from notifications.jobs import tick
from tests.factories import Factory
from tests.secretariat.helpers import bulk_cycles
from tests.statements import statements

from .helpers import at


def fresh() -> None:
    """Start again on empty tables."""
    _db.session.remove()
    _db.drop_all()
    _db.create_all()


def city(session, per_department: int, *, state: str = "plan_draft", departments: int = 3):
    """Departments with `per_department` open cycles each in FY2026, a substitute for one
    head, a head who takes digests, an extended deadline and the secretariat."""
    make = Factory(session)
    plan = make.plan()
    orgs = [make.org(f"部{n}") for n in range(departments)]
    sec = make.user("sec", roles=["secretariat"])
    for org in orgs:
        bulk_cycles(
            session,
            org.section.id,
            per_department,
            fiscal_year=2026,
            state=state,
            since=datetime(2026, 4, 1, tzinfo=UTC),
            plan_id=plan.id,
            viewpoint_id=plan.outline.viewpoints[0].id,
        )
    orgs[1].head.wants_digest = True
    session.add(
        Substitution(
            post=orgs[2].head_post,
            substitute=make.user("sub", name="代理"),
            starts_on=date(2026, 4, 1),
            ends_on=date(2026, 6, 30),
            created_by=sec,
        )
    )
    first = session.scalar(select(Cycle).order_by(Cycle.id).limit(1))
    session.add(
        DeadlineExtension(
            cycle=first, stage="plan", due_on=date(2026, 5, 29), reason="延長", created_by=sec
        )
    )
    session.commit()
    return orgs, sec


def _ticks(session, days: list[str]):
    """Statements of each tick (no delivery) on the given days, two ticks per day."""
    found = []
    for day in days:
        for hour in (9, 10):
            with statements(session.get_bind()) as seen:
                report = tick(session, at(day, hour), deliver=False)
            assert not report.errors
            found.append((day, hour, report, seen))
    return found


def _shape(ticks):
    return [(day, hour, len(seen)) for day, hour, _report, seen in ticks]


DAYS = ["2026-04-16", "2026-04-30", "2026-05-08", "2026-05-19"]


def test_a_tick_costs_the_same_statements_for_ten_times_the_cycles(app):
    session = _db.session
    city(session, 20)
    small = _ticks(session, DAYS)
    small_mail = session.scalar(select(func.count(OutboxMessage.id)))
    assert small_mail > 0

    fresh()
    city(session, 200)
    large = _ticks(session, DAYS)
    large_mail = session.scalar(select(func.count(OutboxMessage.id)))

    assert _shape(small) == _shape(large)
    # Ten times the cycles, (about) ten times the mail: the same rules applied to more rows.
    assert large_mail > 8 * small_mail
    # The second tick of a day has nothing new: a handful of statements.
    assert all(len(seen) <= 25 for _d, hour, _r, seen in large if hour == 10)
    reports = [report for _d, hour, report, _seen in large if hour == 9]
    assert reports[0].reminders == 599  # each section's staff; the extended cycle later
    assert reports[2].escalations == 599 + 200  # each head; the substitute too


def test_no_statement_binds_one_parameter_per_cycle(app, monkeypatch):
    """At 65,536 open cycles a parameter per cycle is refused by the PostgreSQL driver: the
    widest statement of a tick is as wide for 600 cycles as for 60 (writes go in batches,
    made small here so that both sizes fill some)."""
    monkeypatch.setattr(bulk, "CHUNK", 25)
    monkeypatch.setattr(reminders, "CHUNK", 40)
    session = _db.session
    city(session, 20)
    small = max(size for *_x, seen in _ticks(session, DAYS) for _s, size in seen)
    fresh()
    city(session, 200)
    large = max(size for *_x, seen in _ticks(session, DAYS) for _s, size in seen)
    assert large == small


def test_a_tick_read_in_small_batches_queues_the_same_mail(app, monkeypatch):
    """Who gets what does not depend on how the due rows are read: in batches of 7 (pages
    on SQLite, one streamed statement on PostgreSQL) the ticks queue exactly the mails they
    queue when each read fits in one batch."""
    batches: list[int] = []
    candidates = reminders.Pass.candidates

    def counted(self, *args, **kwargs):
        found = list(candidates(self, *args, **kwargs))
        batches.append(len(found))
        yield from found

    monkeypatch.setattr(reminders.Pass, "candidates", counted)

    def queued() -> Counter:
        session = _db.session
        city(session, 30)
        _ticks(session, DAYS)
        return Counter(session.scalars(select(OutboxMessage.dedupe_key)))

    whole = queued()
    assert max(batches) == 1
    fresh()
    batches.clear()
    monkeypatch.setattr(reminders, "CHUNK", 7)
    batched = queued()
    assert max(batches) > 5  # some reads took several batches
    assert sum(whole.values()) > 7 * 20
    assert batched == whole


def test_escalations_wait_for_the_next_business_day(app):
    """Due on Monday 23 November 2026 (Labour Thanksgiving): sent on Tuesday the 24th."""
    session = _db.session
    make = Factory(session)
    org = make.org()
    make.user("sec", roles=["secretariat"])
    item = make.item(org)
    # The mid-year report due 30 October, first escalation 3 business days later (5 Nov,
    # Culture Day on the 3rd), weekly: 12, 19, 26 November; the secretariat's after 10
    # business days (16 Nov), weekly: 23 November is a holiday.
    make.cycle(item, 2026, "doing", state_since=datetime(2026, 10, 1, tzinfo=UTC))
    session.commit()
    tick(session, at("2026-11-20"), deliver=False)
    holiday = tick(session, at("2026-11-23"), deliver=False)
    assert holiday.escalations == 0
    after = tick(session, at("2026-11-24"), deliver=False)
    assert after.escalations == 1
    keys = session.execute(
        select(NotificationDispatch.rule, NotificationDispatch.step).order_by(
            NotificationDispatch.id
        )
    ).all()
    assert keys[-1] == ("escalation_secretariat", 1)


@pytest.mark.postgres
def test_two_schedulers_at_the_same_moment_send_nothing_twice(pg_app):
    session = _db.session
    orgs, _sec = city(session, 100)
    engine = _db.engine
    barrier = threading.Barrier(2)
    reports, failures = [], []

    def run(now: datetime) -> None:
        try:
            with Session(engine) as own:
                own.execute(select(1))
                barrier.wait()
                reports.append(tick(own, now, deliver=False))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            failures.append(repr(exc))

    for day in ("2026-04-01", "2026-04-16", "2026-05-08", "2026-05-19"):
        threads = [threading.Thread(target=run, args=(at(day),)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    assert [r.errors for r in reports] == [[]] * 8

    session.expire_all()
    keys = Counter(session.scalars(select(OutboxMessage.dedupe_key)))
    assert keys and set(keys.values()) == {1}
    sent = sum(r.reminders + r.escalations for r in reports)
    assert sent == len(keys)
    snapshots = session.execute(select(OverdueSnapshot.fiscal_year, OverdueSnapshot.taken_on))
    assert set(Counter(snapshots.all()).values()) == {1}
    # The secretariat's level reached every cycle once (19 May).
    second = session.scalar(
        select(func.count()).where(NotificationDispatch.rule == "escalation_secretariat")
    )
    assert second == 299


def test_a_failing_job_is_loud(app, db, make, login_as, monkeypatch):
    """The command fails, `scheduler status` says so, and so does the notification log."""
    import notifications.jobs

    def broken(session, today):
        raise RuntimeError("the snapshot table is gone")

    monkeypatch.setattr(notifications.jobs, "snapshot_overdue", broken)
    sec = make.user("sec", roles=["secretariat"])
    db.session.commit()
    runner = app.test_cli_runner()
    ticked = runner.invoke(args=["scheduler", "tick", "--now", "2026-06-01T10:00", "--no-deliver"])
    assert ticked.exit_code == 1
    assert "overdue snapshot: the snapshot table is gone" in ticked.output

    status = runner.invoke(args=["scheduler", "status"])
    assert status.exit_code == 1
    assert "FAILING" in status.output and "the snapshot table is gone" in status.output

    page = login_as(sec).get("/secretariat/notifications")
    assert "スケジューラの処理が失敗しています" in page.get_data(as_text=True)
    assert "the snapshot table is gone" in page.get_data(as_text=True)


def _queue(session, count: int) -> None:
    make = Factory(session)
    user = make.user("tanaka", name="田中 花子")
    session.commit()
    context = {
        "item_id": 1,
        "item_number": "1-1",
        "item_title": "窓口の改善",
        "fiscal_year_label": "令和8年度",
        "state_label": "計画作成中",
        "stage_label": "計画",
    }
    enqueue_rows(
        session,
        [
            outbox_row(
                kind="nudge",
                recipient_id=user.id,
                name=user.name,
                email=user.email,
                context=context,
                now=at("2026-06-01"),
                dedupe_key=f"many:{n}",
            )
            for n in range(count)
        ],
    )
    session.commit()


def test_one_tick_delivers_the_whole_queue(app, smtp):
    """Not 200 a tick: 450 queued messages go out in one pass, each once."""
    _queue(_db.session, 450)
    report = deliver_outbox(_db.session, at("2026-06-01", 10), smtp.settings())
    assert report.sent == 450 and report.errors == []
    assert len(smtp.message_ids()) == 450 and set(smtp.message_ids().values()) == {1}


@pytest.mark.postgres
def test_parallel_senders_and_two_schedulers_send_each_message_once(pg_app, smtp):
    _queue(_db.session, 400)
    engine = _db.engine
    settings = smtp.settings(senders=3)
    reports, failures = [], []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            with Session(engine) as own:
                own.execute(select(1))
                barrier.wait()
                reports.append(deliver_outbox(own, at("2026-06-01", 10), settings))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            failures.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sum(r.sent for r in reports) == 400
    received = smtp.message_ids()
    assert len(received) == 400 and set(received.values()) == {1}
    _db.session.expire_all()
    statuses = Counter(_db.session.scalars(select(OutboxMessage.status)))
    assert statuses == {OutboxStatus.SENT: 400}
