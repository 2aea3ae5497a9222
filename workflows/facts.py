"""What one transition needs to know, read in one statement.

Firing a transition asks: how does the acting user play each role of the definition for
this item today (in person, or as substitute for whom), is the year locked, who are the
people the mails go to, who submitted, and what the guards need (targets set, actuals
filled in, the report filed). Each question is one SELECT of the same shape; their UNION
ALL is sent once, and the answers are sorted out here -- the same answers as
`workflows.roles.standing` and `people` give one query at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.models import (
    Cycle,
    FiscalYearSchedule,
    Post,
    PostAssignment,
    ReformItem,
    Section,
    Substitution,
    User,
    UserRole,
    item_related_section,
)
from app.models import Role as GrantedRole

from .audit import lock_clause as lock_of
from .definition import PREVIOUS, Definition, Role, Transition
from .guards import GUARD_FACTS, report_fact


@dataclass(frozen=True)
class Person:
    """Someone a transition is about: enough to check, record and write to them."""

    id: int
    name: str
    email: str
    active: bool


@dataclass(frozen=True)
class Standing:
    """How the acting user plays a role: in person, or for a post's holder (代理)."""

    role: str
    on_behalf_of: Person | None = None


@dataclass
class Facts:
    actor: User
    standings: dict[str, Standing] = field(default_factory=dict)
    locked: bool = False
    rosters: dict[str, list[Person]] = field(default_factory=dict)
    author: Person | None = None
    guards: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    # The read took the lock of the cycle's audit chain (PostgreSQL): see `read`.
    serialised: bool = False

    def plays(self, role: str) -> bool:
        return role in self.standings

    def permits(self, transition: Transition, cycle: Cycle) -> bool:
        """`permissions.permits`, answered from what was read."""
        if not self.actor.active:
            return False
        if transition.decides and cycle.submitted_by_id == self.actor.id:
            return False
        return any(self.plays(role) for role in transition.roles)

    def involved(self, definition: Definition) -> bool:
        """`permissions.involved`: the actor plays some role (the submitter's aside)."""
        return any(self.plays(n) for n, r in definition.roles.items() if not r.submitter)

    def acting_for(self, transition: Transition) -> Person | None:
        """`permissions.acting_for`: the holder the actor stands in for, None in person."""
        found = None
        for role in transition.roles:
            how = self.standings.get(role)
            if how is not None and how.on_behalf_of is None:
                return None
            found = found or (how.on_behalf_of if how else None)
        return found

    def people(self, definition: Definition, role: str, author: Person | None) -> list[Person]:
        """`roles.people`: everyone playing `role` (read as a roster)."""
        if definition.roles[role].submitter:
            return [author] if author is not None and author.active else []
        return self.rosters[role]


def roster_roles(definition: Definition, transition: Transition | None) -> set[str]:
    """The roles whose people the transition's mails go to."""
    if transition is None:
        return set()
    found = set()
    for recipients in transition.notify:
        if recipients == "next":
            if transition.dest != PREVIOUS and definition.states[transition.dest].actor:
                found.add(definition.states[transition.dest].actor)
        elif recipients != "author":
            found.add(recipients)
    return {r for r in found if not definition.roles[r].submitter}


_COLUMNS = (
    ("tag", sa.String),
    ("role", sa.String),
    ("user_id", sa.Integer),
    ("holder_id", sa.Integer),
    ("name", sa.String),
    ("email", sa.String),
    ("active", sa.Boolean),
    ("number", sa.Integer),
    ("text", sa.String),
    ("k1", sa.Integer),
    ("k2", sa.Integer),
)


# The person columns of a row: who it is about.
_PERSON = {"user_id": User.id, "name": User.name, "email": User.email, "active": User.active}


def _constant(value: str | int) -> sa.ColumnElement:
    """A constant of the definition (a tag, a role or post kind name, a number) written
    into the SQL, not bound: the statement's text is then the same at every firing, with
    no list to expand and no parameter to convert."""
    if isinstance(value, int):
        return sa.literal_column(str(int(value)), sa.Integer())
    if not re.fullmatch(r"[@A-Za-z0-9_]*", value):
        raise ValueError(f"not a name: {value!r}")
    return sa.literal_column(f"'{value}'", sa.String())


def _header() -> sa.Select:
    """The UNION ALL's first member: no row, only the columns' names and types, which the
    members after it take (so they need neither, and the statement stays short)."""
    return select(*(sa.cast(sa.null(), kind()).label(name) for name, kind in _COLUMNS)).where(
        sa.false()
    )


def _row(**values) -> list:
    """One UNION ALL member's columns, in `_header`'s order."""
    columns = []
    for name, _kind in _COLUMNS:
        value = values.get(name)
        if isinstance(value, sa.ColumnElement) or hasattr(value, "__clause_element__"):
            expression = sa.cast(value, _kind()) if name in ("number", "text") else value
            # Labelled: a column given twice (the user's id as user_id and k2) stays twice.
            columns.append(expression.label(name))
        elif value is None:
            columns.append(sa.literal_column("NULL"))
        else:
            columns.append(_constant(value))
    return columns


def _kinds(role: Role) -> list[sa.ColumnElement]:
    return [_constant(kind) for kind in role.posts]


def _scope(role: Role, cycle):
    """Posts (of `role`'s kinds) whose holders play it for the cycle's item."""
    item = cycle.item_id
    if role.of == "owning_section":
        return Post.section_id == (
            select(ReformItem.owning_section_id).where(ReformItem.id == item).scalar_subquery()
        )
    if role.of == "related_sections":
        return Post.section_id.in_(
            select(item_related_section.c.section_id).where(item_related_section.c.item_id == item)
        )
    if role.of == "owning_department":
        return Post.department_id == (
            select(Section.department_id)
            .join(ReformItem, ReformItem.owning_section_id == Section.id)
            .where(ReformItem.id == item)
            .scalar_subquery()
        )
    return sa.true()  # city


def _posts_of(role: Role, today, cycle, only) -> list:
    holder, holder_user = aliased(PostAssignment), aliased(User)
    covers = sa.and_(
        PostAssignment.starts_on <= today,
        sa.or_(PostAssignment.ends_on.is_(None), PostAssignment.ends_on >= today),
    )
    held = (
        select(
            *_row(
                tag="held",
                role=role.name,
                **_PERSON,
                k1=0,
                k2=Post.id,
            )
        )
        .select_from(Post)
        .join(PostAssignment, PostAssignment.post_id == Post.id)
        .join(User, User.id == PostAssignment.user_id)
        .where(Post.kind_code.in_(_kinds(role)), Post.active.is_(True), covers, _scope(role, cycle))
    )
    # The post's first holder today, whom the substitute stands in for: their id, and their
    # name (each a subquery on the substitution's own post).
    holding = (
        holder.post_id == Substitution.post_id,
        holder.starts_on <= today,
        sa.or_(holder.ends_on.is_(None), holder.ends_on >= today),
    )
    first_holder = (
        select(holder.user_id)
        .where(*holding)
        .order_by(holder.starts_on, holder.id)
        .limit(_constant(1))
        .scalar_subquery()
    )
    first_holder_name = (
        select(holder_user.name)
        .join(holder, holder.user_id == holder_user.id)
        .where(*holding)
        .order_by(holder.starts_on, holder.id)
        .limit(_constant(1))
        .scalar_subquery()
    )
    substituting = (
        select(
            *_row(
                tag="substitute",
                role=role.name,
                user_id=User.id,
                holder_id=first_holder,
                name=User.name,
                email=User.email,
                active=User.active,
                text=first_holder_name,
                k1=1,
                k2=Substitution.id,
            )
        )
        .select_from(Post)
        .join(Substitution, Substitution.post_id == Post.id)
        .join(User, User.id == Substitution.substitute_id)
        .where(
            Post.kind_code.in_(_kinds(role)),
            Post.active.is_(True),
            Substitution.revoked_at.is_(None),
            Substitution.starts_on <= today,
            Substitution.ends_on >= today,
            User.active.is_(True),
            _scope(role, cycle),
        )
    )
    if only is not None:
        held = held.where(User.id == only)
        substituting = substituting.where(User.id == only)
    return [held, substituting]


class _Params:
    """The cycle as the statement sees it: bound parameters, filled in at each firing."""

    id = sa.bindparam("cycle_id", type_=sa.Integer)
    item_id = sa.bindparam("item_id", type_=sa.Integer)
    fiscal_year = sa.bindparam("fiscal_year", type_=sa.Integer)
    submitted_by_id = sa.bindparam("author_id", type_=sa.Integer)


@lru_cache(maxsize=256)
def _statement(
    definition: Definition, transition: Transition | None, with_author: bool, lock: bool = False
) -> sa.CompoundSelect:
    """The facts' UNION ALL for a transition, built once: the cycle, the actor and the day
    are parameters, so each firing only binds them (and hits the compiled-SQL cache)."""
    cycle, actor = _Params, sa.bindparam("actor_id", type_=sa.Integer)
    today = sa.bindparam("today", type_=sa.Date)
    rosters = roster_roles(definition, transition)
    parts = [_header()]
    for role in definition.roles.values():
        if role.post_based:
            parts += _posts_of(role, today, cycle, None if role.name in rosters else actor)
        elif role.granted and role.name in rosters:
            parts.append(
                select(
                    *_row(
                        tag="granted",
                        role=role.name,
                        **_PERSON,
                        k2=User.id,
                    )
                )
                .join(UserRole, UserRole.user_id == User.id)
                .where(UserRole.role == GrantedRole(role.granted), User.active.is_(True))
            )
    parts.append(select(*_row(tag="grant", text=UserRole.role)).where(UserRole.user_id == actor))
    if with_author:
        parts.append(
            select(
                *_row(
                    tag="author",
                    **_PERSON,
                )
            ).where(User.id == cycle.submitted_by_id)
        )
    parts.append(
        select(*_row(tag="locked")).where(
            FiscalYearSchedule.fiscal_year == cycle.fiscal_year,
            FiscalYearSchedule.locked_at.is_not(None),
        )
    )
    if transition is not None:
        for guard in transition.guards:
            number, text = GUARD_FACTS[guard][0](cycle)
            parts.append(select(*_row(tag="guard", role=guard, number=number, text=text)))
        if transition.report:
            number, text = report_fact(cycle, transition.report)
            parts.append(select(*_row(tag="guard", role="@report", number=number, text=text)))
    if lock:
        # PostgreSQL: the lock of the cycle's audit chain, taken here rather than in a
        # statement of its own; the record, written by a later statement, then reads the
        # chain as the writers before have left it.
        scope = sa.bindparam("audit_scope", type_=sa.String)
        parts.append(select(*_row(tag="serialised")).select_from(lock_of(scope).alias("l")))
    return sa.union_all(*parts)


def read(
    session: Session,
    definition: Definition,
    cycle: Cycle,
    actor: User,
    today: date,
    transition: Transition | None,
    serialise: str | None = None,
) -> Facts:
    """Everything `engine.fire` asks before moving `cycle`, in one statement.

    With `serialise` (an audit scope), on PostgreSQL the same statement takes the lock of
    that scope's writers for the rest of the transaction (`Facts.serialised`)."""
    lock = serialise is not None and session.get_bind().dialect.name == "postgresql"
    statement = _statement(definition, transition, cycle.submitted_by_id is not None, lock)
    rows = session.execute(
        statement,
        {
            "audit_scope": serialise,
            "cycle_id": cycle.id,
            "item_id": cycle.item_id,
            "fiscal_year": cycle.fiscal_year,
            "author_id": cycle.submitted_by_id,
            "actor_id": actor.id,
            "today": today,
        },
    ).all()
    facts = _sort(definition, actor, roster_roles(definition, transition), rows)
    facts.serialised = any(row.tag == "serialised" for row in rows)
    if actor.active and cycle.submitted_by_id == actor.id:
        for name, role in definition.roles.items():
            if role.submitter:
                facts.standings[name] = Standing(name)
    return facts


def _sort(definition: Definition, actor: User, rosters: set[str], rows) -> Facts:
    facts = Facts(actor, rosters={name: [] for name in rosters})
    grants = {str(r.text) for r in rows if r.tag == "grant"}
    players: dict[str, list] = {}
    for row in sorted(rows, key=lambda r: (r.k1 or 0, r.k2 or 0)):
        if row.tag in ("held", "substitute", "granted"):
            players.setdefault(row.role, []).append(row)
        elif row.tag == "author":
            facts.author = Person(row.user_id, row.name, row.email, row.active)
        elif row.tag == "locked":
            facts.locked = True
        elif row.tag == "guard":
            facts.guards[row.role] = (row.number or 0, row.text)
    for name, role in definition.roles.items():
        found = players.get(name, [])
        if name in rosters:
            seen: dict[int, Person] = {}
            for row in found:
                if row.active or row.tag != "held":
                    seen.setdefault(row.user_id, Person(row.user_id, row.name, row.email, True))
            facts.rosters[name] = list(seen.values())
        if not actor.active:
            continue
        if role.granted:
            if role.granted in grants:
                facts.standings[name] = Standing(name)
            continue
        if role.submitter:
            continue  # judged against the cycle's submitter by the caller
        mine = [r for r in found if r.user_id == actor.id]
        if any(r.tag == "held" for r in mine):
            facts.standings[name] = Standing(name)
        elif mine:
            holder = mine[0]
            on_behalf = (
                Person(holder.holder_id, holder.text or "", "", True)
                if holder.holder_id is not None
                else None
            )
            facts.standings[name] = Standing(name, on_behalf)
    return facts
