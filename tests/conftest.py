"""Fixtures shared by the whole suite: app, db, client, login_as, factories.

The database is SQLite in memory unless TEST_DB=postgres, which runs the same tests on
a throwaway PostgreSQL database. Tests marked `postgres` always get PostgreSQL through
the `pg_app` fixture. In CI (CI=true) a missing PostgreSQL server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from app.extensions import db as _db
from config import TestConfig

from .factories import Factory

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_connect():
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database made for this test run, dropped at the end."""
    try:
        conn = _pg_connect()
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        if IN_CI:
            pytest.fail(f"PostgreSQL is mandatory in CI and unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    name = f"kaikaku_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with _pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_app(tmp_path, database_url: str, **overrides):
    os.environ.setdefault("SECRET_KEY", "test-secret-key")
    env = dict(os.environ, TEST_DATABASE_URL=database_url)

    class _Config(TestConfig):
        def __init__(self, instance_path, environ=None):
            super().__init__(tmp_path / "instance", env)

    return create_app(_Config, **overrides)


def _reset_tables() -> None:
    """Empty every table, keeping the schema (PostgreSQL runs share one schema); a schema
    version stamped by an earlier test goes too, as the schema was made by create_all."""
    names = ", ".join(f'"{t.name}"' for t in _db.metadata.sorted_tables)
    _db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    _db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
    _db.session.commit()


_pg_schema_ready: set[str] = set()


def _app_on_postgres(tmp_path, url: str, **overrides):
    app = make_app(tmp_path, url, **overrides)
    with app.app_context():
        if url not in _pg_schema_ready:
            _db.drop_all()
            _db.create_all()
            _pg_schema_ready.add(url)
        else:
            _reset_tables()
    return app


@pytest.fixture
def app_overrides() -> dict:
    """Override to change app settings for a module's tests."""
    return {}


@pytest.fixture
def app(request, tmp_path, app_overrides):
    if os.environ.get("TEST_DB") == "postgres":
        url = request.getfixturevalue("pg_url")
        app = _app_on_postgres(tmp_path, url, **app_overrides)
    else:
        app = make_app(tmp_path, "sqlite://", **app_overrides)
        with app.app_context():
            _db.create_all()
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def pg_app(tmp_path, pg_url, app_overrides):
    """An app on PostgreSQL whatever TEST_DB says (for locking and concurrency tests)."""
    app = _app_on_postgres(tmp_path, pg_url, **app_overrides)
    with app.app_context():
        yield app
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def db(app):
    return _db


class Client(FlaskClient):
    """A test client that forgets the logged-in user between requests.

    The tests share one app context with their requests, so `g` (where Flask-Login keeps
    the user) would otherwise outlive a request, which a real server never does.
    """

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = Client
    return app.test_client()


@pytest.fixture
def make(app) -> Factory:
    """Factories for the organisation, items and cycles (see tests/factories.py)."""
    return Factory(_db.session)


@pytest.fixture
def login_as(client):
    """Log a user in through the real login form."""

    def _login(user, password: str = "password"):
        client.post("/logout")  # whoever was logged in before
        response = client.post("/login", data={"login": user.login, "password": password})
        assert response.status_code == 302, "login failed"
        return client

    return _login


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright, one for the whole run (one sync Playwright only).

    In CI (CI=true) a missing Chromium fails the run; elsewhere the browser tests are skipped.
    """
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is mandatory in CI and missing")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=8000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
