"""Set-based writes: many rows per statement, a unique key deciding which ones are new.

`insert_new` is INSERT ... ON CONFLICT DO NOTHING ... RETURNING on PostgreSQL and SQLite
alike: the rows it gives back are exactly those this call inserted, so a second caller (a
second tick, a second scheduler) racing on the same keys gets nothing back for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# Rows per statement: far below either driver's limit on bound parameters (PostgreSQL
# 65,535; SQLite 32,766) for tables of up to ~30 columns.
CHUNK = 1000
# Up to this many rows (a transition's mails) a plain multi-row VALUES is the cheaper form.
SMALL = 20


def chunks(rows: Iterable, size: int | None = None) -> Iterator[list]:
    """`rows` in lists of at most `size` (CHUNK)."""
    size = size or CHUNK
    batch: list = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def insert_new(
    session: Session,
    table: sa.Table,
    rows: Sequence[dict],
    returning: Sequence[sa.Column],
) -> list[sa.Row]:
    """Insert `rows`, skipping those whose unique key is taken; the inserted ones' columns.

    One statement compiled once and sent in batches of multi-row VALUES (SQLAlchemy's
    "insertmanyvalues"), so the number of bound parameters per statement stays within
    both drivers' limits whatever the number of rows.
    """
    if not rows:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres and len(rows) > SMALL:
        return _insert_json(session, table, rows, returning)
    module = postgresql if postgres else sqlite
    statement = module.insert(table).on_conflict_do_nothing().returning(*returning)
    found: list[sa.Row] = []
    for batch in chunks(rows, 10 * CHUNK):
        found.extend(
            session.execute(
                statement, batch, execution_options={"insertmanyvalues_page_size": CHUNK}
            ).all()
        )
    return found


def _insert_json(
    session: Session, table: sa.Table, rows: Sequence[dict], returning: Sequence[sa.Column]
) -> list[sa.Row]:
    """PostgreSQL: INSERT ... SELECT FROM json_to_recordset(one JSON parameter) -- a batch
    of rows is one JSON text that the server parses into typed records. A column the rows
    leave out gets its scalar default, as an INSERT through SQLAlchemy would give it."""
    dialect = session.get_bind().dialect
    defaults = {
        column.name: column.default.arg
        for column in table.columns
        if column.name not in rows[0] and column.default is not None and column.default.is_scalar
    }
    columns = [*rows[0], *defaults]
    names = ", ".join(f'"{name}"' for name in columns)
    typed = _typed(table, columns, dialect)
    statement = sa.text(
        f'INSERT INTO "{table.name}" ({names}) SELECT {names} '
        f"FROM json_to_recordset(CAST(:rows AS json)) AS r({typed}) "
        f"ON CONFLICT DO NOTHING RETURNING {', '.join(f'{c.name}' for c in returning)}"
    ).columns(*returning)
    found: list[sa.Row] = []
    for batch in chunks(rows, 10 * CHUNK):
        payload = json.dumps(
            [{name: row.get(name, defaults.get(name)) for name in columns} for row in batch],
            ensure_ascii=False,
            default=_plain,
        )
        found.extend(session.execute(statement, {"rows": payload}).all())
    return found


def insert_new_with_children(
    session: Session,
    table: sa.Table,
    rows: list[dict],
    returning: Sequence[sa.Column],
    children: sa.Table,
    child_rows: list[dict | None],
    link: str,
) -> list[sa.Row]:
    """`insert_new` for `rows`, each pointing (`link`) at its row of `child_rows` (or at
    none), and the children of exactly the rows inserted, in one statement per batch
    (PostgreSQL only: the children's ids are drawn beforehand, and the foreign key holds at
    the end of the statement)."""
    if not rows:
        return []
    dialect = session.get_bind().dialect
    sequence = f"{children.name}_id_seq"
    ids = list(
        session.scalars(
            sa.text(f"SELECT nextval('{sequence}') FROM generate_series(1, :n)"),
            {"n": sum(1 for c in child_rows if c is not None)},
        )
    )
    drawn = iter(ids)
    for row, child in zip(rows, child_rows, strict=True):
        if child is not None:
            child["id"] = row[link] = next(drawn)
        else:
            row[link] = None

    names = list(rows[0])
    child_names = list(next(c for c in child_rows if c is not None)) if ids else []
    columns = ", ".join(f'"{n}"' for n in names)
    out = ", ".join(c.name for c in returning)
    parts = [
        f'WITH parent AS (INSERT INTO "{table.name}" ({columns}) SELECT {columns} '
        f"FROM json_to_recordset(CAST(:rows AS json)) AS r({_typed(table, names, dialect)}) "
        f'ON CONFLICT DO NOTHING RETURNING {out}, "{link}")'
    ]
    if child_names:
        child_columns = ", ".join(f'"{n}"' for n in child_names)
        record = _typed(children, child_names, dialect)
        parts.append(
            f', child AS (INSERT INTO "{children.name}" ({child_columns}) SELECT {child_columns} '
            f"FROM json_to_recordset(CAST(:children AS json)) AS c({record}) "
            f'WHERE c.id IN (SELECT "{link}" FROM parent) RETURNING id)'
        )
    parts.append(f" SELECT {out} FROM parent")
    statement = sa.text("".join(parts)).columns(*returning)
    found: list[sa.Row] = []
    pairs = list(zip(rows, child_rows, strict=True))
    for batch in chunks(pairs, 10 * CHUNK):
        params = {
            "rows": json.dumps([r for r, _c in batch], ensure_ascii=False, default=_plain),
            "children": json.dumps(
                [c for _r, c in batch if c is not None], ensure_ascii=False, default=_plain
            ),
        }
        found.extend(session.execute(statement, params).all())
    return found


def rows_json(rows: Sequence[dict]) -> str:
    """Rows as the one JSON text that `json_to_recordset` reads (PostgreSQL)."""
    return json.dumps(list(rows), ensure_ascii=False, default=_plain)


def record_type(table: sa.Table, names: Sequence[str], dialect) -> str:
    """`json_to_recordset`'s record type for `names` of `table`."""
    return _typed(table, list(names), dialect)


def _typed(table: sa.Table, names: list[str], dialect) -> str:
    """The record type of `json_to_recordset`: each column with its SQL type."""
    return ", ".join(f'"{n}" {table.c[n].type.compile(dialect=dialect)}' for n in names)


def _plain(value):
    """JSON for what `json` does not know: times (ISO, with their offset), amounts."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {value!r} as JSON")


def set_column(
    session: Session, table: sa.Table, column: str, values: dict[int, object], *, key: str = "id"
) -> None:
    """UPDATE table SET column = values[key] for every key given (one statement per chunk)."""
    if not values:
        return
    target, ident = table.c[column], table.c[key]
    if session.get_bind().dialect.name == "postgresql":
        plain = sa.String() if isinstance(target.type, sa.Enum) else target.type
        element = postgresql.ARRAY(plain)
        for batch in chunks(list(values.items()), 10 * CHUNK):
            keys = sa.bindparam("keys", [k for k, _ in batch], type_=postgresql.ARRAY(ident.type))
            new = sa.bindparam("new", [v for _, v in batch], type_=element)
            pairs = sa.func.unnest(keys, new).table_valued("k", "v").render_derived()
            session.execute(sa.update(table).where(ident == pairs.c.k).values({column: pairs.c.v}))
        return
    statement = (
        sa.update(table)
        .where(ident == sa.bindparam("_key"))
        .values({column: sa.bindparam("_value")})
    )
    session.execute(statement, [{"_key": k, "_value": v} for k, v in values.items()])
