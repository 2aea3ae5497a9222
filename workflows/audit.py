"""The audit log: append-only, hash-chained per scope ("cycle:<id>", "post:<id>", ...).

Each entry's hash covers its fields and the previous entry's hash, so an altered, removed
or reordered record breaks the chain that `verify` walks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.models import AuditEntry, Cycle, OutboxMessage, User
from app.models.bulk import record_type, rows_json
from app.outbox import enqueue_rows

from .errors import ConflictError


def cycle_scope(cycle: Cycle) -> str:
    return f"cycle:{cycle.id}"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(entry: AuditEntry) -> str:
    """The sha256 of an entry's canonical JSON (every field but id and hash)."""
    payload = {
        "scope": entry.scope,
        "seq": entry.seq,
        "cycle_id": entry.cycle_id,
        "at": _iso(entry.at),
        "actor_id": entry.actor_id,
        "on_behalf_of_id": entry.on_behalf_of_id,
        "action": entry.action,
        "from_state": entry.from_state,
        "to_state": entry.to_state,
        "comment": entry.comment or "",
        "data": entry.data or {},
        "prev_hash": entry.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# The first key of the two-key advisory locks that serialise writers of one audit scope.
AUDIT_LOCK_SPACE = 7301


def serialise(session: Session, scope: str) -> None:
    """Hold writers of the same scope one after another until the transaction ends.

    Two writers reading the same last `seq` would otherwise collide on (scope, seq). On
    PostgreSQL a transaction-level advisory lock keyed by the scope orders them; SQLite
    allows one writer at a time anyway. Taken before the caller's pending changes are
    flushed: a writer that edits the cycle takes the lock first and the cycle's row next,
    as a decision does (its facts read, then its UPDATE).
    """
    if session.get_bind().dialect.name == "postgresql":
        with session.no_autoflush:
            session.execute(
                text("SELECT pg_advisory_xact_lock(:space, hashtext(:scope))"),
                {"space": AUDIT_LOCK_SPACE, "scope": scope},
            )


def _fields(
    scope: str,
    action: str,
    now: datetime,
    actor: User | None,
    on_behalf_of: User | None,
    cycle: Cycle | None,
    from_state: str | None,
    to_state: str | None,
    comment: str,
    data: dict[str, Any] | None,
) -> dict[str, Any]:
    """An entry's own fields: all but its place in the chain (seq, prev_hash, hash)."""
    return {
        "scope": scope,
        "cycle_id": cycle.id if cycle is not None else None,
        "at": now.astimezone(UTC),
        "actor_id": actor.id if actor is not None else None,
        "on_behalf_of_id": on_behalf_of.id if on_behalf_of is not None else None,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "comment": comment or "",
        # A JSON round trip keeps the hashed value equal to what the database gives back.
        "data": json.loads(json.dumps(data or {}, ensure_ascii=False, default=str)),
    }


def record(
    session: Session,
    *,
    scope: str,
    action: str,
    now: datetime,
    actor: User | None = None,
    on_behalf_of: User | None = None,
    cycle: Cycle | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    comment: str = "",
    data: dict[str, Any] | None = None,
    serialised: bool = False,
    mails: Sequence[dict] = (),
    move: tuple[int, dict[str, Any]] | None = None,
) -> AuditEntry:
    """Append one entry to `scope`'s chain (written, not committed); a cycle's entry also
    becomes its last activity.

    `serialised` tells that the caller's transaction already holds the scope's lock
    (`lock_clause`, taken in an earlier statement). `mails` are outbox rows (`outbox_row`)
    written with the entry, a dedupe key's `SEQ` becoming the entry's seq; on PostgreSQL in
    the entry's own statement. As `enqueue_rows`, a row whose dedupe key is taken is
    skipped.

    `move` (where `one_statement`): the cycle's version as read and its new column values,
    written by the same statement as an UPDATE conditional on that version, the version
    moved on; when the version has moved meanwhile nothing is written and ConflictError is
    raised."""
    if now.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    fields = _fields(
        scope, action, now, actor, on_behalf_of, cycle, from_state, to_state, comment, data
    )
    if one_statement(session):
        if not serialised:
            serialise(session, scope)
        entry = _append(session, fields, mails, move)
    else:
        if move is not None:
            raise ValueError("a move is written with its record only where one_statement")
        last = session.execute(
            select(AuditEntry.seq, AuditEntry.hash)
            .where(AuditEntry.scope == scope)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).first()
        seq, prev_hash = (last.seq + 1, last.hash) if last else (1, "")
        entry = AuditEntry(**fields, seq=seq, prev_hash=prev_hash)
        entry.hash = entry_hash(entry)
        session.add(entry)
        session.flush()
        if mails:
            enqueue_rows(session, [_numbered(row, entry.seq) for row in mails])
    if cycle is not None:
        touch(session, cycle, entry.at)
    return entry


def one_statement(session: Session) -> bool:
    """Whether a record, its mails and its cycle's move are written in one statement
    (PostgreSQL: data-modifying WITH); elsewhere each is a statement of its own."""
    return session.get_bind().dialect.name == "postgresql"


# In a mail's dedupe key, the place of the seq of the entry written with it.
SEQ = "{seq}"


def _numbered(row: dict, seq: int) -> dict:
    key = row.get("dedupe_key")
    return {**row, "dedupe_key": key.replace(SEQ, str(seq))} if key else row


def lock_clause(scope: str | sa.ColumnElement) -> sa.FunctionElement:
    """PostgreSQL: the call that takes `scope`'s writers' lock, for a statement sent before
    the entry is written (in READ COMMITTED the write then sees the chain as it is)."""
    return sa.func.pg_advisory_xact_lock(AUDIT_LOCK_SPACE, sa.func.hashtext(scope))


def _canonical_around(fields: dict[str, Any]) -> tuple[str, str, str]:
    """`entry_hash`'s canonical JSON cut where prev_hash's and seq's values go: json.dumps
    with sort_keys and these separators writes {"key":value,...} in key order."""

    def dump(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    payload = {
        "scope": fields["scope"],
        "cycle_id": fields["cycle_id"],
        "at": _iso(fields["at"]),
        "actor_id": fields["actor_id"],
        "on_behalf_of_id": fields["on_behalf_of_id"],
        "action": fields["action"],
        "from_state": fields["from_state"],
        "to_state": fields["to_state"],
        "comment": fields["comment"] or "",
        "data": fields["data"] or {},
        "prev_hash": None,
        "seq": None,
    }
    keys = sorted(payload)
    parts = [[]]
    for key in keys:
        if key in ("prev_hash", "seq"):
            parts[-1].append(f"{dump(key)}:")
            parts.append([])
        else:
            parts[-1].append(f"{dump(key)}:{dump(payload[key])}")
    # ["...,"prev_hash":"] [] ["...","seq":"] [...] -> joined with the commas between items
    texts = []
    for n, chunk in enumerate(parts):
        lead = "," if n and chunk else ""
        texts.append(lead + ",".join(chunk))
    before = "{" + texts[0]
    middle = texts[1]
    after = texts[2] + "}"
    return before, middle, after


_APPEND = (
    "INSERT INTO audit_entry (scope, seq, cycle_id, at, actor_id, on_behalf_of_id, action, "
    "from_state, to_state, comment, data, prev_hash, hash) "
    "SELECT :scope, n.seq, :cycle_id, :at, :actor_id, :on_behalf_of_id, :action, "
    ":from_state, :to_state, :comment, :data, n.prev, "
    "encode(sha256(convert_to(:before || to_json(n.prev)::text || :middle || n.seq::text "
    "|| :after, 'UTF8')), 'hex') "
    "FROM (SELECT coalesce(l.seq, 0) + 1 AS seq, coalesce(l.hash, '') AS prev "
    "FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT seq, hash FROM audit_entry "
    "WHERE scope = :scope ORDER BY seq DESC LIMIT 1) AS l ON true) AS n "
    "RETURNING id, seq, prev_hash, hash"
)


@lru_cache(maxsize=32)
def _append_statement(
    mail_columns: tuple[str, ...], move_columns: tuple[str, ...], dialect
) -> sa.TextClause:
    """The entry's INSERT ... SELECT; with mail columns, also the outbox rows' INSERT in a
    data-modifying WITH (ON CONFLICT DO NOTHING on their dedupe keys); with move columns,
    first the cycle's UPDATE ... WHERE version = :move_from, without which (no row moved)
    the entry and the mails are not written either."""
    entry, withs = _APPEND, []
    if move_columns:
        sets = ", ".join(f'"{c}" = :move_{c}' for c in move_columns)
        withs.append(
            f"moved AS (UPDATE cycle SET {sets}, version = version + 1 "
            "WHERE id = :cycle_id AND version = :move_from RETURNING id)"
        )
        entry = entry.replace(" AS n RETURNING", " AS n, moved RETURNING")
        assert "moved RETURNING" in entry
    if mail_columns:
        outbox = OutboxMessage.__table__
        names = ", ".join(f'"{c}"' for c in mail_columns)
        values = ", ".join(
            "replace(r.dedupe_key, :seq_mark, entry.seq::text)" if c == "dedupe_key" else f'r."{c}"'
            for c in mail_columns
        )
        mail = (
            f"mail AS (INSERT INTO outbox_message ({names}) "
            f"SELECT {values} FROM entry, json_to_recordset(CAST(:mails AS json)) "
            f"AS r({record_type(outbox, mail_columns, dialect)}) ON CONFLICT DO NOTHING "
            "RETURNING 1)"
        )
    sql = entry
    if withs or mail_columns:
        withs.append(f"entry AS ({entry})")
        if mail_columns:
            withs.append(mail)
        sql = (
            "WITH " + ", ".join(withs) + " SELECT entry.id, entry.seq, entry.prev_hash, "
            "entry.hash FROM entry"
        )
    cycle = Cycle.__table__
    return sa.text(sql).bindparams(
        *(sa.bindparam(f"move_{c}", type_=cycle.c[c].type) for c in move_columns),
        *(
            sa.bindparam(c.key, type_=c.type)
            for c in AuditEntry.__table__.columns
            if c.key not in ("id", "seq", "prev_hash", "hash")
        ),
        sa.bindparam("before", type_=sa.Text),
        sa.bindparam("middle", type_=sa.Text),
        sa.bindparam("after", type_=sa.Text),
    )


def _append(
    session: Session,
    fields: dict[str, Any],
    mails: Sequence[dict],
    move: tuple[int, dict[str, Any]] | None,
) -> AuditEntry:
    """PostgreSQL, the scope's lock held: one INSERT ... SELECT reads the chain's last link,
    and hashes the entry onto it (sha256 of `entry_hash`'s canonical JSON) in the server;
    the same statement writes `mails` and the cycle's `move`."""
    before, middle, after = _canonical_around(fields)
    columns = tuple(mails[0]) if mails else ()
    if any(tuple(row) != columns for row in mails):
        raise ValueError("the mails' rows must have the same columns")
    params = {**fields, "before": before, "middle": middle, "after": after}
    if mails:
        params.update(mails=rows_json(mails), seq_mark=SEQ)
    move_columns: tuple[str, ...] = ()
    if move is not None:
        move_from, values = move
        move_columns = tuple(values)
        params.update({f"move_{c}": v for c, v in values.items()}, move_from=move_from)
    statement = _append_statement(columns, move_columns, session.get_bind().dialect)
    row = session.execute(statement, params).first()
    if row is None:
        if move is None:
            raise RuntimeError("the audit record was not written")
        raise ConflictError()  # the cycle's version moved since it was read
    entry = AuditEntry(**fields, id=row.id, seq=row.seq, prev_hash=row.prev_hash, hash=row.hash)
    # Written already: the session holds it as loaded, with no INSERT of its own to flush.
    make_transient_to_detached(entry)
    session.add(entry)
    return entry


def touch(session: Session, cycle: Cycle, at: datetime) -> None:
    """Make `at` the cycle's last activity without moving its version: a record beside
    a decision (a draft saved, an opinion) must not make a pending decision stale."""
    if cycle.last_activity_at == at:
        return  # the engine's move wrote it with the state
    table = Cycle.__table__
    session.execute(update(table).where(table.c.id == cycle.id).values(last_activity_at=at))
    set_committed_value(cycle, "last_activity_at", at)


def verify(session: Session) -> list[str]:
    """Every problem of the log: altered entries, broken links, missing records."""
    problems: list[str] = []
    scopes = session.scalars(select(AuditEntry.scope).distinct().order_by(AuditEntry.scope))
    for scope in list(scopes):
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.scope == scope).order_by(AuditEntry.seq)
        ).all()
        problems.extend(verify_chain(scope, entries))
    problems.extend(_verify_cycles(session))
    return problems


def verify_chain(scope: str, entries: list[AuditEntry]) -> list[str]:
    problems: list[str] = []
    expected_seq, prev_hash = 1, ""
    for entry in entries:
        if entry.seq != expected_seq:
            problems.append(
                f"{scope}: record #{expected_seq}"
                + (f"..#{entry.seq - 1}" if entry.seq - 1 > expected_seq else "")
                + " is missing"
            )
        elif entry.prev_hash != prev_hash:
            problems.append(f"{scope}: record #{entry.seq} does not link to the one before")
        if entry_hash(entry) != entry.hash:
            problems.append(f"{scope}: record #{entry.seq} ({entry.action}) was altered")
        expected_seq, prev_hash = entry.seq + 1, entry.hash
    return problems


def _verify_cycles(session: Session) -> list[str]:
    """A cycle's last state-changing record leads to its state; a lost tail shows here."""
    problems: list[str] = []
    last = (
        select(AuditEntry.scope, func.max(AuditEntry.seq).label("seq"))
        .where(AuditEntry.scope.like("cycle:%"), AuditEntry.to_state.is_not(None))
        .group_by(AuditEntry.scope)
        .subquery()
    )
    rows = session.execute(
        select(AuditEntry.scope, AuditEntry.to_state).join(
            last, (AuditEntry.scope == last.c.scope) & (AuditEntry.seq == last.c.seq)
        )
    ).all()
    audited = {scope: to_state for scope, to_state in rows}
    for cycle_id, state in session.execute(select(Cycle.id, Cycle.state).order_by(Cycle.id)):
        scope = f"cycle:{cycle_id}"
        # Cycles made outside the engine (imports) may have no record; those are not judged.
        if scope in audited and audited[scope] != state:
            problems.append(
                f"{scope}: the last record leads to {audited[scope]!r} but the cycle is in "
                f"{state!r} (a record is missing)"
            )
    return problems


def serialise_many(session: Session, scopes: Sequence[str]) -> None:
    """PostgreSQL: take the locks of many scopes' writers (`serialise`), in scope order so
    that two batches cannot deadlock, in one statement per chunk."""
    from app.models.bulk import chunks

    if session.get_bind().dialect.name != "postgresql":
        return
    for batch in chunks(sorted(set(scopes))):
        session.execute(
            text(
                "SELECT pg_advisory_xact_lock(:space, hashtext(s)) "
                "FROM unnest(CAST(:scopes AS text[])) AS s ORDER BY s"
            ),
            {"space": AUDIT_LOCK_SPACE, "scopes": batch},
        )


def record_many(
    session: Session, entries: list[dict[str, Any]], *, serialised: bool = False
) -> list[dict[str, Any]]:
    """Append one entry to each of many scopes' chains in a few statements.

    Each entry gives the fields of `record` by id (scope, action, at, actor_id,
    on_behalf_of_id, cycle_id, from_state, to_state, comment, data). The scopes' writers
    are serialised as `record` does (`serialise_many`, unless the caller's transaction
    already holds the locks: `serialised`); their last links are read together.
    Returns the entries as written, with seq and hash.
    """
    from app.models.bulk import chunks, insert_new

    if not entries:
        return []
    scopes = sorted({e["scope"] for e in entries})
    if len(scopes) != len(entries):
        raise ValueError("one entry per scope")
    if not serialised:
        serialise_many(session, scopes)
    heads: dict[str, tuple[int, str]] = {}
    for batch in chunks(scopes):
        last = (
            select(AuditEntry.scope, func.max(AuditEntry.seq).label("seq"))
            .where(AuditEntry.scope.in_(batch))
            .group_by(AuditEntry.scope)
            .subquery()
        )
        rows = session.execute(
            select(AuditEntry.scope, AuditEntry.seq, AuditEntry.hash).join(
                last, (AuditEntry.scope == last.c.scope) & (AuditEntry.seq == last.c.seq)
            )
        )
        heads.update({scope: (seq, digest) for scope, seq, digest in rows})
    written = []
    for values in entries:
        seq, prev_hash = heads.get(values["scope"], (0, ""))
        entry = AuditEntry(
            **{
                **values,
                "at": values["at"].astimezone(UTC),
                "comment": values.get("comment") or "",
                "data": json.loads(json.dumps(values.get("data") or {}, default=str)),
            },
            seq=seq + 1,
            prev_hash=prev_hash,
        )
        entry.hash = entry_hash(entry)
        written.append(
            {c.key: getattr(entry, c.key) for c in AuditEntry.__table__.columns if c.key != "id"}
        )
    added = insert_new(session, AuditEntry.__table__, written, (AuditEntry.__table__.c.id,))
    if len(added) != len(written):  # the locks make this impossible; never lose a record
        raise RuntimeError("an audit chain moved while its writers were serialised")
    return written
