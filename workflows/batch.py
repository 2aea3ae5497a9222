"""Deciding many submissions at once (bulk approval): a few statements, then the writes.

The head ticks N submissions and approves them together. What `engine.fire` reads per
transition is read once for all of them: the approver's posts and substitutions on the
day, the holders they stand in for, the locked years, the submitters (with the cycles) and
the mails' recipients (one query per role, joined to the cycles). Each cycle then goes
through its definition's machine with the same checks as a single decision. The writes
are set-based too: one conditional UPDATE per kind of move -- `(id, version) IN (...)`, so
a cycle someone else moved meanwhile is left out and reported as a conflict --, the audit
records of every chain together, and the mails in one insert.

A transition that needs more than a decision (content guards, a report, returning to a
halted state, closing the year, changing the item's status) is fired one by one.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from transitions import MachineError

from app.calendar import local_date
from app.models import (
    AuditEntry,
    Cycle,
    FiscalYearSchedule,
    PostAssignment,
    ReformItem,
    Section,
    User,
)
from app.models.bulk import chunks
from app.outbox import enqueue_rows

from . import audit
from .definition import PREVIOUS, Definition, Transition
from .engine import Checks, fire, mails, not_now
from .errors import ConflictError, PermissionDenied, WorkflowError
from .facts import Facts, Person, Standing, roster_roles
from .registry import definition_of
from .roles import Reach, _covers, join_players, reach_of
from .rules import confirmed_after


def _simple(definition: Definition, transition: Transition) -> bool:
    """A decision that moves the cycle and nothing else."""
    target = definition.states.get(transition.dest)
    source_halts = any(definition.states[s].item_status for s in transition.sources)
    return bool(
        transition.dest != PREVIOUS
        and not transition.guards
        and not transition.report
        and target is not None
        and not target.closes_year
        and not target.item_status
        and not source_halts
        and not any(definition.states[s].closes_year for s in transition.sources)
    )


def _standings(
    definition: Definition, cycle: Cycle, by: User, reach: Reach, holders: dict[int, Person]
) -> dict[str, Standing]:
    found: dict[str, Standing] = {}
    if not by.active:
        return found
    for name, role in definition.roles.items():
        if role.granted:
            if role.granted in reach.granted:
                found[name] = Standing(name)
        elif role.submitter:
            if cycle.submitted_by_id == by.id:
                found[name] = Standing(name)
        elif any(_covers(role, p, cycle.item) for p in reach.posts(role, substitutes=False)):
            found[name] = Standing(name)
        else:
            for post in reach.substituted:
                if post.kind_code in role.posts and _covers(role, post, cycle.item):
                    found[name] = Standing(name, holders.get(post.id))
                    break
    return found


def _holders(session: Session, reach: Reach) -> dict[int, Person]:
    """The holder each post the approver substitutes for has on the day (one query)."""
    if not reach.substituted:
        return {}
    today = reach.today
    rows = session.execute(
        select(PostAssignment.post_id, User.id, User.name, User.email, User.active)
        .join(User, User.id == PostAssignment.user_id)
        .where(
            PostAssignment.post_id.in_([p.id for p in reach.substituted]),
            PostAssignment.starts_on <= today,
            sa.or_(PostAssignment.ends_on.is_(None), PostAssignment.ends_on >= today),
        )
        .order_by(PostAssignment.starts_on, PostAssignment.id)
    )
    found: dict[int, Person] = {}
    for post_id, *person in rows:
        found.setdefault(post_id, Person(*person))
    return found


def _rosters(
    session: Session, cycles: list[Cycle], roles: dict[tuple[str, str], object], today
) -> dict[tuple[int, str], list[Person]]:
    """Everyone playing each needed role for each cycle's item: one query per role."""
    found: dict[tuple[int, str], list[Person]] = defaultdict(list)
    for (version, name), role in roles.items():
        ids = [c.id for c in cycles if c.definition_version == version]
        for batch in chunks(ids):
            query = (
                select(Cycle.id, User.id, User.name, User.email, User.active)
                .select_from(Cycle)
                .join(ReformItem, ReformItem.id == Cycle.item_id)
                .join(Section, Section.id == ReformItem.owning_section_id)
                .where(Cycle.id.in_(batch))
            )
            seen = set()
            for cycle_id, *person in session.execute(join_players(query, role, today)):
                if (cycle_id, person[0]) not in seen:
                    seen.add((cycle_id, person[0]))
                    found[(cycle_id, name)].append(Person(*person))
    return found


def approve_many(
    session: Session, chosen: dict[int, int], *, by: User, now: datetime, comment: str = ""
) -> tuple[list[Cycle], list[tuple[Cycle, WorkflowError]]]:
    """Approve the submissions `chosen` ({cycle id: the version the approver saw}).

    Returns the approved cycles and the refused ones with the reason; nothing is
    committed. A refusal or a conflict leaves the others to go through.
    """
    today = local_date(now)
    cycles: list[Cycle] = []
    for batch in chunks(sorted(chosen)):
        cycles += session.scalars(
            select(Cycle)
            .where(Cycle.id.in_(batch))
            .options(
                joinedload(Cycle.item).joinedload(ReformItem.owning_section),
                joinedload(Cycle.item).selectinload(ReformItem.related_sections),
                joinedload(Cycle.submitted_by),
            )
            .order_by(Cycle.id)
        ).unique()
    reach = reach_of(session, by, today)
    holders = _holders(session, reach)
    years = sorted({c.fiscal_year for c in cycles})
    locked = set(
        session.scalars(
            select(FiscalYearSchedule.fiscal_year).where(
                FiscalYearSchedule.fiscal_year.in_(years),
                FiscalYearSchedule.locked_at.is_not(None),
            )
        )
    )
    refused: list[tuple[Cycle, WorkflowError]] = []
    approved: list[Cycle] = []
    plans = []
    needed: dict[tuple[str, str], object] = {}
    for cycle in cycles:
        definition = definition_of(cycle)
        transition = definition.of_kind(cycle.state, "approve")
        if transition is not None and _simple(definition, transition):
            for name in roster_roles(definition, transition):
                needed[(definition.version, name)] = definition.roles[name]
        plans.append((cycle, definition, transition))
    rosters = _rosters(session, [p[0] for p in plans], needed, today)

    moves: dict[tuple, list] = defaultdict(list)
    for cycle, definition, transition in plans:
        try:
            if transition is not None and not _simple(definition, transition):
                with session.begin_nested():  # a conflict here leaves the others be
                    fire(
                        cycle,
                        transition.trigger,
                        by=by,
                        now=now,
                        comment=comment,
                        expected_version=chosen[cycle.id],
                    )
                approved.append(cycle)
                continue
            author = cycle.submitted_by
            facts = Facts(
                by,
                standings=_standings(definition, cycle, by, reach, holders),
                locked=cycle.fiscal_year in locked,
                rosters={
                    name: rosters.get((cycle.id, name), [])
                    for (version, name) in needed
                    if version == definition.version
                },
                author=Person(author.id, author.name, author.email, author.active)
                if author is not None
                else None,
            )
            if not facts.involved(definition):
                raise PermissionDenied()
            if chosen[cycle.id] != cycle.version:
                raise ConflictError()
            if transition is None:
                raise not_now(definition, cycle)
            try:
                dest = definition.fire(
                    cycle.state,
                    transition.trigger,
                    check=Checks(definition, cycle, by, today, comment.strip(), facts),
                )
            except MachineError as exc:
                raise not_now(definition, cycle) from exc
        except WorkflowError as exc:
            refused.append((cycle, exc))
            continue
        confirmed = confirmed_after(
            definition, transition, definition.states[dest], cycle.confirmed_at is not None
        )
        key = (cycle.state, dest, confirmed)
        moves[key].append((cycle, definition, transition, facts))

    # The audit chains' locks before the cycles' rows, in the order `fire` takes them (its
    # facts read, then its UPDATE): a single decision racing this batch on one cycle then
    # waits for it and meets a changed version, never a deadlock.
    audit.serialise_many(
        session, [audit.cycle_scope(c) for group in moves.values() for c, *_rest in group]
    )
    entries, rows = [], []
    for (from_state, dest, confirmed), group in moves.items():
        won = _update(session, group, dest, confirmed, now)
        for cycle, definition, transition, facts in group:
            if cycle.id not in won:
                refused.append((cycle, ConflictError()))
                continue
            on_behalf_of = facts.acting_for(transition)
            entries.append(
                (
                    cycle,
                    definition,
                    transition,
                    facts,
                    on_behalf_of,
                    {
                        "scope": audit.cycle_scope(cycle),
                        "cycle_id": cycle.id,
                        "at": now,
                        "actor_id": by.id,
                        "on_behalf_of_id": on_behalf_of.id if on_behalf_of else None,
                        "action": transition.trigger,
                        "from_state": from_state,
                        "to_state": dest,
                        "comment": comment.strip(),
                        "data": {"definition": definition.version},
                    },
                )
            )
    written = audit.record_many(session, [e[-1] for e in entries], serialised=True)
    for (cycle, definition, transition, facts, on_behalf_of, _values), record in zip(
        entries, written, strict=True
    ):
        entry = AuditEntry(**record)
        rows += mails(
            cycle, transition, entry, definition, facts, by=by, on_behalf_of=on_behalf_of, now=now
        )
        approved.append(cycle)
    enqueue_rows(session, rows)
    order = {cycle_id: n for n, cycle_id in enumerate(sorted(chosen))}
    approved.sort(key=lambda c: order[c.id])
    return approved, refused


def _update(session: Session, group: list, dest: str, confirmed: bool | None, now) -> set[int]:
    """Move a group of cycles alike, each only if still at the version read; the winners."""
    table = Cycle.__table__
    values = {
        "state": dest,
        "state_since": now,
        "last_activity_at": now,
        "closed_at": None,
        "version": table.c.version + 1,
    }
    if confirmed is True:
        values["confirmed_at"] = now
    elif confirmed is False:
        values["confirmed_at"] = None
    won: set[int] = set()
    for batch in chunks(group):
        pairs = [(c.id, c.version) for c, *_rest in batch]
        won |= set(
            session.scalars(
                sa.update(table)
                .where(tuple_(table.c.id, table.c.version).in_(pairs))
                .values(values)
                .returning(table.c.id)
            )
        )
    for cycle, *_rest in group:
        if cycle.id in won:
            for name, value in values.items():
                if name == "version":
                    value = cycle.version + 1
                set_committed_value(cycle, name, value)
    return won
