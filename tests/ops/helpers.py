"""Helpers for the operations tests: real processes (gunicorn, the scheduler, slapd) on loopback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KAIKAKU = [sys.executable, "-c", "from app.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    """Wait until something listens on the port; fail if the process ends first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the process ended with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nothing listens on port {port}")


def kaikaku_env(database_url: str, **extra: str) -> dict:
    """The environment of a `kaikaku` process on the given database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LDAP_", "WEB_"))}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="test-secret-key",
        PYTHONPATH=str(ROOT),
        SMTP_PORT=str(free_port()),  # nothing listens there: mail stays queued
        **extra,
    )
    return env


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class WebClient:
    """A small browser: keeps cookies, fills in the CSRF token of the last page."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.last_page = ""

    def request(self, path: str, data: dict | None = None, headers: dict | None = None):
        body = None
        if data is not None:
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.last_page)
            fields = dict(data, csrf_token=token.group(1) if token else "")
            body = urllib.parse.urlencode(fields).encode()
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            response = self.opener.open(req, timeout=30)
        except urllib.error.HTTPError as error:
            response = error
        page = response.read().decode("utf-8", "replace")
        if "text/html" in response.headers.get("Content-Type", ""):
            self.last_page = page
        return response.status, response.headers, page
