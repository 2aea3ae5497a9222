"""Firing one transition: the checks, the move, the audit record and the mails, or nothing.

The cycle's own definition version decides: its `transitions` machine runs the checks as
the transition's conditions (the acting user's right, the reason, the year lock, the
guards) and gives the destination; a refusal raises before anything is written. Then the
state, the audit entry, the item's status, the year's rollover and the outbox rows are
written and flushed. Only the caller commits, and on any error after the checks it rolls
its transaction back (as every view and job does), so nothing is half-applied. The cycle's
`version` column makes the UPDATE conditional on the version that was read, so of two
concurrent decisions one fails with ConflictError.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from transitions import MachineError

from app.calendar import local_date
from app.models import AuditEntry, Cycle, ItemStatus, User
from app.outbox import enqueue_rows, outbox_row

from . import audit
from .definition import PREVIOUS, Definition, Transition
from .errors import N_, ConflictError, GuardFailed, InvalidTransition, PermissionDenied
from .facts import Facts, Person
from .facts import read as read_facts
from .guards import GUARD_FACTS, GUARDS, report_filed, report_judge
from .permissions import who_must_act
from .registry import definition_of
from .roles import session_of
from .rules import confirmed_after


def _halted_from(session: Session, cycle: Cycle) -> str | None:
    """The state the cycle was in when it entered its current (halted) state."""
    return session.scalar(
        select(AuditEntry.from_state)
        .where(AuditEntry.scope == audit.cycle_scope(cycle), AuditEntry.to_state == cycle.state)
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    )


class Checks:
    """The conditions of a transition, run by the machine in this order (once per firing,
    though a transition back to the halted-from state is compiled for every state)."""

    def __init__(
        self,
        definition: Definition,
        cycle: Cycle,
        by: User,
        today: date,
        comment: str,
        facts: Facts,
    ):
        self.definition, self.cycle, self.by = definition, cycle, by
        self.today, self.comment, self.facts = today, comment, facts
        self.session = session_of(cycle)
        self.passed: set[int] = set()

    def __call__(self, transition: Transition) -> bool:
        if id(transition) not in self.passed:
            self._check(transition)
            self.passed.add(id(transition))
        return True

    def _check(self, transition: Transition) -> None:
        cycle, facts = self.cycle, self.facts
        if transition.decides and cycle.submitted_by_id == self.by.id:
            raise PermissionDenied(
                N_("自分が提出したものを自分で判断することはできません。"),
                code="own_submission",
            )
        if not facts.permits(transition, cycle):
            raise PermissionDenied()
        if transition.needs_reason and not self.comment:
            raise GuardFailed(N_("理由を入力してください。"), field="reason")
        if facts.locked:
            raise PermissionDenied(
                N_("%(year)s年度は確定（ロック）済みのため変更できません。"),
                code="year_locked",
                year=cycle.fiscal_year,
            )
        # The content the submission needs, as the caller has written it: read with the
        # rights when nothing is pending, else by the guards themselves (which flush).
        pending = bool(self.session.new or self.session.dirty or self.session.deleted)
        label = self.definition.report_label(transition.report) if transition.report else ""
        if transition.report:
            if pending:
                report_filed(self.session, cycle, transition.report, label)
            else:
                report_judge(facts.guards["@report"][0], label)
        for guard in transition.guards:
            if pending:
                GUARDS[guard](self.session, cycle)
            else:
                GUARD_FACTS[guard][1](cycle, *facts.guards[guard])


def fire(
    cycle: Cycle,
    trigger: str,
    *,
    by: User,
    now: datetime,
    comment: str = "",
    expected_version: int | None = None,
) -> AuditEntry:
    """Fire `trigger` on `cycle` as `by` at `now`; the audit entry written (flushed).

    In steady state it costs one read (the acting user's rights, the year lock, the mail's
    recipients and the guards' data together; on PostgreSQL also the lock of the cycle's
    audit chain) and the writes: on PostgreSQL one statement (the cycle's UPDATE conditional
    on its version, the record linked and hashed onto the chain in an INSERT ... SELECT, the
    mails, in data-modifying WITHs), on SQLite the cycle's UPDATE, the last link, the
    record's insert and the mails' insert. A move that closes or reopens the year is written
    through the ORM with the rollover. On ConflictError the caller rolls its transaction
    back.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    session = session_of(cycle)
    today = local_date(now)
    comment = (comment or "").strip()
    definition = definition_of(cycle)
    transition = definition.transition(cycle.state, trigger)
    # Who may act is decided on what is stored; the caller's pending edits are not flushed
    # (nor its version moved) by a refusal.
    with session.no_autoflush:
        facts = read_facts(
            session, definition, cycle, by, today, transition, serialise=audit.cycle_scope(cycle)
        )
        # Nothing about the cycle (its version, its state) is told to someone with no part
        # in it.
        if not facts.involved(definition):
            raise PermissionDenied()
        if expected_version is not None and expected_version != cycle.version:
            raise ConflictError()
        if transition is None:
            raise not_now(definition, cycle)
        previous = _halted_from(session, cycle) if transition.dest == PREVIOUS else None
    try:
        dest = definition.fire(
            cycle.state,
            trigger,
            check=Checks(definition, cycle, by, today, comment, facts),
            previous=previous,
        )
    except MachineError as exc:
        raise not_now(definition, cycle) from exc
    on_behalf_of = facts.acting_for(transition)
    from_state = cycle.state
    target, source = definition.states[dest], definition.states[from_state]
    # The move goes in the audit record's statement (see audit.record's `move`) unless it
    # closes or reopens the year, or the caller has edited the cycle itself (then one ORM
    # UPDATE writes the edits and the move together).
    folded = (
        audit.one_statement(session)
        and not (target.closes_year or source.closes_year)
        and not sa.inspect(cycle).modified
    )
    values = moved(cycle, definition, transition, dest, now=now)
    if transition.submits:
        values.update(submitted_by_id=by.id, submitted_at=now)
    try:
        if folded:
            # The caller's other edits are written first; then the cycle holds its new
            # values as if loaded (forgotten again on a conflict, below).
            session.flush()
            move_from = cycle.version
            for name, value in {**values, "version": move_from + 1}.items():
                set_committed_value(cycle, name, value)
            if transition.submits:
                set_committed_value(cycle, "submitted_by", by)
        else:
            for name, value in values.items():
                setattr(cycle, name, value)
            if transition.submits:
                cycle.submitted_by = by
            # The optimistic check: UPDATE cycle ... WHERE version = <the version read>.
            session.flush()
    except StaleDataError as exc:
        raise ConflictError() from exc
    record = {
        "scope": audit.cycle_scope(cycle),
        "action": trigger,
        "now": now,
        "actor": by,
        "on_behalf_of": on_behalf_of,
        "cycle": cycle,
        "from_state": from_state,
        "to_state": dest,
        "comment": comment,
        "data": {"definition": definition.version},
        "serialised": facts.serialised,
    }
    if target.closes_year or source.closes_year:
        # The year's rollover (or its undoing) writes records of its own after this one.
        entry = audit.record(session, **record)
        effects(cycle, definition, from_state, dest, by=by, now=now)
        rows = mails(
            cycle, transition, entry, definition, facts, by=by, on_behalf_of=on_behalf_of, now=now
        )
        enqueue_rows(session, rows)  # the transition's mails, in one insert
        return entry
    # Otherwise the record and the mails are written together (on PostgreSQL in one
    # statement), the mails' dedupe keys taking the record's seq.
    effects(cycle, definition, from_state, dest, by=by, now=now)
    unwritten = AuditEntry(
        action=trigger, from_state=from_state, to_state=dest, comment=comment, seq=audit.SEQ
    )
    rows = mails(
        cycle, transition, unwritten, definition, facts, by=by, on_behalf_of=on_behalf_of, now=now
    )
    if not folded:
        return audit.record(session, **record, mails=rows)
    try:
        return audit.record(session, **record, mails=rows, move=(move_from, values))
    except ConflictError:
        # Nothing was written: the values set above were never the row's (a savepoint's
        # rollback, as in a bulk approval, would not forget them).
        session.expire(cycle)
        raise


def not_now(definition: Definition, cycle: Cycle) -> InvalidTransition:
    state = definition.state(cycle.state)
    if state is None:
        return InvalidTransition()
    return InvalidTransition(
        N_("現在の状態（%(state)s）ではこの操作は実行できません。"), state=state
    )


def move(
    cycle: Cycle,
    definition: Definition,
    transition: Transition | None,
    dest: str,
    *,
    now: datetime,
) -> None:
    """Put the cycle in `dest` with what the destination means (confirmed, year closed)."""
    for name, value in moved(cycle, definition, transition, dest, now=now).items():
        setattr(cycle, name, value)


def moved(
    cycle: Cycle,
    definition: Definition,
    transition: Transition | None,
    dest: str,
    *,
    now: datetime,
) -> dict:
    """The cycle's columns after a move to `dest`."""
    target = definition.states[dest]
    values = {
        "state": dest,
        "state_since": now,
        "last_activity_at": now,
        "closed_at": now if target.closes_year else None,
    }
    confirmed = confirmed_after(definition, transition, target, cycle.confirmed_at is not None)
    if confirmed is True:
        values["confirmed_at"] = now
    elif confirmed is False:
        values["confirmed_at"] = None
    return values


def effects(
    cycle: Cycle, definition: Definition, from_state: str, dest: str, *, by: User, now: datetime
) -> None:
    """What a move means beyond the cycle: the item's status, the next fiscal year."""
    from .rollover import roll_over, undo_ending

    target, source = definition.states[dest], definition.states[from_state]
    if target.closes_year:
        roll_over(cycle, by=by, now=now)
    elif source.closes_year:
        undo_ending(cycle, by=by, now=now)
    if target.item_status is not None:
        cycle.item.status = ItemStatus(target.item_status)
    elif source.item_status == ItemStatus.SUSPENDED and cycle.item.status == ItemStatus.SUSPENDED:
        cycle.item.status = ItemStatus.ACTIVE


def _mail_context(
    cycle: Cycle, definition: Definition, entry: AuditEntry, by: User, on_behalf_of: Person | None
) -> dict:
    return {
        "cycle_id": cycle.id,
        "version": cycle.version,
        "item_number": cycle.item.number,
        "item_title": cycle.item.title,
        "fiscal_year": cycle.fiscal_year,
        "trigger": entry.action,
        "action_label": definition.transition(entry.from_state, entry.action).done_label(),
        "state": entry.to_state,
        "state_label": definition.state_label(entry.to_state),
        "from_state": entry.from_state,
        "from_label": definition.state_label(entry.from_state),
        "stage_label": _stage_label(definition, entry.from_state),
        "decides_next": entry.to_state in definition.deciding_states,
        "actor_name": by.name,
        "on_behalf_of_name": on_behalf_of.name if on_behalf_of else "",
        "comment": entry.comment,
    }


def _stage_label(definition: Definition, state: str) -> str:
    stage = definition.stage_of(state)
    return definition.stages[stage].ja if stage else ""


def _next_people(
    cycle: Cycle, definition: Definition, facts: Facts, author: Person | None, today: date
) -> list:
    """`permissions.who_must_act` after the move, from the rosters read beforehand."""
    state = definition.state(cycle.state)
    if state is None or state.actor is None:
        return []
    if state.actor not in facts.rosters and not definition.roles[state.actor].submitter:
        return who_must_act(cycle, today)  # a return to where it was halted: asked now
    users = facts.people(definition, state.actor, author)
    if cycle.state in definition.deciding_states:
        users = [u for u in users if u.id != cycle.submitted_by_id]
    return users


def mails(
    cycle: Cycle,
    transition: Transition,
    entry: AuditEntry,
    definition: Definition,
    facts: Facts,
    *,
    by: User,
    on_behalf_of: Person | None,
    now: datetime,
) -> list[dict]:
    """The outbox rows of a transition just made (the cycle already moved)."""
    today = local_date(now)
    # The submitter after the move: whoever just submitted, else the one before.
    author = Person(by.id, by.name, by.email, by.active) if transition.submits else facts.author
    context = _mail_context(cycle, definition, entry, by, on_behalf_of)
    sent: set[tuple[str, int]] = set()
    rows = []
    for recipients, kind in transition.notify.items():
        if recipients == "next":
            users = _next_people(cycle, definition, facts, author, today)
        elif recipients == "author":
            users = [facts.author] if facts.author is not None else []
        else:
            users = facts.people(definition, recipients, author)
        for user in users:
            if user.id == by.id or not user.active or (kind, user.id) in sent:
                continue
            sent.add((kind, user.id))
            rows.append(
                outbox_row(
                    kind=kind,
                    recipient_id=user.id,
                    name=user.name,
                    email=user.email,
                    context=context,
                    now=now,
                    cycle_id=cycle.id,
                    dedupe_key=f"wf:{cycle.id}:{entry.seq}:{kind}:{user.id}",
                )
            )
    return rows
