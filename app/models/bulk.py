"""Set-based writes: many rows per statement, a unique key deciding which ones are new.

`insert_new` is INSERT ... ON CONFLICT DO NOTHING ... RETURNING on PostgreSQL and SQLite
alike: the rows it gives back are exactly those this call inserted, so a second caller (a
second tick, a second scheduler) racing on the same keys gets nothing back for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence

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
        return _insert_unnest(session, table, rows, returning)
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


def _insert_unnest(
    session: Session, table: sa.Table, rows: Sequence[dict], returning: Sequence[sa.Column]
) -> list[sa.Row]:
    """PostgreSQL: INSERT ... SELECT FROM unnest(one array per column) -- a handful of
    parameters per statement however many rows, and a short statement the driver caches."""
    columns = list(rows[0])
    found: list[sa.Row] = []
    for batch in chunks(rows, 10 * CHUNK):
        arrays = []
        for name in columns:
            kind = table.c[name].type
            values = [row[name] for row in batch]
            if isinstance(kind, sa.JSON):
                values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
                element = sa.Text()
            elif isinstance(kind, sa.Enum):
                values = [None if v is None else getattr(v, "value", v) for v in values]
                element = sa.String()
            else:
                element = kind
            arrays.append(sa.bindparam(f"c_{name}", values, type_=postgresql.ARRAY(element)))
        source = sa.func.unnest(*arrays).table_valued(*columns).render_derived()
        select_columns = [
            sa.cast(source.c[name], table.c[name].type)
            if isinstance(table.c[name].type, sa.JSON)
            else source.c[name]
            for name in columns
        ]
        statement = (
            postgresql.insert(table)
            .from_select(columns, sa.select(*select_columns))
            .on_conflict_do_nothing()
            .returning(*returning)
        )
        found.extend(session.execute(statement).all())
    return found


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
