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
