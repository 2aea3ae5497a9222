"""Every active reform item keeps its people: each role of the workflow that is resolved
from posts of the item's owning section or department (staff, the department head ...)
must have a holder.

The personnel transfer, deactivating a user, and deactivating or moving a post or a section
all ask the same question before anything is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Department, ItemStatus, Post, PostAssignment, ReformItem, Section
from app.text import _, current_locale
from workflows.definition import Role
from workflows.registry import get_definition

Holders = Callable[[Post], set[int]]


def owner_roles() -> list[Role]:
    """Roles of the current workflow that someone in the item's own section or department
    must play: without a holder, the item's cycle would wait for nobody."""
    definition = get_definition()
    acting = {s.actor for s in definition.states.values() if s.actor}
    return [
        role
        for name, role in definition.roles.items()
        if name in acting and role.of in ("owning_section", "owning_department")
    ]


def scope_of(post: Post) -> dict | None:
    """What a post answers for: the role it plays, in its department or section."""
    for role in owner_roles():
        if post.kind_code not in role.posts:
            continue
        if role.of == "owning_department" and post.department_id is not None:
            return {"department_id": post.department_id, "role": role.name}
        if role.of == "owning_section" and post.section_id is not None:
            return {"section_id": post.section_id, "role": role.name}
    return None


def _role(name: str) -> Role:
    return get_definition().roles[name]


def active_holders(on: date) -> Holders:
    """The active users holding a post on `on`."""
    return lambda post: {a.user_id for a in post.assignments if a.covers(on) and a.user.active}


def left_without_owner(
    session: Session,
    on: date,
    *,
    role: str,
    department_id: int | None = None,
    section_id: int | None = None,
    holders: Holders | None = None,
) -> bool:
    """Whether the department (`department_id`) or the section (`section_id`) owns an active
    item while none of its active posts of `role`'s kinds has a holder on `on`. `holders`
    tells who holds a post (default: its active holders on `on`)."""
    holders = holders or active_holders(on)
    kinds = _role(role).posts
    if department_id is not None:
        owns = select(ReformItem.id).join(Section).where(Section.department_id == department_id)
        posts = select(Post).where(Post.department_id == department_id, Post.kind_code.in_(kinds))
    else:
        owns = select(ReformItem.id).where(ReformItem.owning_section_id == section_id)
        posts = select(Post).where(Post.section_id == section_id, Post.kind_code.in_(kinds))
    if session.scalar(owns.where(ReformItem.status == ItemStatus.ACTIVE).limit(1)) is None:
        return False
    peers = session.scalars(
        posts.where(Post.active.is_(True)).options(
            selectinload(Post.assignments).selectinload(PostAssignment.user)
        )
    ).all()
    return not any(holders(p) for p in peers)


def gap_message(
    session: Session,
    *,
    role: str,
    department_id: int | None = None,
    section_id: int | None = None,
) -> str:
    """Why a change is refused: the department or section would be left without an owner."""
    unit = session.get(
        Department if department_id is not None else Section, department_id or section_id
    )
    what = _role(role).label(current_locale())
    return _(
        "この変更で「%(unit)s」が所管する改革項目の%(what)sがいなくなります。"
        "先に後任を発令してください。",
        unit=unit.name,
        what=what,
    )


def owner_gaps(session: Session, checks: list[tuple[date, dict[str, int]]]) -> list[str]:
    """The messages (Japanese) for each (date, scope) left without an owner, once each."""
    messages: list[str] = []
    for on, scope in checks:
        if left_without_owner(session, on, **scope):
            message = gap_message(session, **scope)
            if message not in messages:
                messages.append(message)
    return messages
