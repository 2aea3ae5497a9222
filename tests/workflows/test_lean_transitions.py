"""A transition costs a few statements, whatever the size of the organisation and the log."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import event, select

from app.extensions import db as _db
from app.models import AuditEntry, Cycle, OutboxMessage, ReformItem
from tests.factories import Factory
from tests.secretariat.helpers import bulk_cycles
from workflows import operations

NOW = datetime(2026, 4, 10, 1, tzinfo=UTC)


@contextmanager
def statements(engine):
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def _world(session, others: int):
    """One department whose item we move, among `others` items of other departments."""
    make = Factory(session)
    plan = make.plan()
    org = make.org("企画")
    for n in range(3):
        crowd = make.org(f"他{n}")
        bulk_cycles(
            session,
            crowd.section.id,
            others,
            fiscal_year=2026,
            plan_id=plan.id,
            viewpoint_id=plan.outline.viewpoints[0].id,
        )
    item = make.item(org, number="1-1")
    cycle = make.cycle(item, 2026, "plan_draft", goal="目標")
    session.commit()
    return org, cycle.id


def _as_a_request(session, cycle_id):
    """What a page offering the transition has loaded: the cycle and its item."""
    session.expire_all()
    cycle = session.get(Cycle, cycle_id)
    return cycle, session.get(ReformItem, cycle.item_id)


def _costs(session, org, cycle_id) -> list[int]:
    counts = []
    for trigger, by in (("submit_plan", org.staff), ("approve_plan", org.head)):
        cycle, _item = _as_a_request(session, cycle_id)
        by = session.get(type(by), by.id)
        with statements(session.get_bind()) as seen:
            operations.fire(cycle, trigger, by=by, now=NOW)
            session.commit()
        counts.append(len(seen))
    return counts


def test_a_transition_costs_at_most_six_statements_at_any_size(app):
    session = _db.session
    org, cycle_id = _world(session, 5)
    small = _costs(session, org, cycle_id)
    session.remove()
    _db.drop_all()
    _db.create_all()
    org, cycle_id = _world(session, 500)
    large = _costs(session, org, cycle_id)
    assert small == large
    assert max(large) <= 6, large
    # Everything was written: the move, the record and the mail to the next actor.
    assert [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))][-2:] == [
        "submit_plan",
        "approve_plan",
    ]
    kinds = set(session.scalars(select(OutboxMessage.kind)))
    assert {"transition_submitted", "transition_approved"} <= kinds
