"""Backups taken while people work, restores that are checked, and the move to PostgreSQL."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from app.extensions import db as _db
from app.models import AuditEntry, Cycle, Department, User
from tests.conftest import _pg_connect, make_app
from tests.factories import Factory
from workflows import operations as ops

from .helpers import KAIKAKU, ROOT, kaikaku_env

NOW = datetime(2026, 5, 11, 1, 0, tzinfo=UTC)


def _open_cycles(app, count: int = 3) -> None:
    with app.app_context():
        make = Factory(_db.session)
        org = make.org("企画")
        for n in range(count):
            cycle = ops.open_cycle(make.item(org, number=f"1-{n + 1}"), 2026, now=NOW)
            cycle.goal = "オンライン申請を100手続に拡大する"
        _db.session.commit()


class TransitionStream(threading.Thread):
    """Staff submit and withdraw their plans, one committed transition after another."""

    def __init__(self, app, limit: int = 2000):
        super().__init__(daemon=True)
        self.app = app
        self.limit = limit
        self.stop = threading.Event()
        self.warmed_up = threading.Event()
        self.done = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.app.app_context():
                cycles = _db.session.scalars(select(Cycle).order_by(Cycle.id)).all()
                while not self.stop.is_set() and self.done < self.limit:
                    for cycle in cycles:
                        staff = _db.session.scalar(select(User).where(User.login.like("staff%")))
                        now = NOW + timedelta(seconds=self.done)
                        if cycle.state == "plan_draft":
                            ops.submit(cycle, by=staff, now=now)
                        else:
                            ops.withdraw(cycle, by=staff, now=now)
                        _db.session.commit()
                        self.done += 1
                    if self.done >= 12:
                        self.warmed_up.set()
                _db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            self.warmed_up.set()


def _audit_count(app) -> int:
    with app.app_context():
        return _db.session.scalar(select(func.count(AuditEntry.id)))


def _backup_while_streaming(app, url: str, out) -> tuple[int, int]:
    """Back up in another process during the stream; the audit counts before and after."""
    before = _audit_count(app)
    stream = TransitionStream(app)
    stream.start()
    assert stream.warmed_up.wait(60) and stream.error is None, stream.error
    result = subprocess.run(
        [*KAIKAKU, "backup", "--out", str(out)],
        cwd=ROOT,
        env=kaikaku_env(url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    stream.stop.set()
    stream.join(60)
    assert stream.error is None, stream.error
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"backup written: {out}")
    return before, _audit_count(app)


def _restore(tmp_path, target_url: str, backup_file):
    app = make_app(tmp_path / f"r{uuid.uuid4().hex[:6]}", target_url)
    with app.app_context():  # the target's, even inside another app's context
        result = app.test_cli_runner().invoke(args=["restore", str(backup_file)])
        _db.session.remove()  # its connection back to the pool, then the pool closed
        _db.engine.dispose()
    return result


def _printed_counts(output: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^  (\w+) +(\d+)", output, re.M)}


def test_sqlite_backup_during_transitions_restores_a_consistent_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    app = make_app(tmp_path, url)
    with app.app_context():
        upgrade(directory="migrations")  # a city's database is migrated, not created
    _open_cycles(app)
    backup_file = tmp_path / "nightly.db"
    before, after = _backup_while_streaming(app, url, backup_file)

    result = _restore(tmp_path, f"sqlite:///{tmp_path / 'restored.db'}", backup_file)
    assert result.exit_code == 0, result.output
    assert "audit log OK" in result.output
    printed = _printed_counts(result.output)
    with sqlite3.connect(backup_file) as snapshot:
        in_file = {
            name: snapshot.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
            for name in printed
        }
    assert printed == in_file
    # A moment in the middle of the stream: every transition whole, none half-written.
    assert before < printed["audit_entry"] <= after
    assert printed["cycle"] == 3


def test_restore_refuses_a_database_that_is_not_empty_and_changes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    app = make_app(tmp_path, url)
    with app.app_context():
        upgrade(directory="migrations")  # a city's database is migrated, not created
        _db.engine.dispose()
    _open_cycles(app, 1)
    backup_file = tmp_path / "b.db"
    assert app.test_cli_runner().invoke(args=["backup", "--out", str(backup_file)]).exit_code == 0
    again = app.test_cli_runner().invoke(args=["backup", "--out", str(backup_file)])
    assert again.exit_code == 1 and "already exists" in again.output

    before = _audit_count(app)
    result = _restore(tmp_path, url, backup_file)
    assert result.exit_code == 1
    assert "restore refused: the target database is not empty" in result.output
    assert _audit_count(app) == before


def _new_pg_database(pg_url):
    name = f"kaikaku_restore_{uuid.uuid4().hex[:8]}"
    with _pg_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_url.rsplit("/", 1)[0] + f"/{name}"
    with _pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_pg_database(pg_url):
    """A new, empty PostgreSQL database (dropped afterwards)."""
    yield from _new_pg_database(pg_url)


@pytest.mark.postgres
def test_pg_dump_during_transitions_restores_with_pg_restore(
    tmp_path, pg_app, pg_url, empty_pg_database
):
    # The suite's schema is the migrations' head: say so, as `kaikaku db stamp` would.
    subprocess.run(
        [*KAIKAKU, "db", "stamp", "head", "-d", "migrations"],
        cwd=ROOT,
        env=kaikaku_env(pg_url),
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        _open_cycles(pg_app)
        backup_file = tmp_path / "nightly.dump"
        before, after = _backup_while_streaming(pg_app, pg_url, backup_file)
    finally:
        # The suite's PostgreSQL runs share one schema: leave it without a version again.
        _db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        _db.session.commit()
    assert backup_file.read_bytes().startswith(b"PGDMP")

    result = _restore(tmp_path, empty_pg_database, backup_file)
    assert result.exit_code == 0, result.output
    assert "audit log OK" in result.output
    printed = _printed_counts(result.output)
    assert before < printed["audit_entry"] <= after and printed["cycle"] == 3


@pytest.mark.postgres
def test_db_copy_moves_a_sqlite_city_to_postgresql_with_everything(tmp_path, empty_pg_database):
    url = f"sqlite:///{tmp_path / 'city.db'}"
    source = make_app(tmp_path, url)
    with source.app_context():
        from flask_migrate import upgrade

        upgrade(directory=source.config["MIGRATIONS_DIR"])
        _db.engine.dispose()
    _open_cycles(source)
    TransitionStream(source, limit=30).run()  # a history to copy (here, not in a thread)

    result = source.test_cli_runner().invoke(args=["db", "copy", "--to", empty_pg_database])
    assert result.exit_code == 0, result.output
    assert "audit log OK" in result.output
    rows = re.findall(r"^  (\w+) +(\d+)  \(source (\d+)\)$", result.output, re.M)
    assert len(rows) == len(_db.metadata.tables) + 1  # and alembic_version
    assert all(copied == expected for _, copied, expected in rows)
    assert dict((name, int(n)) for name, n, _ in rows)["audit_entry"] > 30

    target = make_app(tmp_path / "target", empty_pg_database)
    with target.app_context():
        # The sequences moved past the copied ids: new rows get new ids.
        _db.session.add(Department(code="NEW", name="新設部"))
        _db.session.commit()
        assert _db.session.scalar(select(func.max(Department.id))) > 1
        _db.session.remove()
        _db.engine.dispose()
    refused = source.test_cli_runner().invoke(args=["db", "copy", "--to", empty_pg_database])
    assert refused.exit_code == 1 and "copy refused: the target database is not empty" in (
        refused.output
    )
