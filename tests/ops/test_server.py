"""`kaikaku serve`: gunicorn with several workers, and one JSON log line per request."""

from __future__ import annotations

import json
import subprocess

from .helpers import KAIKAKU, ROOT, WebClient, free_port, kaikaku_env, stop, wait_for_port


def test_gunicorn_serves_sign_in_and_pages_and_logs_each_request_as_json(migrated_sqlite):
    url, logins = migrated_sqlite
    port = free_port()
    process = subprocess.Popen(
        [*KAIKAKU, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "2"],
        cwd=ROOT,
        env=kaikaku_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, process)
        web = WebClient(f"http://127.0.0.1:{port}")
        status, headers, _ = web.request("/login?next=/plan", headers={"X-Request-ID": "req-42"})
        assert status == 200 and headers["X-Request-ID"] == "req-42"
        status, _, page = web.request("/login", {"login": logins["staff"], "password": "password"})
        assert status == 200 and "あなたの対応待ち" in page
        # Requests spread over both workers all reach the database through their own pool.
        for _ in range(8):
            assert web.request("/plan?q=%E7%94%B0%E4%B8%AD")[0] == 200
        status, headers, _ = web.request(
            "/ical/a-secret-token.ics", headers={"X-Request-ID": "x y"}
        )
        assert status == 404
        generated = headers["X-Request-ID"]
        assert generated != "x y" and len(generated) == 32
    finally:
        stop(process)
        out, err = process.communicate()

    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0] == {
        "method": "GET",
        "path": "/login",
        "status": 200,
        "ms": lines[0]["ms"],
        "user": None,
        "request_id": "req-42",
    }
    plan = [line for line in lines if line["path"] == "/plan"]
    assert len(plan) == 8 and {line["user"] for line in plan} == {logins["staff_id"]}
    assert all(line["status"] == 200 and line["ms"] > 0 for line in plan)
    # No query string (search words, names) and no secret token reach the log.
    assert "%E7" not in out and "田中" not in out and "a-secret-token" not in out
    feed = [line for line in lines if line["path"] == "/ical/<token>.ics"]
    assert feed[0]["request_id"] == generated
    assert "Booting worker" in err and "Traceback" not in err


def test_each_request_has_its_own_user_and_form_token_in_a_sync_worker(migrated_sqlite):
    """One worker serving everyone in turn: nothing of one request leaks into the next."""
    url, logins = migrated_sqlite
    port = free_port()
    process = subprocess.Popen(
        [*KAIKAKU, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "1"],
        cwd=ROOT,
        env=kaikaku_env(url, REQUEST_LOG="0"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        staff, stranger, second = (WebClient(f"http://127.0.0.1:{port}") for _ in range(3))
        staff.request("/login")
        second.request("/login")  # both forms open at once, each with its own token
        status, _, page = staff.request(
            "/login", {"login": logins["staff"], "password": "password"}
        )
        assert status == 200 and "あなたの対応待ち" in page
        status, _, page = stranger.request("/plan")
        assert "あなたの対応待ち" not in page and 'name="password"' in page
        status, _, page = second.request(
            "/login", {"login": logins["staff"], "password": "password"}
        )
        assert status == 200 and "あなたの対応待ち" in page, page[:300]
    finally:
        stop(process)


def test_a_worker_collects_garbage_less_often_and_skips_what_the_master_built(app):
    import gc

    from app.extensions import db
    from app.server import GC_THRESHOLD, KaikakuServer, freeze_what_is_built

    before = gc.get_threshold()
    try:
        server = KaikakuServer(app, {"workers": 1})
        freeze_what_is_built()
        assert gc.get_freeze_count() > 0
        # post_fork forgets the pool's connections without closing them (they belong to the
        # master): close them first, as this process is no fork.
        db.session.remove()
        db.engine.dispose()
        server.post_fork(None, None)
        assert gc.get_threshold() == GC_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
