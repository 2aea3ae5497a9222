"""Who may fire which trigger on a cycle, on a given day; who must act next.

Rights follow posts held on the day (PostAssignment) and substitutions running on the day,
never the person's current job. Deny by default.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from app.models import (
    Cycle,
    Post,
    PostAssignment,
    PostKind,
    ReformItem,
    Role,
    Substitution,
    User,
    UserRole,
)

from .definition import Transition, get_definition

STAFF_KINDS = (PostKind.STAFF, PostKind.CHIEF)


def _session(obj) -> Session:
    session = object_session(obj)
    if session is None:
        raise RuntimeError(f"{obj!r} is not attached to a session")
    return session


def head_posts(item: ReformItem) -> list[Post]:
    """The head posts of the item's owning department."""
    session = _session(item)
    return list(
        session.scalars(
            select(Post)
            .where(
                Post.kind == PostKind.HEAD,
                Post.department_id == item.owning_section.department_id,
                Post.active.is_(True),
            )
            .order_by(Post.id)
        )
    )


def active_substitutions(post: Post, today: date) -> list[Substitution]:
    """The substitutions of `post` running on `today` (not revoked, dates inclusive)."""
    session = _session(post)
    rows = session.scalars(
        select(Substitution)
        .where(
            Substitution.post_id == post.id,
            Substitution.starts_on <= today,
            Substitution.ends_on >= today,
            Substitution.revoked_at.is_(None),
        )
        .order_by(Substitution.id)
    )
    return [s for s in rows if s.substitute.active]


def is_head_of(user: User, item: ReformItem, today: date) -> bool:
    """Whether `user` holds the head post of the item's owning department on `today`."""
    return user.active and any(user in post.holders(today) for post in head_posts(item))


def is_staff_of(user: User, item: ReformItem, today: date) -> bool:
    """Whether `user` holds a staff or chief post in the owning section on `today`."""
    return user.active and any(
        p.section_id == item.owning_section_id and p.kind in STAFF_KINDS
        for p in user.posts_on(today)
    )


def _substituted_post(user: User, item: ReformItem, today: date) -> Post | None:
    for post in head_posts(item):
        if any(s.substitute_id == user.id for s in active_substitutions(post, today)):
            return post
    return None


def acting_for(cycle: Cycle, user: User, today: date) -> User | None:
    """The head `user` decides for as substitute; None when acting as themselves."""
    if is_head_of(user, cycle.item, today):
        return None
    post = _substituted_post(user, cycle.item, today)
    if post is None:
        return None
    holders = post.holders(today)
    return holders[0] if holders else None


def may_decide_as_head(user: User, item: ReformItem, today: date) -> bool:
    """Holder of the head post or its running substitute."""
    return user.active and (
        is_head_of(user, item, today) or _substituted_post(user, item, today) is not None
    )


def is_secretariat(user: User) -> bool:
    return user.active and user.has_role(Role.SECRETARIAT)


def can_view_item(user: User, item: ReformItem, today: date) -> bool:
    """The item page with its drafts and history: the people who work on or decide the item.

    The owning section's staff, the related sections' staff, the owning department's head and
    its running substitutes, the secretariat and administrators. Committee members read the
    submitted evaluations on their own pages.
    """
    if not user.active:
        return False
    if user.has_role(Role.SECRETARIAT) or user.has_role(Role.ADMIN):
        return True
    sections = {item.owning_section_id} | {s.id for s in item.related_sections}
    if any(p.section_id in sections and p.kind in STAFF_KINDS for p in user.posts_on(today)):
        return True
    return may_decide_as_head(user, item, today)


def has_role_for(role: str, cycle: Cycle, user: User, today: date) -> bool:
    """Whether `user` plays `role` (a definition role name) for `cycle` on `today`."""
    if not user.active:
        return False
    if role == "staff":
        return is_staff_of(user, cycle.item, today)
    if role == "author":
        return cycle.submitted_by_id is not None and cycle.submitted_by_id == user.id
    if role == "head":
        return may_decide_as_head(user, cycle.item, today)
    if role == "secretariat":
        return user.has_role(Role.SECRETARIAT)
    if role == "committee":
        return user.has_role(Role.COMMITTEE)
    return False


def permits(transition: Transition, cycle: Cycle, user: User, today: date) -> bool:
    """The transition's roles allow `user`, and a decision is not on their own submission."""
    if transition.decides and cycle.submitted_by_id == user.id:
        return False
    return any(has_role_for(role, cycle, user, today) for role in transition.roles)


def can_fire(cycle: Cycle, trigger: str, user: User, today: date) -> bool:
    """Whether `user` may fire `trigger` on `cycle` in its current state on `today`."""
    transition = get_definition(cycle.definition_version).transition(cycle.state, trigger)
    return transition is not None and permits(transition, cycle, user, today)


def allowed_triggers(cycle: Cycle, user: User, today: date) -> list[str]:
    """The triggers `user` may fire on `cycle` now (guards not checked)."""
    definition = get_definition(cycle.definition_version)
    return [
        trigger
        for trigger in definition.triggers_from(cycle.state)
        if permits(definition.transition(cycle.state, trigger), cycle, user, today)
    ]


def section_staff(item: ReformItem, today: date) -> list[User]:
    """Holders on `today` of the staff and chief posts of the owning section."""
    session = _session(item)
    assignments = session.scalars(
        select(PostAssignment)
        .join(Post)
        .where(
            Post.section_id == item.owning_section_id,
            Post.kind.in_(STAFF_KINDS),
            PostAssignment.starts_on <= today,
        )
    )
    return _unique(a.user for a in assignments if a.covers(today) and a.user.active)


def deciders(item: ReformItem, today: date) -> list[User]:
    """The head post holders and their running substitutes."""
    users: list[User] = []
    for post in head_posts(item):
        users.extend(u for u in post.holders(today) if u.active)
        users.extend(s.substitute for s in active_substitutions(post, today))
    return _unique(users)


def secretariat_users(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(UserRole)
            .where(UserRole.role == Role.SECRETARIAT, User.active.is_(True))
            .order_by(User.id)
        )
    )


def who_must_act(cycle: Cycle, today: date) -> list[User]:
    """The people who must act on `cycle` now; empty for final and suspended states."""
    state = get_definition(cycle.definition_version).states.get(cycle.state)
    if state is None or state.final or state.actor is None:
        return []
    if state.actor == "staff":
        return section_staff(cycle.item, today)
    if state.actor == "head":
        return [u for u in deciders(cycle.item, today) if u.id != cycle.submitted_by_id]
    if state.actor == "secretariat":
        return [u for u in secretariat_users(_session(cycle)) if u.id != cycle.submitted_by_id]
    return []


def _unique(users) -> list[User]:
    seen: dict[int, User] = {}
    for user in users:
        seen.setdefault(user.id, user)
    return list(seen.values())
