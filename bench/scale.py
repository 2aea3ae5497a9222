"""Kaikaku at a prefecture's scale, beside the database's own speed, in one run.

    python -m bench scale --items 100000 [--json]
    python -m bench scale --items 20000 --only-transitions --rounds 7   # the transition alone

On a fresh PostgreSQL database: builds `items` reform items with their FY2026 cycles in
bulk, then measures, interleaved where two things are compared,

- one transition (submit or approve, with its audit record, mail rows and commit) against
  `pgbench -N -c 1` on the same server, and against SpiffWorkflow 3.2 loading, running and
  saving its JSON state to the same server (the optional `bench` extra);
- the scheduler's first tick over every cycle overdue, and a tick with nothing new, against
  one query reading every open cycle once;
- the secretariat's dashboard, its stuck list and the list's CSV export;
- the outbox sending to a local SMTP server (aiosmtpd in its own process).

Peak memory is the growth of the process's resident set during a phase. Nothing asserts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from tests.statements import statements

TICK = datetime(2026, 5, 19, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
STEPS = 300  # transitions per measured round
ROUNDS = 3


def _rss_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def peak(found: dict, key: str):
    """The growth of the resident set while the block runs, in MB (Linux)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # reset the high-water mark
    except OSError:
        pass
    start = _rss_mb("VmRSS")
    yield
    found[key] = round(max(0.0, _rss_mb("VmHWM") - start), 1)


def _pgbench(admin_url: str, seconds: int = 5) -> float:
    """tps of `pgbench -N -c 1` (simple updates) on a database of its own, same server."""
    import psycopg

    name = "kaikaku_bench_pgbench"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            subprocess.run(
                ["pgbench", "-i", "-q", "-s", "1", *_pg_args(admin_url), name],
                check=True,
                capture_output=True,
            )
    out = subprocess.run(
        ["pgbench", "-N", "-c", "1", "-n", "-T", str(seconds), *_pg_args(admin_url), name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))


def _pg_args(url: str) -> list[str]:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    args = ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432)]
    return [*args, "-U", parsed.username or "postgres"]


def _transitions(app, world, offset: int) -> tuple[float, int]:
    """Milliseconds per transition over STEPS (submits and approvals alternating, each its
    own transaction as a request is), and the statements of the steady-state ones."""
    from app.extensions import db
    from app.models import Cycle, ReformItem, User
    from workflows import operations
    from workflows.registry import get_definition

    with app.app_context():
        session = db.session
        definition = get_definition()
        submit = definition.of_kind(definition.initial, "submit")
        approve = definition.of_kind(submit.dest, "approve")

        def waiting_in(state: str) -> list[int]:
            return session.scalars(
                select(Cycle.id)
                .where(Cycle.state == state)
                .order_by(Cycle.id)
                .offset(offset)
                .limit(STEPS // 2)
            ).all()

        work = [(c, submit.trigger) for c in waiting_in(definition.initial)]
        work += [(c, approve.trigger) for c in waiting_in(submit.dest)]
        session.commit()
        work.sort()
        counts: list[int] = []
        start = time.perf_counter()
        for cycle_id, trigger in work:
            cycle = session.get(Cycle, cycle_id)
            item = session.get(ReformItem, cycle.item_id)
            staff, head = world.people[item.owning_section_id]
            by = session.get(User, staff if trigger == submit.trigger else head)
            with statements(db.engine) as seen:
                operations.fire(cycle, trigger, by=by, now=TICK)
                session.commit()
            counts.append(len(seen))
        elapsed = time.perf_counter() - start
        session.remove()
    return elapsed * 1000 / len(work), statistics.median(counts)


SPIFF_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="kaikaku"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="pdca" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="submit"><bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="approve"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="more" default="f3"><bpmn:incoming>f4</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f5</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="submit"/>
    <bpmn:sequenceFlow id="f2" sourceRef="submit" targetRef="approve"/>
    <bpmn:sequenceFlow id="f4" sourceRef="approve" targetRef="more"/>
    <bpmn:sequenceFlow id="f3" sourceRef="more" targetRef="submit"/>
    <bpmn:sequenceFlow id="f5" sourceRef="more" targetRef="end">
      <bpmn:conditionExpression>closed</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>"""


def _spiff(engine) -> dict | None:
    """SpiffWorkflow's step: load the instance's JSON state from PostgreSQL, run the ready
    task, save the state, commit; and its in-memory step alone. None when not installed."""
    try:
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.bpmn.parser import BpmnParser
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from SpiffWorkflow.util.task import TaskState
    except ImportError:
        return None
    parser = BpmnParser()
    parser.add_bpmn_str(SPIFF_BPMN.encode())
    spec = parser.get_spec("pdca")
    serializer = BpmnWorkflowSerializer()
    workflow = BpmnWorkflow(spec)
    workflow.do_engine_steps()
    fresh = serializer.serialize_json(workflow)

    def step(state: str) -> str:
        flow = serializer.deserialize_json(state)
        task = flow.get_next_task(state=TaskState.READY, manual=True)
        task.set_data(closed=False)
        task.run()
        flow.do_engine_steps()
        return serializer.serialize_json(flow)

    with engine.connect() as conn:
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS spiff_state (id serial PRIMARY KEY, state text)")
        )
        conn.execute(text("TRUNCATE spiff_state"))
        ids = [
            conn.execute(
                text("INSERT INTO spiff_state (state) VALUES (:s) RETURNING id"), {"s": fresh}
            ).scalar()
            for _ in range(STEPS // 2)
        ]
        conn.commit()
        start = time.perf_counter()
        for ident in ids:
            for _ in range(2):  # submit, then approve
                state = conn.execute(
                    text("SELECT state FROM spiff_state WHERE id = :i FOR UPDATE"), {"i": ident}
                ).scalar()
                conn.execute(
                    text("UPDATE spiff_state SET state = :s WHERE id = :i"),
                    {"s": step(state), "i": ident},
                )
                conn.commit()
        persisted = (time.perf_counter() - start) * 1000 / (2 * len(ids))
    flows = [serializer.deserialize_json(fresh) for _ in range(200)]
    start = time.perf_counter()
    for flow in flows:
        task = flow.get_next_task(state=TaskState.READY, manual=True)
        task.set_data(closed=False)
        task.run()
        flow.do_engine_steps()
    memory_us = (time.perf_counter() - start) * 1e6 / len(flows)
    return {"step_ms": persisted, "decide_us": memory_us}


def _deciding_in_memory() -> tuple[float, float]:
    """µs to decide the next state: Kaikaku's machine (checks passing) and a raw trigger."""
    from transitions import Machine

    from workflows.registry import get_definition

    definition = get_definition()
    submit = definition.of_kind(definition.initial, "submit")
    n = 20000
    start = time.perf_counter()
    for _ in range(n):
        definition.fire(definition.initial, submit.trigger, check=lambda t: True)
    kaikaku = (time.perf_counter() - start) * 1e6 / n

    class Model:
        pass

    model = Model()
    Machine(
        model=model,
        states=["a", "b"],
        transitions=[{"trigger": "go", "source": "a", "dest": "b"}],
        initial="a",
        auto_transitions=False,
    )
    start = time.perf_counter()
    for _ in range(n):
        model.state = "a"
        model.go()
    raw = (time.perf_counter() - start) * 1e6 / n
    return kaikaku, raw


def _ideal(engine) -> float:
    """Seconds for one query reading every open cycle with its section once."""
    from app.models import Cycle, ItemStatus, ReformItem
    from workflows.overdue import states_clause
    from workflows.registry import all_definitions

    waiting = [(d.version, s) for d in all_definitions() for s in d.waiting_states]
    query = (
        select(Cycle.id, Cycle.state, Cycle.state_since, ReformItem.owning_section_id)
        .join(ReformItem, ReformItem.id == Cycle.item_id)
        .where(states_clause(waiting), ReformItem.status == ItemStatus.ACTIVE)
    )
    times = []
    with engine.connect() as conn:
        for _ in range(3):
            start = time.perf_counter()
            conn.execute(query).all()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _tick(app, now, found: dict, prefix: str) -> None:
    from app.extensions import db
    from notifications.jobs import tick

    with app.app_context():
        with peak(found, f"{prefix}_peak_mb"), statements(db.engine) as seen:
            start = time.perf_counter()
            report = tick(db.session, now, deliver=False)
            found[f"{prefix}_s"] = round(time.perf_counter() - start, 3)
        found[f"{prefix}_statements"] = len(seen)
        found[f"{prefix}_mails"] = report.reminders + report.escalations + report.digests
        if report.errors:
            found[f"{prefix}_errors"] = report.errors
        db.session.remove()


def _page_ms(client, path: str, headers: dict | None = None) -> float:
    """Median milliseconds of five answers of `path`, after one to warm it."""
    from bench.__main__ import median_ms

    def answer() -> None:
        assert client.get(path, headers=headers).status_code == 200

    answer()
    return round(median_ms(answer), 1)


def _api_lists(app, world, found: dict) -> None:
    """The JSON API's first page of items and of cycles for a section's staff member, whose
    items are spread through the city's (the lists read only what the user reaches)."""
    from app.extensions import db
    from app.models import User
    from app.tokens.service import create_token

    staff_id, _head = world.people[max(world.people)]
    with app.app_context():
        user = db.session.get(User, staff_id)
        _row, secret = create_token(
            db.session, user, name="bench", access="read", days=30, now=datetime.now(UTC)
        )
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    for key, path in (
        ("api_items_ms", "/api/v1/items?limit=50"),
        ("api_cycles_ms", "/api/v1/cycles?limit=50"),
    ):
        found[key] = _page_ms(client, path, headers)


def _pages(app, found: dict) -> None:
    client = app.test_client()
    client.post("/login", data={"login": "jimukyoku", "password": "password"})
    for key, path in (
        ("dashboard_ms", "/secretariat/?fy=2026"),
        ("stuck_list_ms", "/secretariat/items?fy=2026&stuck=1"),
    ):
        found[key] = _page_ms(client, path)
    path = "/secretariat/items?fy=2026&stuck=1&format=csv"
    with peak(found, "export_peak_mb"):
        start = time.perf_counter()
        response = client.get(path, buffered=False)
        rows = sum(chunk.count(b"\r\n") for chunk in response.response) - 1
        elapsed = time.perf_counter() - start
        response.close()
    found["export_rows"] = rows
    found["export_rows_per_s"] = round(rows / elapsed)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _outbox(app, found: dict, count: int = 3000) -> None:
    """Mails per second to aiosmtpd (a sink, in its own process) from the queued mail."""
    from app.extensions import db
    from notifications.delivery import deliver_outbox
    from notifications.settings import Settings

    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        settings = Settings(smtp_port=port, batch_size=count, secret_key="bench")
        with app.app_context():
            start = time.perf_counter()
            report = deliver_outbox(db.session, TICK + timedelta(minutes=5), settings)
            elapsed = time.perf_counter() - start
            db.session.remove()
        found["outbox_sent"] = report.sent
        found["outbox_mails_per_s"] = round(report.sent / elapsed)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _tick_and_outbox(app, found: dict, say) -> None:
    """The scheduler's ticks beside the one-query ideal, then the outbox's mails/s."""
    from app.extensions import db

    with app.app_context():
        found["tick_ideal_s"] = round(_ideal(db.engine), 3)
    _tick(app, TICK, found, "tick_first")
    _tick(app, TICK + timedelta(minutes=1), found, "tick_idle")
    found["tick_peak_mb"] = found["tick_idle_peak_mb"]
    say(
        f"  first tick {found['tick_first_s']} s ({found['tick_first_mails']:,} mails, "
        f"{found['tick_first_statements']} statements, +{found['tick_first_peak_mb']} MB); "
        f"nothing new {found['tick_idle_s']} s ({found['tick_idle_statements']} statements, "
        f"+{found['tick_idle_peak_mb']} MB); one query over every open cycle "
        f"{found['tick_ideal_s']} s: {round(found['tick_idle_s'] / found['tick_ideal_s'], 1)}x"
    )

    _outbox(app, found)
    say(
        f"  outbox {found['outbox_mails_per_s']} mails/s to a local aiosmtpd "
        f"({found['outbox_sent']} sent)"
    )


def run(items: int, as_json: bool, only_transitions: bool = False, rounds: int = ROUNDS) -> dict:
    from app.extensions import db
    from bench.__main__ import PG_ADMIN, app_for, database, postgres_available
    from bench.world import build

    say = (lambda *a: None) if as_json else print
    if not postgres_available() or not shutil.which("pgbench"):
        say("  scale: needs PostgreSQL at BENCH_PG_ADMIN_URL and pgbench; skipped")
        return {"items": items, "skipped": "PostgreSQL or pgbench missing"}
    found: dict = {"items": items}
    with database("postgres") as url:
        app = app_for(url)
        with app.app_context():
            db.create_all()
            start = time.perf_counter()
            world = build(db.session, items)
            found["build_s"] = round(time.perf_counter() - start, 1)
            db.session.remove()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        say(f"  built {items:,} items and cycles in {found['build_s']} s")

        if not only_transitions:
            _pages(app, found)
            _api_lists(app, world, found)
            say(
                f"  dashboard {found['dashboard_ms']} ms, stuck list {found['stuck_list_ms']} ms, "
                f"CSV {found['export_rows']:,} rows at {found['export_rows_per_s']:,} rows/s "
                f"(+{found['export_peak_mb']} MB); API first page of a section's staff: "
                f"items {found['api_items_ms']} ms, cycles {found['api_cycles_ms']} ms"
            )

        # Each round: pgbench, Kaikaku, SpiffWorkflow one after another, so that the ratios
        # of a round compare runs made under the same load; the figures are their medians.
        kaikaku_ms, pgbench_tps, counts, spiffs = [], [], [], []
        for n in range(rounds):
            pgbench_tps.append(_pgbench(PG_ADMIN))
            ms, count = _transitions(app, world, n * STEPS // 2)
            kaikaku_ms.append(ms)
            counts.append(count)
            with app.app_context():
                spiffs.append(_spiff(db.engine))
        spiff = None
        if spiffs[0] is not None:
            spiff = {k: statistics.median(s[k] for s in spiffs) for k in spiffs[0]}
        found["pgbench_tps"] = round(statistics.median(pgbench_tps))
        found["transition_ms"] = round(statistics.median(kaikaku_ms), 2)
        found["transitions_per_s"] = round(1000 / found["transition_ms"])
        found["transition_vs_pgbench"] = round(found["transitions_per_s"] / found["pgbench_tps"], 2)
        found["transition_statements"] = statistics.median(counts)
        found["rounds"] = rounds
        found["transition_vs_pgbench_rounds"] = sorted(
            round(1000 / ms / tps, 2) for ms, tps in zip(kaikaku_ms, pgbench_tps, strict=True)
        )
        if spiff is not None:
            found["transition_vs_spiff_rounds"] = sorted(
                round(s["step_ms"] / ms, 2) for ms, s in zip(kaikaku_ms, spiffs, strict=True)
            )
        decide, raw = _deciding_in_memory()
        found["decide_us"], found["transitions_trigger_us"] = round(decide, 1), round(raw, 1)
        say(
            f"  transition {found['transition_ms']} ms ({found['transitions_per_s']}/s, "
            f"{found['transition_statements']} statements) vs pgbench -N -c 1 "
            f"{found['pgbench_tps']} tps: {found['transition_vs_pgbench']}x "
            f"(rounds: {found['transition_vs_pgbench_rounds']})"
        )
        if spiff is None:
            found["transition_vs_spiff"] = None
            say("  SpiffWorkflow is not installed (pip install -e '.[bench]'): comparison skipped")
        else:
            found["spiff_step_ms"] = round(spiff["step_ms"], 2)
            found["spiff_decide_us"] = round(spiff["decide_us"], 1)
            found["transition_vs_spiff"] = round(spiff["step_ms"] / found["transition_ms"], 2)
            say(
                f"  SpiffWorkflow 3.2 step persisted {found['spiff_step_ms']} ms: Kaikaku "
                f"{found['transition_vs_spiff']}x as fast per step "
                f"(rounds: {found['transition_vs_spiff_rounds']})"
            )
        say(
            f"  in memory, deciding the next state: Kaikaku {found['decide_us']} µs, a raw "
            f"transitions trigger {found['transitions_trigger_us']} µs"
            + (f", SpiffWorkflow {found['spiff_decide_us']} µs" if spiff else "")
        )

        if not only_transitions:
            _tick_and_outbox(app, found, say)
        with app.app_context():
            db.engine.dispose()
    if as_json:
        print(json.dumps(found, ensure_ascii=False))
    return found


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench scale")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only-transitions",
        action="store_true",
        help="only the transition beside pgbench and SpiffWorkflow (no pages, tick, outbox)",
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"interleaved rounds ({ROUNDS})")
    args = parser.parse_args(argv)
    if not args.json:
        print(f"Kaikaku at scale on {os.cpu_count()} cores: {args.items:,} items, PostgreSQL")
    run(args.items, args.json, args.only_transitions, args.rounds)
