"""Every active reform item keeps an owner: a head in its department and staff in its section.

The personnel transfer, deactivating a user, and deactivating or moving a post or a section
all ask the same question before anything is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Department, ItemStatus, Post, PostAssignment, PostKind, ReformItem, Section
from app.text import _

STAFF_KINDS = (PostKind.STAFF, PostKind.CHIEF)

Holders = Callable[[Post], set[int]]


def scope_of(post: Post) -> dict[str, int] | None:
    """What a post answers for: its department (head posts) or its section (staff, chief)."""
    if post.kind is PostKind.HEAD:
        return {"department_id": post.department_id}
    if post.section_id is not None:
        return {"section_id": post.section_id}
    return None


def active_holders(on: date) -> Holders:
    """The active users holding a post on `on`."""
    return lambda post: {a.user_id for a in post.assignments if a.covers(on) and a.user.active}


def left_without_owner(
    session: Session,
    on: date,
    *,
    department_id: int | None = None,
    section_id: int | None = None,
    holders: Holders | None = None,
) -> bool:
    """Whether the department (`department_id`: its head posts) or the section (`section_id`:
    its staff and chief posts) owns an active item while none of those active posts has a
    holder on `on`. `holders` tells who holds a post (default: its active holders on `on`)."""
    holders = holders or active_holders(on)
    if department_id is not None:
        owns = select(ReformItem.id).join(Section).where(Section.department_id == department_id)
        posts = select(Post).where(Post.department_id == department_id, Post.kind == PostKind.HEAD)
    else:
        owns = select(ReformItem.id).where(ReformItem.owning_section_id == section_id)
        posts = select(Post).where(Post.section_id == section_id, Post.kind.in_(STAFF_KINDS))
    if session.scalar(owns.where(ReformItem.status == ItemStatus.ACTIVE).limit(1)) is None:
        return False
    peers = session.scalars(
        posts.where(Post.active.is_(True)).options(
            selectinload(Post.assignments).selectinload(PostAssignment.user)
        )
    ).all()
    return not any(holders(p) for p in peers)


def gap_message(
    session: Session, *, department_id: int | None = None, section_id: int | None = None
) -> str:
    """Why a change is refused: the department or section would be left without an owner."""
    if department_id is not None:
        unit, what = session.get(Department, department_id), _("部長")
    else:
        unit, what = session.get(Section, section_id), _("担当職員")
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
