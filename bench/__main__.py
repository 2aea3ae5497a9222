"""Print Kaikaku's speed figures.

    python -m bench            # everything, SQLite and (when reachable) PostgreSQL
    python -m bench demo       # one section (demo, login, transitions, pages)
    python -m bench scale --items 100000 [--json]   # a prefecture's worth (bench/scale.py)
    python -m bench load       # the load a server holds (kaikaku serve + Locust; see load.py)

Each figure is the median of several runs, measured on this machine; nothing asserts.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from app import create_app
from app.extensions import db
from config import TestConfig

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TODAY = date(2026, 11, 25)


# Every folder a run makes lives under one temporary folder, removed when the run ends.
_work: list[str] = []


def scratch() -> str:
    """A new empty folder inside this run's temporary folder."""
    return tempfile.mkdtemp(dir=_work[-1] if _work else None)


def app_for(url: str):
    class _Config(TestConfig):
        def __init__(self, instance_path, environ=None):
            super().__init__(scratch(), {**os.environ, "TEST_DATABASE_URL": url})

    return create_app(_Config)


@contextmanager
def database(kind: str):
    """A fresh database of `kind` ("sqlite" or "postgres") with the schema, then dropped."""
    if kind == "sqlite":
        folder = scratch()
        yield f"sqlite:///{folder}/bench.db"
        return
    import psycopg

    name = f"kaikaku_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        server = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_available() -> bool:
    try:
        import psycopg

        psycopg.connect(PG_ADMIN, connect_timeout=2).close()
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False
    return True


def median_ms(run: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def row(label: str, value: float, unit: str) -> None:
    print(f"  {label:<58} {value:>10.1f} {unit}")


def bench_demo(kind: str) -> None:
    from app.demo import load_demo

    with database(kind) as url:
        app = app_for(url)
        with app.app_context():
            db.create_all()
            start = time.perf_counter()
            load_demo(db.session, today=TODAY)
            db.session.commit()
            row(
                f"[{kind}] demo load (31 items, 5 fiscal years)",
                (time.perf_counter() - start) * 1000,
                "ms",
            )
            db.engine.dispose()


def bench_login(kind: str, repeat: int = 15) -> None:
    """A refused login, for a login ID that exists and for one that does not: the same cost."""
    from app.models import User

    with database(kind) as url:
        app = app_for(url)
        with app.app_context():
            db.create_all()
            user = User(login="known", name="既知", email="known@city.example.jp")
            user.set_password("kaikaku-bench-password")
            db.session.add(user)
            db.session.commit()
            client = app.test_client()
            times: dict[str, list[float]] = {"known": [], "unknown": []}
            for n in range(repeat):
                for login in times:  # interleaved, so both see the same machine
                    start = time.perf_counter()
                    client.post(
                        "/login",
                        data={"login": login, "password": "wrong-password"},
                        environ_overrides={"REMOTE_ADDR": f"10.9.{n}.{len(login)}"},
                    )
                    times[login].append((time.perf_counter() - start) * 1000)
            for login, values in times.items():
                row(f"[{kind}] refused login, {login} login ID", statistics.median(values), "ms")
            db.engine.dispose()


def bench_transitions(kind: str, count: int = 200) -> None:
    """Submit then approve `count` plans, one transaction each, as a web request would."""
    from tests.factories import Factory
    from workflows import operations

    with database(kind) as url:
        app = app_for(url)
        with app.app_context():
            db.create_all()
            make = Factory(db.session)
            org = make.org("企画")
            cycles = []
            for n in range(count):
                item = make.item(org, number=f"1-{n + 1}")
                cycles.append(make.cycle(item, 2026, "plan_draft", goal="目標"))
            db.session.commit()
            ids = [c.id for c in cycles]
            now = datetime(2026, 4, 10, 1, tzinfo=UTC)
            from app.models import Cycle

            def run(trigger: str, by) -> float:
                start = time.perf_counter()
                for cycle_id in ids:
                    cycle = db.session.get(Cycle, cycle_id)
                    operations.fire(cycle, trigger, by=by, now=now)
                    db.session.commit()
                return (time.perf_counter() - start) * 1000 / count

            row(
                f"[{kind}] submit_plan, per transition incl. commit",
                run("submit_plan", org.staff),
                "ms",
            )
            now += timedelta(days=1)
            row(
                f"[{kind}] approve_plan, per transition incl. commit",
                run("approve_plan", org.head),
                "ms",
            )
            db.engine.dispose()


def bench_pages(kind: str) -> None:
    """Server time of the pages people open most, on the demo (test client, no network)."""
    from sqlalchemy import select

    from app.demo import load_demo
    from app.models import ReformItem

    with database(kind) as url:
        app = app_for(url)
        with app.app_context():
            db.create_all()
            load_demo(db.session, today=TODAY)
            db.session.commit()
            item_id = db.session.scalar(select(ReformItem.id).where(ReformItem.number == "1-1"))
        # Requests run outside any app context, each in its own, as on a real server.
        pages = [
            ("staff_digital", "/"),
            ("staff_digital", f"/items/{item_id}"),
            ("head_kikaku", "/"),
            ("head_kikaku", "/inbox"),
            ("jimukyoku", "/secretariat/"),
            ("admin", "/plan"),
            (None, "/public/"),
        ]
        for login, path in pages:
            client = app.test_client()
            if login:
                client.post("/login", data={"login": login, "password": "kaikaku-demo"})
            status = client.get(path).status_code
            if status != 200:
                print(f"  [{kind}] {path} as {login}: HTTP {status}, skipped")
                continue
            row(
                f"[{kind}] GET {path} as {login or 'citizen'}",
                median_ms(lambda c=client, p=path: c.get(p)),
                "ms",
            )
        with app.app_context():
            db.engine.dispose()


SECTIONS = {
    "demo": bench_demo,
    "login": bench_login,
    "transitions": bench_transitions,
    "pages": bench_pages,
}


def main(argv: list[str]) -> None:
    if argv[:1] == ["load"]:
        from .load import main as load

        load(argv[1:])
        return
    if argv[:1] == ["scale"]:
        from .scale import main as scale

        scale(argv[1:])
        return
    chosen = argv or list(SECTIONS)
    kinds = ["sqlite"] + (["postgres"] if postgres_available() else [])
    print(f"Kaikaku benchmarks on {os.cpu_count()} cores; databases: {', '.join(kinds)}")
    with tempfile.TemporaryDirectory(prefix="kaikaku-bench-") as work:
        _work.append(work)
        try:
            for name in chosen:
                print(f"\n{name}")
                for kind in kinds:
                    SECTIONS[name](kind)
        finally:
            _work.pop()


if __name__ == "__main__":
    main(sys.argv[1:])
