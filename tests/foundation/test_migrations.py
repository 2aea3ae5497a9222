"""Migrations: one head; up, down and up again; no drift from the models; on both databases."""

import uuid

import pytest
from alembic.script import ScriptDirectory
from flask_migrate import check, downgrade, upgrade
from sqlalchemy import inspect

from app.extensions import db
from tests.conftest import _pg_connect, make_app

MIGRATIONS = "migrations"


def test_there_is_exactly_one_head(app):
    script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config(MIGRATIONS))
    assert len(script.get_heads()) == 1, script.get_heads()


def _round_trip(app):
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        tables = set(inspect(db.engine).get_table_names())
        assert {"cycle", "audit_entry", "outbox_message", "post_assignment"} <= tables
        check(directory=MIGRATIONS)  # raises when the models and migrations differ
        downgrade(directory=MIGRATIONS, revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(directory=MIGRATIONS)
        assert set(inspect(db.engine).get_table_names()) == tables
        db.engine.dispose()


def test_sqlite_upgrade_downgrade_upgrade_without_drift(tmp_path):
    _round_trip(make_app(tmp_path, f"sqlite:///{tmp_path / 'm.db'}"))


@pytest.mark.postgres
def test_postgres_upgrade_downgrade_upgrade_without_drift(tmp_path, pg_url):
    name = f"kaikaku_migrations_{uuid.uuid4().hex[:8]}"
    with _pg_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        _round_trip(make_app(tmp_path, pg_url.rsplit("/", 1)[0] + f"/{name}"))
    finally:
        with _pg_connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
