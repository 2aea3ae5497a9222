"""A transition costs a few statements, whatever the size of the organisation and the log."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.extensions import db as _db
from app.models import AuditEntry, Cycle, OutboxMessage, ReformItem
from tests.factories import Factory
from tests.secretariat.helpers import bulk_cycles
from tests.statements import statements
from workflows import audit, batch, operations

NOW = datetime(2026, 4, 10, 1, tzinfo=UTC)


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
    if audit.one_statement(session):
        # PostgreSQL: the read, then the move, its record and its mails in one statement.
        assert large == [2, 2]
    session.expire_all()
    moved = session.get(Cycle, cycle_id)
    assert (moved.state, moved.version, moved.submitted_by_id) == ("doing", 3, org.staff.id)
    # Everything was written: the move, the record and the mail to the next actor.
    assert [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))][-2:] == [
        "submit_plan",
        "approve_plan",
    ]
    kinds = set(session.scalars(select(OutboxMessage.kind)))
    assert {"transition_submitted", "transition_approved"} <= kinds
    # Each mail's dedupe key names the record written with it (the same statement on
    # PostgreSQL).
    records = session.scalars(select(AuditEntry).where(AuditEntry.scope == f"cycle:{cycle_id}"))
    seqs = {e.seq for e in records if e.action in ("submit_plan", "approve_plan")}
    keys = session.scalars(
        select(OutboxMessage.dedupe_key).where(OutboxMessage.cycle_id == cycle_id)
    )
    assert {int(key.split(":")[2]) for key in keys} == seqs
    assert audit.verify(session) == []


def _bulk_cost(session, count: int) -> tuple[int, int]:
    make = Factory(session)
    org = make.org("企画")
    staff, head = org.staff, org.head
    ids = []
    for n in range(count):
        item = make.item(org, number=f"2-{n + 1}")
        ids.append(make.cycle(item, 2026, "plan_draft", goal="目標").id)
    session.commit()
    for cycle_id in ids:
        operations.fire(session.get(Cycle, cycle_id), "submit_plan", by=staff, now=NOW)
    session.commit()
    chosen = {cycle_id: session.get(Cycle, cycle_id).version for cycle_id in ids}
    with statements(session.get_bind()) as seen:
        approved, refused = batch.approve_many(session, chosen, by=head, now=NOW)
        session.commit()
    assert refused == [] and len(approved) == count
    return len(seen), len(set(session.scalars(select(OutboxMessage.dedupe_key))))


def test_bulk_approval_costs_the_same_statements_for_ten_times_the_submissions(app):
    session = _db.session
    small, small_mail = _bulk_cost(session, 4)
    session.remove()
    _db.drop_all()
    _db.create_all()
    large, large_mail = _bulk_cost(session, 40)
    assert small == large
    assert large_mail - 40 == 40  # a submission mail and an approval mail per cycle
    assert small_mail == 8


def test_bulk_approval_leaves_out_what_someone_else_decided(app):
    session = _db.session
    make = Factory(session)
    org = make.org("企画")
    cycles = [
        make.cycle(make.item(org, number=f"3-{n}"), 2026, "plan_draft", goal="目標")
        for n in range(3)
    ]
    session.commit()
    for cycle in cycles:
        operations.fire(cycle, "submit_plan", by=org.staff, now=NOW)
    session.commit()
    chosen = {c.id: c.version for c in cycles}
    operations.fire(cycles[1], "send_back_plan", by=org.head, now=NOW, comment="再考を")
    session.commit()
    approved, refused = batch.approve_many(session, chosen, by=org.head, now=NOW)
    session.commit()
    assert [c.id for c in approved] == [cycles[0].id, cycles[2].id]
    assert [(c.id, type(e).__name__) for c, e in refused] == [(cycles[1].id, "ConflictError")]
    session.expire_all()
    assert [c.state for c in cycles] == ["doing", "plan_draft", "doing"]
    assert audit.verify(session) == []


def test_a_substitute_acts_for_the_holder_of_the_post_named_not_another(app):
    """The facts read names the holder a 代理 stands in for, from that substitution's post,
    however many other posts have substitutes (the mail and the record say whom)."""
    from datetime import date

    from app.models import Substitution

    session = _db.session
    make = Factory(session)
    make.plan()
    # An earlier-appointed head elsewhere, with a substitute of their own.
    other = make.org("総務", since=date(2010, 4, 1))
    org = make.org("企画")
    deputy = make.deputy(org, "deputy", name="代理 次郎")
    for post, who in (
        (other.head_post, make.deputy(other, "other_deputy")),
        (org.head_post, deputy),
    ):
        session.add(
            Substitution(
                post=post,
                substitute=who,
                starts_on=date(2026, 4, 1),
                ends_on=date(2026, 4, 30),
                created_by=org.head,
            )
        )
    cycle = make.cycle(make.item(org, number="1-1"), 2026, "plan_draft", goal="目標")
    session.commit()
    operations.fire(cycle, "submit_plan", by=org.staff, now=NOW)
    session.commit()
    entry = operations.fire(cycle, "approve_plan", by=deputy, now=NOW)
    session.commit()
    assert entry.on_behalf_of_id == org.head.id
    mail = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "transition_approved")
    ).first()
    assert mail.context["on_behalf_of_name"] == org.head.name
