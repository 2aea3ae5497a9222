"""Who may fire which transition on a cycle on a given day; who must act next.

Every answer comes from the cycle's own definition version: the roles of its transitions
and the actor of its state, resolved to people on the day (`workflows.roles`). Deny by
default.
"""

from __future__ import annotations

from datetime import date

from app.models import Cycle, ReformItem, Role, User

from .definition import Definition, Transition
from .registry import definition_of, get_definition
from .roles import people, standing


def permits(
    definition: Definition, transition: Transition, cycle: Cycle, user: User, today: date
) -> bool:
    """The transition's roles allow `user`, and a decision is not on their own submission."""
    if not user.active:
        return False
    if transition.decides and cycle.submitted_by_id == user.id:
        return False
    return any(
        standing(user, definition.roles[role], cycle.item, today, cycle.submitted_by_id) is not None
        for role in transition.roles
    )


def acting_for(
    definition: Definition, transition: Transition, cycle: Cycle, user: User, today: date
) -> User | None:
    """The post holder `user` acts for as substitute (代理); None when acting in person."""
    found = None
    for role in transition.roles:
        how = standing(user, definition.roles[role], cycle.item, today, cycle.submitted_by_id)
        if how is not None and how.on_behalf_of is None:
            return None
        found = found or (how.on_behalf_of if how else None)
    return found


def involved(cycle: Cycle, user: User, today: date) -> bool:
    """Whether `user` plays any role of the cycle's workflow for it (the submitter aside)."""
    return _plays_any(definition_of(cycle), user, cycle.item, today)


def _plays_any(definition: Definition, user: User, item: ReformItem, today: date) -> bool:
    return any(
        standing(user, role, item, today) is not None
        for role in definition.roles.values()
        if not role.submitter
    )


def can_fire(cycle: Cycle, trigger: str, user: User, today: date) -> bool:
    """Whether `user` may fire `trigger` on `cycle` in its current state on `today`."""
    definition = definition_of(cycle)
    transition = definition.transition(cycle.state, trigger)
    return transition is not None and permits(definition, transition, cycle, user, today)


def allowed(cycle: Cycle, user: User, today: date) -> list[Transition]:
    """The transitions `user` may fire on `cycle` now (guards not checked)."""
    definition = definition_of(cycle)
    seen: set[str] = set()
    found = []
    for transition in definition.leaving(cycle.state):
        if transition.trigger in seen:
            continue
        seen.add(transition.trigger)
        if permits(definition, transition, cycle, user, today):
            found.append(transition)
    return found


def allowed_triggers(cycle: Cycle, user: User, today: date) -> list[str]:
    return [t.trigger for t in allowed(cycle, user, today)]


def who_must_act(cycle: Cycle, today: date) -> list[User]:
    """The people who must act on `cycle` now: its state's actor role, resolved on `today`.

    Nobody for final and halted states; when the state waits for a decision, the author of
    the submission is not among them (nobody decides on their own submission).
    """
    definition = definition_of(cycle)
    state = definition.state(cycle.state)
    if state is None or state.actor is None:
        return []
    users = people(definition.roles[state.actor], cycle.item, today, cycle.submitted_by)
    if cycle.state in definition.deciding_states:
        users = [u for u in users if u.id != cycle.submitted_by_id]
    return users


def role_people(cycle: Cycle, role: str, today: date) -> list[User]:
    """Everyone who plays the cycle definition's `role` on `today`."""
    return people(definition_of(cycle).roles[role], cycle.item, today, cycle.submitted_by)


def opens_every_item(user: User) -> bool:
    """The secretariat and the administrators open every item's page (an active user)."""
    return user.has_role(Role.SECRETARIAT) or user.has_role(Role.ADMIN)


def can_view_item(user: User, item: ReformItem, today: date) -> bool:
    """The item page with its drafts and history: the people who work on or decide the item.

    Whoever plays a post-based role of the workflow for the item (the owning and related
    sections' staff, the deciders and their running substitutes), the secretariat and the
    administrators. Committee members read the confirmed evaluations on their own pages.
    """
    if not user.active:
        return False
    if opens_every_item(user):
        return True
    definition = definition_of(item.cycles[-1]) if item.cycles else get_definition()
    return any(
        standing(user, role, item, today) is not None
        for role in definition.roles.values()
        if role.post_based
    )


def viewable_items_clause(session, user: User, today: date):
    """A SQL condition on `ReformItem` met by every item `viewable_items` keeps: the items
    the user reaches through a post-based role of any known definition; None when the user
    may open every item. A list filters with it before judging each row with
    `viewable_items`, so a page of what one section may open does not walk the whole city."""
    import sqlalchemy as sa

    from .registry import all_definitions
    from .roles import reach_of

    if not user.active:
        return sa.false()
    if opens_every_item(user):
        return None
    reach = reach_of(session, user, today)
    clauses = [
        reach.clause(role)
        for definition in all_definitions()
        for role in definition.roles.values()
        if role.post_based
    ]
    return sa.or_(*clauses) if clauses else sa.false()


def viewable_items(session, user: User, today: date, items: list[ReformItem]) -> set[int]:
    """The ids among `items` whose page `user` may open (`can_view_item` for a whole list,
    in two or three queries whatever its length)."""
    from sqlalchemy import or_, select

    from .registry import all_definitions
    from .roles import reach_of

    if not user.active:
        return set()
    if opens_every_item(user):
        return {item.id for item in items}
    reach = reach_of(session, user, today)
    # Each item is judged by the definition of its latest cycle (the current one if none).
    versions: dict[str, list[int]] = {}
    for item in items:
        version = item.cycles[-1].definition_version if item.cycles else get_definition().version
        versions.setdefault(version, []).append(item.id)
    known = {d.version: d for d in all_definitions()}
    found: set[int] = set()
    for version, ids in versions.items():
        definition = known.get(version) or get_definition(version)
        clauses = [reach.clause(r) for r in definition.roles.values() if r.post_based]
        if not clauses:
            continue
        plans = {item.plan_id for item in items}
        query = select(ReformItem.id).where(ReformItem.plan_id.in_(plans), or_(*clauses))
        allowed = set(session.scalars(query))
        found |= allowed & set(ids)
    return found
