"""Roles resolved to people on a given day, as the definition declares them.

A role is played by the holders of posts of some kinds (所管部長, 副市長, the owning
section's staff ...) relative to the item -- its owning section, related sections, owning
department, or the whole city -- and by anyone substituting (代理) for such a post on the
day; or by users granted a role (secretariat, committee); or by the submitter of the
waiting submission. Rights follow the posts held on the day, never the person's job today.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, object_session
from sqlalchemy.sql.elements import ColumnElement

from app.models import (
    Cycle,
    Post,
    PostAssignment,
    ReformItem,
    Section,
    Substitution,
    User,
    UserRole,
    item_related_section,
)
from app.models import (
    Role as GrantedRole,
)

from .definition import Role
from .memo import remembered


def session_of(obj) -> Session:
    session = object_session(obj)
    if session is None:
        raise RuntimeError(f"{obj!r} is not attached to a session")
    return session


def _unique(users) -> list[User]:
    seen: dict[int, User] = {}
    for user in users:
        seen.setdefault(user.id, user)
    return list(seen.values())


# --- one item: the posts of a role, and who holds or substitutes them -----------------


def _scope(role: Role, item: ReformItem) -> tuple[int, ...] | None:
    """The sections or the department of `item` the role's posts belong to (None: city)."""
    if role.of == "owning_section":
        return (item.owning_section_id,)
    if role.of == "related_sections":
        return tuple(sorted(s.id for s in item.related_sections))
    if role.of == "owning_department":
        return (item.owning_section.department_id,)
    return None


def role_posts(role: Role, item: ReformItem) -> list[Post]:
    """The active posts whose holders play `role` for `item`."""
    if not role.post_based:
        return []
    scope = _scope(role, item)
    where = [Post.kind_code.in_(role.posts), Post.active.is_(True)]
    if role.of == "owning_department":
        where.append(Post.department_id.in_(scope))
    elif scope is not None:
        where.append(Post.section_id.in_(scope or (-1,)))
    session = session_of(item)
    key = ("posts", tuple(sorted(role.posts)), role.of, scope)
    # The posts with their holders and the holders' accounts, in one statement.
    query = (
        select(Post)
        .where(*where)
        .order_by(Post.id)
        .options(joinedload(Post.assignments).joinedload(PostAssignment.user))
    )
    return list(remembered(session, key, lambda: list(session.scalars(query).unique())))


def running_substitutions(session: Session, posts: list[Post], today: date) -> list[Substitution]:
    """Substitutions of `posts` running on `today` by active users (dates inclusive)."""
    if not posts:
        return []

    def running() -> list[Substitution]:
        rows = session.scalars(
            select(Substitution)
            .where(
                Substitution.post_id.in_([p.id for p in posts]),
                Substitution.starts_on <= today,
                Substitution.ends_on >= today,
                Substitution.revoked_at.is_(None),
            )
            .order_by(Substitution.id)
        )
        return [s for s in rows if s.substitute.active]

    return list(remembered(session, ("substitutions", tuple(p.id for p in posts), today), running))


def granted_users(session: Session, role: str) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == GrantedRole(role), User.active.is_(True))
            .order_by(User.id)
        )
    )


def people(role: Role, item: ReformItem, today: date, author: User | None = None) -> list[User]:
    """Everyone who plays `role` for `item` on `today`: holders first, then substitutes.

    `author` is the submitter of the waiting submission, for the role that names them.
    """
    session = session_of(item)
    if role.granted:
        return granted_users(session, role.granted)
    if role.submitter:
        return [author] if author is not None and author.active else []
    posts = role_posts(role, item)
    holders = [u for post in posts for u in post.holders(today) if u.active]
    substitutes = [s.substitute for s in running_substitutions(session, posts, today)]
    return _unique([*holders, *substitutes])


@dataclass(frozen=True)
class Standing:
    """How a user plays a role: in person, or as substitute for a post's holder."""

    role: str
    on_behalf_of: User | None = None


def standing(
    user: User, role: Role, item: ReformItem, today: date, author_id: int | None = None
) -> Standing | None:
    """How `user` plays `role` for `item` on `today`, or None when they do not."""
    if not user.active:
        return None
    if role.granted:
        return Standing(role.name) if user.has_role(GrantedRole(role.granted)) else None
    if role.submitter:
        return Standing(role.name) if author_id is not None and author_id == user.id else None
    posts = role_posts(role, item)
    if any(user in post.holders(today) for post in posts):
        return Standing(role.name)
    for substitution in running_substitutions(session_of(item), posts, today):
        if substitution.substitute_id == user.id:
            holders = substitution.post.holders(today)
            return Standing(role.name, holders[0] if holders else None)
    return None


# --- one user: where they play each role, for lists over many cycles -----------------


@dataclass
class Reach:
    """The posts a user holds or substitutes for on a day, and the roles granted to them.

    It turns a role into a SQL condition on cycles (joined to their item), so the lists and
    counts of what waits for a user are one query whatever the number of items.
    """

    user: User
    today: date
    held: list[Post] = field(default_factory=list)
    substituted: list[Post] = field(default_factory=list)
    granted: set[str] = field(default_factory=set)

    def posts(self, role: Role, *, substitutes: bool = True) -> list[Post]:
        pool = self.held + (self.substituted if substitutes else [])
        return [p for p in pool if p.kind_code in role.posts]

    def plays_somewhere(self, role: Role) -> bool:
        if role.granted:
            return role.granted in self.granted
        return role.submitter or bool(self.posts(role))

    def clause(self, role: Role, *, substitutes: bool = True) -> ColumnElement[bool]:
        """Cycles (joined to ReformItem) for which the user plays `role`."""
        if role.granted:
            return sa.true() if role.granted in self.granted else sa.false()
        if role.submitter:
            return Cycle.submitted_by_id == self.user.id
        posts = self.posts(role, substitutes=substitutes)
        if not posts:
            return sa.false()
        sections = {p.section_id for p in posts if p.section_id is not None} or {-1}
        departments = {p.department_id for p in posts if p.department_id is not None} or {-1}
        if role.of == "owning_section":
            return ReformItem.owning_section_id.in_(sections)
        if role.of == "related_sections":
            return ReformItem.id.in_(
                select(item_related_section.c.item_id).where(
                    item_related_section.c.section_id.in_(sections)
                )
            )
        if role.of == "owning_department":
            return ReformItem.owning_section_id.in_(
                select(Section.id).where(Section.department_id.in_(departments))
            )
        return sa.true()  # city

    def via_substitute(self, role: Role, item: ReformItem) -> bool:
        """Whether the user plays `role` for `item` only as a substitute."""
        return not any(_covers(role, post, item) for post in self.posts(role, substitutes=False))


def _covers(role: Role, post: Post, item: ReformItem) -> bool:
    if role.of == "owning_section":
        return post.section_id == item.owning_section_id
    if role.of == "related_sections":
        return post.section_id in {s.id for s in item.related_sections}
    if role.of == "owning_department":
        return post.department_id == item.owning_section.department_id
    return True


def reach_of(session: Session, user: User, today: date) -> Reach:
    """Where `user` works on `today` (one query, once per session between writes)."""
    return remembered(session, ("reach", user.id, today), lambda: _reach(session, user, today))


def _reach(session: Session, user: User, today: date) -> Reach:
    if not user.active:
        return Reach(user, today, [], [], set())
    held_ids = select(PostAssignment.post_id.label("post_id"), sa.false().label("for_other")).where(
        PostAssignment.user_id == user.id,
        PostAssignment.starts_on <= today,
        sa.or_(PostAssignment.ends_on.is_(None), PostAssignment.ends_on >= today),
    )
    substituted_ids = select(Substitution.post_id, sa.true()).where(
        Substitution.substitute_id == user.id,
        Substitution.revoked_at.is_(None),
        Substitution.starts_on <= today,
        Substitution.ends_on >= today,
    )
    mine = sa.union_all(held_ids, substituted_ids).subquery()
    held, substituted = [], []
    for post, for_other in session.execute(
        select(Post, mine.c.for_other)
        .join(mine, mine.c.post_id == Post.id)
        .where(Post.active.is_(True))
        .order_by(Post.id)
    ):
        (substituted if for_other else held).append(post)
    return Reach(user, today, held, substituted, {str(r.role) for r in user.roles})


# --- every item at once: who plays a role, as SQL joined to the cycles ---------------


@lru_cache(maxsize=256)
def players(role: Role, today: date) -> sa.Select:
    """Rows (section_id, department_id, user_id) of the posts of `role`'s kinds and the
    active people holding or substituting for them on `today` (holders and substitutes
    alike; a person appears once per post scope). Built once per role and day: a SQL
    expression never changes once made, so pages and jobs share it."""
    held = (
        select(Post.section_id, Post.department_id, PostAssignment.user_id.label("user_id"))
        .join(PostAssignment, PostAssignment.post_id == Post.id)
        .join(User, User.id == PostAssignment.user_id)
        .where(
            Post.kind_code.in_(role.posts),
            Post.active.is_(True),
            User.active.is_(True),
            PostAssignment.starts_on <= today,
            sa.or_(PostAssignment.ends_on.is_(None), PostAssignment.ends_on >= today),
        )
    )
    substituting = (
        select(Post.section_id, Post.department_id, Substitution.substitute_id)
        .join(Substitution, Substitution.post_id == Post.id)
        .join(User, User.id == Substitution.substitute_id)
        .where(
            Post.kind_code.in_(role.posts),
            Post.active.is_(True),
            User.active.is_(True),
            Substitution.revoked_at.is_(None),
            Substitution.starts_on <= today,
            Substitution.ends_on >= today,
        )
    )
    return sa.union(held, substituting)


def join_players(query: sa.Select, role: Role, today: date) -> sa.Select:
    """`query` over Cycle, its ReformItem and the item's owning Section, joined to User:
    one row per cycle and person playing `role` for its item on `today` -- the same people
    as `people`, for every cycle at once, in one statement."""
    if role.granted:
        granted = select(UserRole.user_id).where(UserRole.role == GrantedRole(role.granted))
        return query.join(User, sa.and_(User.id.in_(granted), User.active.is_(True)))
    if role.submitter:
        return query.join(User, sa.and_(User.id == Cycle.submitted_by_id, User.active.is_(True)))
    cast = players(role, today).subquery()
    if role.of == "owning_section":
        on = cast.c.section_id == ReformItem.owning_section_id
    elif role.of == "related_sections":
        on = cast.c.section_id.in_(
            select(item_related_section.c.section_id).where(
                item_related_section.c.item_id == ReformItem.id
            )
        )
    elif role.of == "owning_department":
        on = cast.c.department_id == Section.department_id
    else:  # city
        on = sa.true()
    return query.join(cast, on).join(User, User.id == cast.c.user_id)
