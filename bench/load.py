"""`python -m bench load`: the load a 2-core server holds, measured through real sockets.

A fresh PostgreSQL database gets the migrations and the demo; `kaikaku serve` (gunicorn,
4 workers) and `kaikaku scheduler run` start on it; Locust (bench/load_users.py, in a
process of its own) then drives the server on 127.0.0.1 for a bounded time at 50 and at
200 concurrent users: staff opening their tasks and items and saving or submitting stage
forms, heads approving, the secretariat on its dashboard and exporting to Excel, citizens
reading /public/. It prints requests/s, p50/p95/p99 per page and the error count.

    python -m bench load [--users 50,200] [--seconds 60] [--think 3-10] [--workers 4]
                         [--demo-day YYYY-MM-DD]

Needs the `bench` extra (`pip install -e '.[bench]'`, Locust) and PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from .__main__ import database

ROOT = Path(__file__).resolve().parents[1]
KAIKAKU = [sys.executable, "-c", "from app.cli import main; main()"]
DEMO_PASSWORD = "kaikaku-demo"
GOAL_P95_MS = 500


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def process(command: list[str], env: dict, log: Path):
    """A child process writing to `log`, stopped (SIGTERM) on the way out."""
    with open(log, "w") as out:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def wait_for(port: int, child: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"the server ended with {child.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port}")


def who(url: str) -> dict:
    """The demo's people and items in the database at `url` (`people_of`)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        plan = people_of(conn)
        # The database's name, to tell its server processes from others' on the machine.
        plan["database"] = engine.url.database
    engine.dispose()
    return plan


def people_of(conn) -> dict:
    """The demo's login IDs by kind, its items (and each member of staff's own), and this
    fiscal year."""

    def logins(kind: str) -> list[str]:
        rows = conn.execute(
            text(
                'SELECT DISTINCT u.login FROM "user" u JOIN post_assignment a '
                "ON a.user_id = u.id JOIN post p ON p.id = a.post_id "
                "WHERE p.kind = :kind AND a.ends_on IS NULL ORDER BY u.login"
            ),
            {"kind": kind},
        )
        return [r[0] for r in rows]

    own_items: dict[str, list[int]] = {}
    for login, item_id in conn.execute(
        text(
            'SELECT DISTINCT u.login, i.id FROM "user" u JOIN post_assignment a '
            "ON a.user_id = u.id JOIN post p ON p.id = a.post_id JOIN reform_item i "
            "ON i.owning_section_id = p.section_id "
            "WHERE p.kind = 'staff' AND a.ends_on IS NULL ORDER BY u.login, i.id"
        )
    ):
        own_items.setdefault(login, []).append(item_id)
    plan = {
        "staff": logins("staff"),
        "own_items": own_items,  # the items of each member of staff's section
        "heads": logins("head"),
        "secretariat": ["jimukyoku"],
        "items": [r[0] for r in conn.execute(text("SELECT id FROM reform_item ORDER BY id"))],
        "fy": conn.execute(text("SELECT max(fiscal_year) FROM cycle")).scalar(),
        "password": DEMO_PASSWORD,
    }
    return plan


@contextmanager
def demo_server(args, folder: Path):
    """A new PostgreSQL database with the migrations and the demo, `kaikaku serve` and
    `kaikaku scheduler run` on it: (server, scheduler, port, the demo's logins)."""
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        url = stack.enter_context(database("postgres"))
        env = dict(
            os.environ,
            DATABASE_URL=url,
            SECRET_KEY="bench-secret-key",
            PYTHONPATH=str(ROOT),
            SMTP_PORT=str(free_port()),  # no mail server: mail waits in the outbox
            MAILBOX_DIR=str(folder / "mailbox"),
        )
        started = time.perf_counter()
        subprocess.run([*KAIKAKU, "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True)  # fmt: skip
        day = ["--today", args.demo_day] if args.demo_day else []
        subprocess.run([*KAIKAKU, "demo", "load", *day], cwd=ROOT, env=env, check=True,
                       capture_output=True)  # fmt: skip
        took = time.perf_counter() - started
        plan = who(url)
        port = free_port()
        scheduler = stack.enter_context(
            process([*KAIKAKU, "scheduler", "run"], env, folder / "scheduler.log")
        )
        server = stack.enter_context(
            process(
                [*KAIKAKU, "serve", "--bind", f"127.0.0.1:{port}", "--workers",
                 str(args.workers), "--threads", str(args.threads)],
                env,
                folder / "server.log",
            )
        )  # fmt: skip
        wait_for(port, server)
        print(f"\ndemo loaded into a new PostgreSQL database in {took:.1f} s; kaikaku serve:"
              f" {args.workers} workers × {args.threads} threads on 127.0.0.1:{port}")  # fmt: skip
        yield server, scheduler, port, plan


def print_result(users: int, result: dict, seconds: int) -> bool:
    print(f"\n{users} users, {seconds} s measured: {result['rps']:.1f} requests/s, "
          f"{result['requests']} requests, {result['failures']} errors")  # fmt: skip
    print(f"  {'page':<52} {'req/s':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'errors':>6}")
    met = result["failures"] == 0
    for row in result["rows"]:
        print(
            f"  {row['method'] + ' ' + row['name']:<52} {row['rps']:>6.1f} {row['p50']:>6.0f}"
            f" {row['p95']:>6.0f} {row['p99']:>6.0f} {row['failures']:>6}"
        )
        if "export" not in row["name"] and row["p95"] >= GOAL_P95_MS:
            met = False
    for row in result["sign_in"]:
        print(f"  (while spawning) {row['method']} {row['name']}: {row['requests']} requests, "
              f"p50 {row['p50']:.0f} ms, p95 {row['p95']:.0f} ms")  # fmt: skip
    if result["refused"]:
        refused = ", ".join(f"{name}: {n}" for name, n in sorted(result["refused"].items()))
        print(f"  answered as designed (someone else first, draft incomplete): {refused}")
    for error in result["errors"] + result["warm_up_errors"]:
        print(f"  error: {error['method']} {error['name']}: {error['error']} ×{error['count']}")
    cpu = result.get("cpu")
    if cpu:
        cores = os.cpu_count() or 1
        per_request = 1000 * cpu["server"] / max(result["requests"], 1)
        print(f"  CPU over the {cpu['wall']:.0f} s measured ({cores} cores: "
              f"{cores * cpu['wall']:.0f} CPU-s): server {cpu['server']:.0f} CPU-s "
              f"({per_request:.0f} ms per request), PostgreSQL (its backends) "
              f"{cpu['database']:.0f}, scheduler {cpu['scheduler']:.1f}, "
              f"Locust itself {cpu['locust']:.0f}")  # fmt: skip
    verdict = "met" if met else "NOT met"
    print(f"  goal (0 errors, p95 < {GOAL_P95_MS} ms except exports): {verdict}")
    return met


def reference_ms() -> float:
    """The machine's speed at the time, for comparing runs made hours or days apart: the best
    of five runs of a fixed piece of Python (this machine's speed moves by 2× and more)."""
    import hashlib
    import random

    rows = [{"id": n, "title": f"取組{n}", "due": f"2026-{n % 12 + 1:02d}-01"} for n in range(2000)]
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(10):
            text = json.dumps(rows, ensure_ascii=False)
            hashlib.sha256(text.encode()).hexdigest()
            sorted(json.loads(text), key=lambda row: (row["due"], random.random()))
        best = min(best, (time.perf_counter() - start) * 1000)
    return best


def check_demo_day(parser: argparse.ArgumentParser, text: str) -> None:
    """The server keeps the real clock: a demo day must be past and of this fiscal year (a
    report's date, today, must fall in its cycle's year)."""
    from app.calendar import fiscal_year_of, local_date

    try:
        day = date.fromisoformat(text)
    except ValueError:
        parser.error(f"--demo-day {text}: not a date (YYYY-MM-DD)")
    today = local_date(datetime.now(UTC))
    if day > today or fiscal_year_of(day) != fiscal_year_of(today):
        parser.error(f"--demo-day {text}: must be a past day of this fiscal year (today {today})")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench load")
    parser.add_argument("--users", default="50,200")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--think", default="3-10", help="seconds between a user's clicks")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--logs", default=None, help="keep the server's and Locust's logs here")
    parser.add_argument(
        "--demo-day",
        default=None,
        help="load the demo as it stands on this past day of this fiscal year (YYYY-MM-DD),"
        " e.g. in the plan season; the server keeps the real clock",
    )
    args = parser.parse_args(argv)
    if args.demo_day:
        check_demo_day(parser, args.demo_day)
    think_min, think_max = (float(v) for v in args.think.split("-"))
    levels = [int(n) for n in args.users.split(",")]
    # A stop request still stops the server and drops the database on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    print(f"Kaikaku load test on {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"load average before: {'/'.join(f'{n:.1f}' for n in os.getloadavg())}")
    print(f"machine speed: a reference piece of Python takes {reference_ms():.0f} ms"
          " (lower is faster; compare runs by it)")  # fmt: skip
    print(f"think time {args.think} s; users: staff 50%, citizens 25%, heads 15%, secretariat 10%")
    if args.demo_day:
        print(f"the demo as it stands on {args.demo_day}")
    all_met = True
    problems = 0
    for users in levels:
        # Every level starts from the same demo, so that the work waiting for staff and
        # heads (and the figures) do not depend on what an earlier level used up.
        with ExitStack() as stack:
            folder = Path(args.logs or stack.enter_context(tempfile.TemporaryDirectory()))
            folder.mkdir(parents=True, exist_ok=True)
            server, scheduler, port, plan = stack.enter_context(
                demo_server(args, folder / str(users))
            )
            plan.update(
                host=f"http://127.0.0.1:{port}",
                users=users,
                spawn_rate=5,
                seconds=args.seconds,
                think_min=think_min,
                think_max=think_max,
                server_pid=server.pid,
                scheduler_pid=scheduler.pid,
            )
            plan_file, result_file = folder / "plan.json", folder / f"result-{users}.json"
            plan_file.write_text(json.dumps(plan))
            subprocess.run(
                [sys.executable, "-m", "bench.load_users", str(plan_file), str(result_file)],
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=open(folder / f"locust-{users}.log", "w"),  # noqa: SIM115
            )
            all_met &= print_result(users, json.loads(result_file.read_text()), args.seconds)
            print(f"  load average after: {'/'.join(f'{n:.1f}' for n in os.getloadavg())}")
            server_log = (folder / str(users) / "server.log").read_text()
            errors = [line for line in server_log.splitlines() if '"status": 5' in line]
            problems += len(errors)
            print(f"  server: {len(server_log.splitlines())} log lines, {len(errors)} answers 5xx")
    all_met &= problems == 0
    sys.exit(0 if all_met else 1)
