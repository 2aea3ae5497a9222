"""Several schedulers at once, leadership, and a scheduler killed in the middle of a tick."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db as _db
from app.models import OutboxMessage, OutboxStatus
from app.outbox import enqueue
from notifications.leader import Leadership
from tests.conftest import make_app
from tests.factories import Factory

from .helpers import at

ROOT = Path(__file__).resolve().parents[2]


def _env(database_url: str, smtp, **extra) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="test-secret-key",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp.port),
        BASE_URL="https://kaikaku.example.jp",
        FLASK_APP="app:create_app",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def _three_items(session):
    make = Factory(session)
    org = make.org()
    for n in (1, 2, 3):
        make.item(org, number=f"1-{n}")
    secretariat = make.user("sec", roles=["secretariat"])
    session.commit()
    return org, secretariat


def test_leadership_on_sqlite_is_a_file_lock(tmp_path):
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'k.db'}")
    with app.app_context():
        first, second = Leadership(_db.engine), Leadership(_db.engine)
        assert first.try_acquire() and first.still_held()
        assert not second.try_acquire()
        first.release()  # the leader stops (or dies: the kernel drops the lock)
        assert second.try_acquire()
        assert not first.try_acquire()
        second.release()
        _db.engine.dispose()


@pytest.mark.postgres
def test_leadership_on_postgres_passes_to_a_standby_when_the_leader_dies(pg_app):
    first, second = Leadership(_db.engine), Leadership(_db.engine)
    assert first.try_acquire()
    assert not second.try_acquire()
    # The leader's connection dies with its process: the server releases the lock.
    first._connection.invalidate()
    first._connection = None
    deadline = time.monotonic() + 5
    while not second.try_acquire():
        assert time.monotonic() < deadline, "the standby never took over"
        time.sleep(0.1)
    assert second.still_held()
    second.release()


@pytest.mark.postgres
def test_two_scheduler_processes_on_postgres_send_nothing_twice(pg_app, pg_url, smtp):
    org, secretariat = _three_items(_db.session)
    env = _env(pg_url, smtp)
    command = [sys.executable, "-m", "tests.notifications.tick_loop", "2026-04-01", "2026-05-20"]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(2)]
    for process in processes:
        assert process.wait(timeout=120) == 0

    received = Counter((m["To"].addresses[0].addr_spec, m["X-Kaikaku-Kind"]) for m in smtp.messages)
    assert received == {
        (org.staff.email, "reminder"): 12,  # 16, 23, 28 and 30 April, for each of 3 items
        (org.head.email, "escalation_head"): 6,  # 8 and 15 May
        (secretariat.email, "escalation_secretariat"): 3,  # 19 May
    }
    assert all(n == 1 for n in smtp.message_ids().values())


def _sqlite_with_pending_mail(tmp_path, count: int) -> tuple[str, list[str]]:
    url = f"sqlite:///{tmp_path / 'kaikaku.db'}"
    app = make_app(tmp_path, url)
    with app.app_context():
        _db.create_all()
        make = Factory(_db.session)
        user = make.user("tanaka", name="田中 花子")
        for n in range(count):
            context = {
                "item_id": n,
                "item_number": f"1-{n}",
                "item_title": "窓口の改善",
                "fiscal_year_label": "令和8年度",
                "state_label": "計画作成中",
                "stage_label": "計画",
            }
            enqueue(
                _db.session,
                kind="nudge",
                recipient=user,
                context=context,
                now=at("2026-06-01"),
                dedupe_key=f"kill:{n}",
            )
        _db.session.commit()
        ids = list(_db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
        _db.engine.dispose()
    return url, ids


class _Lines:
    """The lines a child process writes to stderr, read by a thread: waiting for the next one
    fails the test after `timeout` seconds instead of hanging the suite."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.process.stderr:
                self.queue.put(line)
        except (ValueError, OSError):  # the test closed the pipe: nothing more to read
            pass

    def next(self, timeout: float = 30) -> str:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()
            pytest.fail(f"the process wrote nothing within {timeout} s")


def _tick_killed_while_paused(url, smtp, hook: str) -> None:
    env = _env(url, smtp, KAIKAKU_TEST_SEND_PAUSE=hook)
    command = [sys.executable, "-m", "flask", "scheduler", "tick", "--now", "2026-06-01T10:00"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    line = _Lines(process).next()
    assert line.startswith("paused"), line
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    process.stderr.close()


def _tick(url, smtp) -> None:
    command = [sys.executable, "-m", "flask", "scheduler", "tick", "--now", "2026-06-01T10:05"]
    subprocess.run(command, cwd=ROOT, env=_env(url, smtp), check=True, capture_output=True)


def _statuses(tmp_path, url) -> set:
    app = make_app(tmp_path, url)
    with app.app_context():
        statuses = set(_db.session.scalars(select(OutboxMessage.status)))
        _db.engine.dispose()
    return statuses


def test_killed_between_messages_then_restarted_nothing_twice_nothing_lost(tmp_path, smtp):
    url, ids = _sqlite_with_pending_mail(tmp_path, 5)
    # Killed after the first message was sent and recorded, before the second's SMTP session.
    _tick_killed_while_paused(url, smtp, "before:2:60")
    assert len(smtp.messages) == 1
    _tick(url, smtp)

    received = smtp.message_ids()
    assert len(received) == 5 and set(received.values()) == {1}
    assert {mid.split(".")[0] for mid in received} == {f"<outbox-{i}" for i in ids}
    assert _statuses(tmp_path, url) == {OutboxStatus.SENT}


def test_killed_after_the_server_accepted_a_message_resends_it_with_the_same_message_id(
    tmp_path, smtp
):
    """The one window of at-least-once: accepted by SMTP, not yet recorded as sent."""
    url, ids = _sqlite_with_pending_mail(tmp_path, 3)
    _tick_killed_while_paused(url, smtp, "after:2:60")
    assert len(smtp.messages) == 2
    _tick(url, smtp)

    received = smtp.message_ids()
    assert sorted(received.values()) == [1, 1, 2]
    [repeated] = [mid for mid, n in received.items() if n == 2]
    assert repeated.startswith(f"<outbox-{ids[1]}.")
    assert _statuses(tmp_path, url) == {OutboxStatus.SENT}


def test_a_standby_scheduler_takes_over_when_the_leader_is_killed(tmp_path, smtp):
    url, _ids = _sqlite_with_pending_mail(tmp_path, 0)
    env = _env(url, smtp)
    command = [sys.executable, "-m", "flask", "scheduler", "run", "--interval", "1"]

    def start():
        return subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)

    leader = start()
    assert "leader" in _Lines(leader).next()
    standby = start()
    standby_lines = _Lines(standby)
    try:
        assert "standby" in standby_lines.next()
        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=10)
        assert "leader" in standby_lines.next()  # within about one interval
        standby.terminate()
        assert standby.wait(timeout=20) == 0  # SIGTERM ends the scheduler cleanly
    finally:
        for process in (leader, standby):
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stderr.close()
