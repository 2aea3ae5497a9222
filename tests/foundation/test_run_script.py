"""`make run` with a port already taken stops with one line naming the setting to change."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess:
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv (make install makes it)")
    return subprocess.run(
        ["bash", "scripts/run.sh", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
    )


def test_a_taken_web_port_names_make_run_port(taken_port):
    result = run_script("127.0.0.1", str(taken_port))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"kaikaku: port {taken_port} on 127.0.0.1 is in use: choose another web port, "
        f"e.g. make run PORT={taken_port + 1}"
    )


def test_a_taken_mail_port_stops_the_run_instead_of_going_on_without_mail(taken_port):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    result = run_script("127.0.0.1", str(free), SMTP_PORT=str(taken_port), MAIL_CATCHER="1")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"SMTP_PORT={taken_port + 1}" in lines[0], result.stderr
    assert "Traceback" not in result.stderr and "Kaikaku:" not in result.stdout


def test_the_catcher_command_says_it_in_one_line(app, taken_port):
    result = app.test_cli_runner().invoke(args=["mail", "catcher", "--port", str(taken_port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{taken_port} (in use)" in result.output
    assert "Traceback" not in result.output
