"""Backups, restores and the move from SQLite to PostgreSQL.

- A SQLite database is copied with SQLite's online backup API: one consistent snapshot,
  taken while the web server and the scheduler keep working.
- A PostgreSQL database is saved with `pg_dump --format=custom` (one transaction, so also
  consistent) by the client tools of the server's major version, and restored with
  `pg_restore` in a single transaction.
- A restore goes only into an empty database; afterwards the audit log's chains are
  verified and the rows of every table counted.
- `db copy` writes every table, in foreign-key order, into a new (PostgreSQL) database
  whose schema the migrations made, then moves the sequences past the copied ids.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, insert, inspect, select, text
from sqlalchemy.engine import URL, make_url

from .extensions import db

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
BATCH = 1000


class BackupError(Exception):
    """A backup, restore or copy that cannot be done; the message is one line."""


def sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database).resolve()


def read_only(path: Path) -> str:
    """A SQLite URI that opens the file for reading only (any character in the path)."""
    return f"{path.as_uri()}?mode=ro"


def file_kind(path: Path) -> str:
    """ "sqlite" or "postgresql", from the first bytes of a backup file."""
    with open(path, "rb") as source:
        head = source.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is neither a SQLite database nor a pg_dump custom-format file")


# --------------------------------------------------------------------------- counting


def table_names(engine: Engine) -> list[str]:
    """The application's tables in foreign-key order, then any other table found."""
    known = [table.name for table in db.metadata.sorted_tables]
    present = set(inspect(engine).get_table_names())
    return [name for name in known if name in present] + sorted(present - set(known))


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table (the schema version table included)."""
    counts = {}
    with engine.connect() as conn:
        for name in table_names(engine):
            counts[name] = conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
    return counts


# Tables the migrations fill in themselves (the default post kinds): a freshly migrated
# database counts as empty, and a copy replaces their rows with the source's.
SEEDED = ("alembic_version", "post_kind")


def refuse_unless_empty(engine: Engine, what: str) -> None:
    """Raise BackupError when any table of the target holds rows of its own."""
    filled = {name: n for name, n in row_counts(engine).items() if n and name not in SEEDED}
    if filled:
        sample = ", ".join(f"{name} {n}" for name, n in list(filled.items())[:3])
        raise BackupError(
            f"{what} refused: the target database is not empty ({sample} rows…); "
            "use a new, empty database"
        )


# --------------------------------------------------------------------------- PostgreSQL tools


def libpq(url: URL) -> tuple[str, dict]:
    """A libpq connection string without the password, and the environment carrying it."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def server_major(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def pg_tool(name: str, major: int) -> str:
    """The path of pg_dump/pg_restore of at least the server's major version."""
    candidates = [f"/usr/lib/postgresql/{major}/bin/{name}", shutil.which(name)]
    for candidate in candidates:
        if not candidate or not os.access(candidate, os.X_OK):
            continue
        version = subprocess.run(
            [candidate, "--version"], capture_output=True, text=True, check=False
        ).stdout
        found = re.search(r"(\d+)(?:\.\d+)?", version)
        if found and int(found.group(1)) >= major:
            return candidate
    raise BackupError(
        f"{name} of PostgreSQL {major} or later is needed "
        f"(apt-get install postgresql-client-{major})"
    )


def _run(command: list[str], env: dict) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: {lines[-1] if lines else 'no output'}")


# --------------------------------------------------------------------------- backup


def backup(engine: Engine, out: Path) -> str:
    """Write a consistent backup of the database to `out`; returns its kind."""
    if out.exists():
        raise BackupError(f"{out} already exists; name a new file")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        if engine.dialect.name == "sqlite":
            source = sqlite3.connect(read_only(sqlite_path(engine.url)), uri=True)
            target = sqlite3.connect(partial)
            try:
                source.backup(target)  # one step: a snapshot even while others write
            finally:
                target.close()
                source.close()
            kind = "sqlite"
        elif engine.dialect.name == "postgresql":
            conninfo, env = libpq(engine.url)
            tool = pg_tool("pg_dump", server_major(engine))
            _run([tool, "--format=custom", "--file", str(partial), "--dbname", conninfo], env)
            kind = "postgresql"
        else:
            raise BackupError(f"no backup for {engine.dialect.name} databases")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return kind


# --------------------------------------------------------------------------- restore


def restore(engine: Engine, source: Path) -> None:
    """Restore the backup file into the (empty) database of `engine`."""
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    kind = file_kind(source)
    if kind != engine.dialect.name:
        hint = " (move it with: kaikaku db copy --to URL)" if kind == "sqlite" else ""
        raise BackupError(
            f"a {kind} backup cannot be restored into a {engine.dialect.name} database{hint}"
        )
    refuse_unless_empty(engine, "restore")
    engine.dispose()
    if kind == "sqlite":
        target = sqlite3.connect(sqlite_path(engine.url))
        backup_file = sqlite3.connect(read_only(source.resolve()), uri=True)
        try:
            backup_file.backup(target)
        finally:
            backup_file.close()
            target.close()
        return
    conninfo, env = libpq(engine.url)
    tool = pg_tool("pg_restore", server_major(engine))
    command = [tool, "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction"]
    if inspect(engine).get_table_names():
        command += ["--clean", "--if-exists"]  # empty tables of a migrated database
    _run([*command, "--dbname", conninfo, str(source)], env)
    engine.dispose()


# --------------------------------------------------------------------------- copy


@contextmanager
def snapshot(engine: Engine) -> Iterator[Engine]:
    """A SQLite source read from a backup taken now (others may write meanwhile)."""
    if engine.dialect.name != "sqlite":
        yield engine
        return
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "snapshot.db"
        backup(engine, copy)
        frozen = create_engine(f"sqlite:///{copy}")
        try:
            yield frozen
        finally:
            frozen.dispose()


def copy_tables(source: Engine, target: Engine) -> dict[str, int]:
    """Copy every application table's rows, in foreign-key order, in one transaction."""
    copied = {}
    with source.connect() as reader, target.begin() as writer:
        for name in SEEDED:
            if name in db.metadata.tables:
                writer.execute(db.metadata.tables[name].delete())
        for table in db.metadata.sorted_tables:
            rows = reader.execute(select(table)).mappings()
            copied[table.name] = 0
            while batch := [dict(row) for row in rows.fetchmany(BATCH)]:
                writer.execute(insert(table), batch)
                copied[table.name] += len(batch)
        if target.dialect.name == "postgresql":
            reset_sequences(writer)
    return copied


def reset_sequences(conn) -> None:
    """Move each id sequence past the highest copied id, so new rows get fresh ids."""
    for table in db.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not pk[0].autoincrement or pk[0].type.python_type is not int:
            continue
        sequence = conn.execute(
            select(func.pg_get_serial_sequence(f'"{table.name}"', pk[0].name))
        ).scalar()
        if sequence:
            highest = conn.execute(select(func.max(pk[0]))).scalar()
            conn.execute(select(func.setval(sequence, highest or 1, highest is not None)))


def database_url(value: str) -> URL:
    try:
        url = make_url(value)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the same mistake
        raise BackupError(f"not a database URL: {value!r}") from exc
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url
