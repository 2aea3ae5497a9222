"""Two writers appending to one audit scope at the same moment both succeed, in order."""

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AuditEntry
from workflows import audit


@pytest.mark.postgres
def test_concurrent_writers_of_one_scope_are_chained_not_refused(pg_app):
    writers, failures, engine = 8, [], db.engine
    barrier = threading.Barrier(writers)

    def write(n: int) -> None:
        try:
            with Session(engine) as session:
                session.execute(select(1))
                barrier.wait()
                audit.record(
                    session, scope="cycle:1", action=f"save_draft_{n}", now=datetime.now(UTC)
                )
                session.commit()
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            failures.append(repr(exc))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    seqs = db.session.scalars(select(AuditEntry.seq).where(AuditEntry.scope == "cycle:1"))
    assert sorted(seqs) == list(range(1, writers + 1))
    assert audit.verify(db.session) == []


@pytest.mark.postgres
def test_the_server_hashes_each_entry_as_verify_does(pg_app):
    """On PostgreSQL the chain's last link is read and the entry hashed in the INSERT itself:
    the hash is `entry_hash` of the entry as stored, whatever its text."""
    from tests.factories import Factory

    make = Factory(db.session)
    user = make.user("hasher", name='ハッシュ "検証" \\ 𠮷')
    db.session.commit()
    texts = ["", '理由：\n改行と "引用" と \\ と 😀', "</script>\u2028\u0001"]
    written = []
    for n, comment in enumerate(texts):
        written.append(
            audit.record(
                db.session,
                scope="post:7",
                action="act",
                now=datetime(2026, 4, 1, 9, n, 30, 123456, tzinfo=UTC),
                actor=user,
                on_behalf_of=user if n == 1 else None,
                from_state="a" if n else None,
                to_state="b",
                comment=comment,
                data={"z": [1, "二"], "a": {"y": None, "x": 1.5}, "n": n},
            )
        )
    db.session.commit()
    assert [e.seq for e in written] == [1, 2, 3]
    assert written[0].prev_hash == "" and written[1].prev_hash == written[0].hash
    db.session.expire_all()
    stored = db.session.scalars(
        select(AuditEntry).where(AuditEntry.scope == "post:7").order_by(AuditEntry.seq)
    ).all()
    assert [e.hash for e in stored] == [audit.entry_hash(e) for e in stored]
    assert [e.hash for e in stored] == [e.hash for e in written]
    assert audit.verify(db.session) == []
