"""Operations: `kaikaku backup`, `restore`, `db copy` (see app/backup.py), `create-admin`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from workflows import audit

from .backup import (
    BackupError,
    backup,
    copy_tables,
    database_url,
    refuse_unless_empty,
    restore,
    row_counts,
    snapshot,
)
from .extensions import db
from .health import migration_heads

MIN_ADMIN_PASSWORD = 12


def _fail(message: str) -> None:
    click.echo(f"kaikaku: {message}", err=True)
    sys.exit(1)


def _schema_version(app: Flask) -> set[str]:
    try:
        return set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError:
        db.session.rollback()
        return set()


def _check_restored(app: Flask, counts: dict[str, int], expected: dict | None = None) -> bool:
    """Print the rows per table and the audit verdict; False when something is wrong."""
    ok = True
    width = max(len(name) for name in counts)
    for name, count in counts.items():
        line = f"  {name:<{width}} {count:>8}"
        if expected is not None:
            line += f"  (source {expected.get(name, 0)})"
            ok = ok and expected.get(name, 0) == count
        click.echo(line)
    problems = audit.verify(db.session)
    for problem in problems:
        click.echo(f"audit: {problem}", err=True)
    click.echo("audit log OK" if not problems else f"audit log: {len(problems)} problem(s)")
    heads = migration_heads(app.config["MIGRATIONS_DIR"])
    version = _schema_version(app)
    if version != heads:
        click.echo(
            f"schema version {', '.join(sorted(version)) or 'none'}; this code expects "
            f"{', '.join(sorted(heads))}: run kaikaku db upgrade"
        )
    return ok and not problems


@click.command("backup")
@with_appcontext
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def backup_command(out: Path) -> None:
    """Write a consistent backup of the database (safe while the app runs)."""
    try:
        kind = backup(db.engine, out)
    except BackupError as exc:
        _fail(f"backup failed: {exc}")
    label = "SQLite database" if kind == "sqlite" else "pg_dump custom format"
    click.echo(f"backup written: {out} ({out.stat().st_size} bytes, {label})")


@click.command("restore")
@with_appcontext
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
def restore_command(source: Path) -> None:
    """Restore a backup into this (empty) database, then verify and count it."""
    app = current_app._get_current_object()
    try:
        restore(db.engine, source)
    except BackupError as exc:
        _fail(str(exc))
    db.session.remove()
    click.echo(f"restored {source}; rows per table:")
    if not _check_restored(app, row_counts(db.engine)):
        sys.exit(1)


@click.command("copy")
@with_appcontext
@click.option("--to", "target", required=True, help="The new database, e.g. postgresql://…")
def copy_command(target: str) -> None:
    """Copy everything into a new, empty database (SQLite → PostgreSQL)."""
    from config import Config, ConfigError

    from . import create_app
    from .cli import check_database

    app = current_app._get_current_object()
    source = db.engine
    heads = migration_heads(app.config["MIGRATIONS_DIR"])
    if _schema_version(app) != heads:
        _fail("copy refused: upgrade the source database first (kaikaku db upgrade)")
    try:
        url = database_url(target)
        target_app = create_app(Config, SQLALCHEMY_DATABASE_URI=url)
        check_database(target_app)
    except (BackupError, ConfigError) as exc:
        _fail(f"copy refused: {exc}")
    with target_app.app_context():
        try:
            ok = _copy_into(target_app, source, url)
        finally:
            db.session.remove()
            db.engine.dispose()
    if not ok:
        sys.exit(1)


def _copy_into(target_app: Flask, source, url) -> bool:
    """Migrate the empty target, copy the source's snapshot into it, check and count it."""
    try:
        refuse_unless_empty(db.engine, "copy")
    except BackupError as exc:
        _fail(str(exc))
    try:
        upgrade(directory=target_app.config["MIGRATIONS_DIR"])
        with snapshot(source) as frozen:
            expected = row_counts(frozen)
            copy_tables(frozen, db.engine)
    except (BackupError, SQLAlchemyError) as exc:
        _fail(f"copy failed, no rows were copied: {str(exc).splitlines()[0]}")
    click.echo(f"copied into {url.render_as_string(hide_password=True)}; rows per table:")
    return _check_restored(target_app, row_counts(db.engine), expected)


@click.command("create-admin")
@with_appcontext
@click.argument("login")
@click.option("--name", required=True, help="The name shown in the app, e.g. 情報 太郎.")
@click.option("--email", required=True)
@click.password_option(help="Asked for (twice) when not given.")
def create_admin_command(login: str, name: str, email: str, password: str) -> None:
    """Create a local administrator (the first account of a new installation)."""
    from .models import Role, User, UserRole

    if len(password) < MIN_ADMIN_PASSWORD:
        _fail(f"the password needs at least {MIN_ADMIN_PASSWORD} characters; nothing was created")
    if db.session.scalar(select(User).where(User.login == login)) is not None:
        _fail(f"the login ID {login!r} is already taken; nothing was created")
    user = User(login=login, name=name, email=email, roles=[UserRole(role=Role.ADMIN)])
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"administrator {login} created; sign in at /login")


def register(app: Flask) -> None:
    app.cli.add_command(create_admin_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    # Beside Flask-Migrate's `db upgrade`, `db downgrade`, ...
    app.cli.commands["db"].add_command(copy_command)
