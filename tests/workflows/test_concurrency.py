"""Twenty people decide on the same submission at once, each on their own connection."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Cycle, OutboxMessage, User
from tests.factories import Factory
from tests.locks import waits_for_a_lock
from workflows import operations as ops
from workflows.errors import ConflictError

from .conftest import NOW

THREADS = 20


@pytest.fixture
def app_overrides():
    # Every thread holds its own connection while it waits at the barrier.
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS + 5, "max_overflow": 5}}


def _submitted_plan(make: Factory) -> tuple[int, list[int]]:
    org = make.org("企画")
    deputy = make.deputy(org, "deputy")
    ops.register_substitute(
        org.head_post,
        substitute=deputy,
        starts_on=date(2026, 5, 1),
        ends_on=date(2026, 5, 31),
        by=org.head,
        now=NOW,
    )
    cycle = ops.open_cycle(make.item(org), 2026, now=NOW)
    cycle.goal = "目標"
    ops.submit(cycle, by=org.staff, now=NOW)
    db.session.commit()
    return cycle.id, [org.head.id, deputy.id]


def _race(pg_app, cycle_id: int, decider_ids: list[int], act) -> tuple[list[str], list[str]]:
    """THREADS people, each on their own connection, load the cycle, meet at a barrier and
    `act(n, cycle, user)` at once, then commit. Their outcomes ("won", "conflict" or the
    error) and the conflicts' messages."""
    barrier = threading.Barrier(THREADS, timeout=30)
    results: list[str] = []
    messages: list[str] = []
    lock = threading.Lock()

    def decide(n: int) -> None:
        message = None
        with pg_app.app_context():
            try:
                cycle = db.session.get(Cycle, cycle_id)
                user = db.session.get(User, decider_ids[n % 2])
                barrier.wait()
                try:
                    act(n, cycle, user)
                    db.session.commit()
                    outcome = "won"
                except ConflictError as exc:
                    db.session.rollback()
                    outcome, message = "conflict", exc.message
            except Exception as exc:  # noqa: BLE001 - reported by the callers' assertions
                db.session.rollback()
                outcome = f"error: {exc!r}"
            finally:
                db.session.remove()
        with lock:
            results.append(outcome)
            if message is not None:
                messages.append(message)

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, messages


@pytest.mark.postgres
def test_exactly_one_of_twenty_concurrent_decisions_wins(pg_app):
    cycle_id, decider_ids = _submitted_plan(Factory(db.session))
    expected = db.session.get(Cycle, cycle_id).version
    db.session.remove()

    def act(n: int, cycle: Cycle, user: User) -> None:
        if n % 3 == 0:
            ops.send_back(cycle, by=user, now=NOW, reason=f"差戻し{n}", expected_version=expected)
        else:
            ops.approve(cycle, by=user, now=NOW, expected_version=expected)

    results, messages = _race(pg_app, cycle_id, decider_ids, act)

    assert sorted(results) == ["conflict"] * (THREADS - 1) + ["won"], results
    assert all(m.startswith("他の人が先に判断しました") for m in messages), messages
    cycle = db.session.get(Cycle, cycle_id)
    assert cycle.state in ("doing", "plan_draft")
    assert cycle.version == expected + 1
    decisions = db.session.scalar(
        select(func.count(AuditEntry.id)).where(
            AuditEntry.cycle_id == cycle_id,
            AuditEntry.action.in_(["approve_plan", "send_back_plan"]),
        )
    )
    assert decisions == 1
    author_mails = db.session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.kind.in_(["transition_approved", "transition_sent_back"])
        )
    )
    assert author_mails == 1


@pytest.mark.postgres
def test_a_conflict_inside_a_savepoint_leaves_the_cycle_as_stored(pg_app):
    """A bulk approval fires each decision in a savepoint: after a conflict the cycle shows
    what the database holds, not the move that was refused."""
    cycle_id, (head_id, deputy_id) = _submitted_plan(Factory(db.session))
    db.session.remove()
    first = db.session.get(Cycle, cycle_id)
    read = first.version
    with pg_app.app_context():
        other = db.session.get(Cycle, cycle_id)
        ops.send_back(other, by=db.session.get(User, deputy_id), now=NOW, reason="再考")
        db.session.commit()
        db.session.remove()
    with pytest.raises(ConflictError), db.session.begin_nested():
        ops.approve(first, by=db.session.get(User, head_id), now=NOW)
    assert (first.state, first.version) == ("plan_draft", read + 1)
    db.session.rollback()


@pytest.mark.postgres
def test_a_decision_on_an_already_loaded_stale_cycle_is_a_conflict_without_expected_version(
    pg_app,
):
    """Two sessions hold the same cycle; the second writer gets ConflictError (StaleDataError)."""
    cycle_id, (head_id, deputy_id) = _submitted_plan(Factory(db.session))
    db.session.remove()
    first = db.session.get(Cycle, cycle_id)
    with pg_app.app_context():
        other = db.session.get(Cycle, cycle_id)
        ops.approve(other, by=db.session.get(User, deputy_id), now=NOW)
        db.session.commit()
        db.session.remove()
    with pytest.raises(ConflictError):
        ops.send_back(first, by=db.session.get(User, head_id), now=NOW, reason="再考")
    db.session.rollback()
    assert db.session.get(Cycle, cycle_id).state == "doing"


@pytest.mark.postgres
def test_single_decisions_racing_bulk_approvals_conflict_without_deadlock(pg_app):
    """A decision takes the cycle's audit lock before its row, and so does a bulk approval:
    racing on one cycle, one wins and every other meets a changed version."""
    from workflows import batch

    cycle_id, decider_ids = _submitted_plan(Factory(db.session))
    expected = db.session.get(Cycle, cycle_id).version
    db.session.remove()

    def act(n: int, cycle: Cycle, user: User) -> None:
        if n % 2:
            _approved, refused = batch.approve_many(
                db.session, {cycle_id: expected}, by=user, now=NOW
            )
            if refused:
                raise refused[0][1]
        else:
            ops.approve(cycle, by=user, now=NOW, expected_version=expected)

    results, _messages = _race(pg_app, cycle_id, decider_ids, act)

    assert sorted(results) == ["conflict"] * (THREADS - 1) + ["won"], results
    assert db.session.get(Cycle, cycle_id).version == expected + 1
    from workflows import audit

    assert audit.verify(db.session) == []


def _on_its_own(pg_app, work, outcome: list):
    """A thread's target: `work(session)` on a connection of its own, then committed; what
    it returned, or the error it raised, is appended to `outcome`."""

    def run() -> None:
        with pg_app.app_context():
            try:
                outcome.append(work(db.session))
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
                db.session.rollback()
                outcome.append(repr(exc))
            finally:
                db.session.remove()

    return run


@pytest.mark.postgres
def test_a_bulk_approval_waits_for_the_audit_lock_before_taking_the_cycles_row(pg_app):
    """Step by step: a decision holding the cycle's audit lock (its facts read) can still
    write the cycle's row while a bulk approval of the same cycle waits."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from workflows import audit, batch

    cycle_id, decider_ids = _submitted_plan(Factory(db.session))
    expected = db.session.get(Cycle, cycle_id).version
    db.session.remove()
    outcome: list[str] = []

    def bulk(session) -> str:
        head = session.get(User, decider_ids[0])
        approved, refused = batch.approve_many(session, {cycle_id: expected}, by=head, now=NOW)
        return "won" if approved else type(refused[0][1]).__name__

    with Session(db.engine) as decision:
        decision.execute(select(audit.lock_clause(f"cycle:{cycle_id}")))
        thread = threading.Thread(target=_on_its_own(pg_app, bulk, outcome))
        thread.start()
        assert waits_for_a_lock(db.engine, thread)  # the bulk approval waits for the lock
        decision.execute(text("SET LOCAL lock_timeout = '5s'"))
        moved = decision.execute(
            text("UPDATE cycle SET version = version + 1 WHERE id = :id AND version = :v"),
            {"id": cycle_id, "v": expected},
        ).rowcount
        decision.commit()
    thread.join(timeout=30)
    assert moved == 1
    assert outcome == ["ConflictError"]


def _open_by_rollover(session) -> int:
    return len(ops.open_next_cycles(session, 2026, now=NOW))


def _open_one(session) -> int:
    from app.models import ReformItem

    item = session.scalars(select(ReformItem)).one()
    return len([ops.open_cycle(item, 2026, now=NOW)])


@pytest.mark.postgres
@pytest.mark.parametrize("open_year", [_open_by_rollover, _open_one], ids=["rollover", "one"])
def test_a_cycle_opened_while_an_import_moves_the_item_follows_the_move(pg_app, open_year):
    """An item's cycle is opened (by the 1 April rollover, or one by one as approving the
    year's Act does) while an import has moved the item to another section but not yet
    committed. The new cycle must not keep the old section: the import's own update of
    the item's cycles, made before the cycle existed, cannot correct it."""
    from sqlalchemy.orm import Session

    from app.models import ReformItem

    make = Factory(db.session)
    here, there = make.org("企画"), make.org("公園")
    item_id, there_id = make.item(here).id, there.section.id
    db.session.commit()
    db.session.remove()
    opened: list[object] = []

    with Session(db.engine) as importer:
        importer.get(ReformItem, item_id).owning_section_id = there_id
        importer.flush()  # the item row is updated, its (still absent) cycles too
        thread = threading.Thread(target=_on_its_own(pg_app, open_year, opened))
        thread.start()
        waited = waits_for_a_lock(db.engine, thread)  # the opening waits for the import to end
        importer.commit()
    thread.join(timeout=30)
    assert waited, "the cycle was opened without waiting for the import"
    assert opened == [1]
    stored = db.session.scalars(select(Cycle.owning_section_id).where(Cycle.item_id == item_id))
    assert stored.all() == [there_id]


@pytest.mark.postgres
@pytest.mark.parametrize("open_year", [_open_by_rollover, _open_one], ids=["rollover", "one"])
def test_an_import_moving_an_item_whose_cycle_is_being_opened_moves_that_cycle_too(
    pg_app, open_year
):
    """The other order: the cycle is opened, not yet committed, when an import moves the
    item. The import waits for the opening, then moves the new cycle with the others."""
    from sqlalchemy.orm import Session

    from app.models import ReformItem

    make = Factory(db.session)
    here, there = make.org("企画"), make.org("公園")
    item_id, there_id = make.item(here).id, there.section.id
    db.session.commit()
    engine = db.engine
    outcome: list[str] = []

    def importer() -> None:
        try:
            with Session(engine) as session:
                session.get(ReformItem, item_id).owning_section_id = there_id
                session.commit()
            outcome.append("moved")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome.append(repr(exc))

    assert open_year(db.session) == 1  # the new cycle is flushed, not committed
    thread = threading.Thread(target=importer)
    thread.start()
    waited = waits_for_a_lock(db.engine, thread)
    db.session.commit()
    thread.join(timeout=30)
    assert waited, "the import did not wait for the opening"
    assert outcome == ["moved"]
    db.session.expire_all()
    stored = db.session.scalars(select(Cycle.owning_section_id).where(Cycle.item_id == item_id))
    assert stored.all() == [there_id]
