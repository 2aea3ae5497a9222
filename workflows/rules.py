"""The business rules every page, job and export asks, each written once.

- whether a year's evaluation counts as confirmed (committee, publication, demo, API);
- who must act on a cycle now (`permissions.who_must_act`, re-exported here);
- who answers the committee's opinions and questions on an item (the definition's
  `committee: {answer: [roles]}`), as people and as a SQL condition for task lists;
- when a cycle is due and whether it is overdue, and by how many business days.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from app.calendar import business_days_between
from app.models import Cycle, User

from .definition import Definition, State, Transition
from .permissions import who_must_act
from .registry import all_definitions, definition_of
from .roles import Reach, people, standing

__all__ = [
    "answers_committee",
    "committee_answer_clause",
    "committee_answerers",
    "confirmed_after",
    "confirmed_clause",
    "days_overdue",
    "evaluation_confirmed",
    "is_overdue",
    "who_must_act",
]


def evaluation_confirmed(cycle: Cycle) -> bool:
    """The year's evaluation counts as confirmed (for the committee and publication).

    It was confirmed by a transition marked `confirms` and has not been taken back since:
    the cycle stayed in states marked `confirmed`, or was halted (suspended, abolished)
    from one of them.
    """
    return cycle.confirmed_at is not None


def confirmed_clause() -> ColumnElement[bool]:
    """The same rule as a SQL condition on Cycle."""
    return Cycle.confirmed_at.is_not(None)


def confirmed_after(
    definition: Definition, transition: Transition | None, dest: State, confirmed: bool
) -> bool | None:
    """Whether the evaluation stands confirmed after a move into `dest`.

    True: confirmed by this move (record the moment); False: no longer confirmed; None:
    unchanged (a halted state keeps what the cycle had).
    """
    if transition is not None and transition.confirms:
        return True
    if dest.item_status is not None:
        return None
    if dest.confirmed:
        return None if confirmed else False
    return False


def is_overdue(due: date | None, today: date) -> bool:
    """A deadline has passed: the day after the (business-day) deadline."""
    return due is not None and due < today


def days_overdue(due: date, today: date) -> int:
    """How late a cycle is, in business days (the unit of escalations)."""
    return business_days_between(due, today)


def committee_answerers(cycle: Cycle, today: date) -> list[User]:
    """Who answers the committee's opinions and questions on `cycle` (task and mail)."""
    definition = definition_of(cycle)
    found: dict[int, User] = {}
    for role in definition.committee_answer:
        for user in people(definition.roles[role], cycle.item, today):
            found.setdefault(user.id, user)
    return list(found.values())


def answers_committee(user: User, cycle: Cycle, today: date) -> bool:
    """Whether `user` is among `committee_answerers` (in person or as a substitute)."""
    definition = definition_of(cycle)
    return any(
        standing(user, definition.roles[role], cycle.item, today) is not None
        for role in definition.committee_answer
    )


def committee_answer_clause(reach: Reach) -> ColumnElement[bool]:
    """The same rule as a SQL condition on Cycle joined to ReformItem, for one user."""
    parts = [
        sa.and_(Cycle.definition_version == d.version, reach.clause(d.roles[role]))
        for d in all_definitions()
        for role in d.committee_answer
    ]
    return sa.or_(*parts) if parts else sa.false()
