"""The `kaikaku` command: Flask's CLI with clear one-line errors for bad configuration."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from config import ConfigError

from .extensions import db


def check_database(app: Flask) -> None:
    """Raise ConfigError with one line when the database cannot be reached or written."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    url = make_url(uri)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        folder = os.path.dirname(os.path.abspath(url.database)) or "."
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the database folder {folder} ({exc.strerror})"
            ) from exc
        if not os.access(folder, os.W_OK):
            raise ConfigError(f"no write access to the database folder {folder}")
    try:
        with app.app_context(), db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        safe = url.render_as_string(hide_password=True)
        raise ConfigError(f"cannot connect to the database {safe}: {reason}") from exc


MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Commands that work on a database that is not (yet) at the newest revision (a restore
# goes into an empty database).
WITHOUT_SCHEMA = ("--help", "-h", "routes", "shell", "db", "restore")


class NotMigrated(Exception):
    """The database's schema is not the one the code expects."""


def check_migrated(app: Flask) -> None:
    """Raise NotMigrated with one line when the database is behind (or before) the migrations."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
    with app.app_context(), db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if not current:
        raise NotMigrated("the database is not migrated: run kaikaku db upgrade")
    if current != heads:
        raise NotMigrated(
            f"the database is at revision {', '.join(sorted(current))}, the code needs "
            f"{', '.join(sorted(heads))}: run kaikaku db upgrade"
        )


def register_commands(app: Flask) -> None:
    from notifications.cli import register as register_notification_commands

    from .demo import demo_cli
    from .ops_cli import register as register_ops_commands
    from .reports.cli import report_cli
    from .server import serve_command

    app.cli.add_command(demo_cli)
    app.cli.add_command(report_cli)
    app.cli.add_command(serve_command)
    register_ops_commands(app)
    register_notification_commands(app)

    @app.cli.command("check")
    def check_command() -> None:
        """Check that the configuration and the database work."""
        check_database(app)
        try:
            check_migrated(app)
        except NotMigrated as exc:
            raise click.ClickException(str(exc)) from None
        click.echo("configuration OK")


def main(argv: list[str] | None = None) -> None:
    """Entry point of `kaikaku`; configuration problems end with one line, exit code 2."""
    from . import create_app

    args = sys.argv[1:] if argv is None else argv
    try:
        app = create_app()
        if args and args[0] not in WITHOUT_SCHEMA:
            check_database(app)
            check_migrated(app)
    except ConfigError as exc:
        click.echo(f"kaikaku: configuration error: {exc}", err=True)
        sys.exit(2)
    except NotMigrated as exc:
        click.echo(f"kaikaku: {exc}", err=True)
        sys.exit(2)
    cli = FlaskGroup(create_app=lambda: app, add_default_commands=True, load_dotenv=False)
    cli.main(args=args, prog_name="kaikaku")
