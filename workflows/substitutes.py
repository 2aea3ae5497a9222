"""Substitutes (代理): someone who acts for a post's holder between two dates, on the record.

A substitution is of a post, so it works for every role that the post's kind plays in the
workflow. Only someone who could work on the workflow is eligible: on the first day they
hold a post of a kind some role of the definition names, in the post's department (any
department for a city-wide post). A committee member or an outside user is not.
"""

from __future__ import annotations

from datetime import date, datetime

from app.calendar import local_date
from app.models import Post, Role, Substitution, User

from . import audit
from .errors import N_, GuardFailed, PermissionDenied
from .registry import get_definition
from .roles import session_of


def workflow_post_kinds() -> set[str]:
    """Post kinds that play a role in the current definition."""
    return {kind for role in get_definition().roles.values() for kind in role.posts}


def eligible_substitute(post: Post, user: User, on: date) -> bool:
    """Whether `user` may act for `post`'s holder from `on`."""
    if not user.active:
        return False
    kinds = workflow_post_kinds()
    return any(
        held.kind_code in kinds
        and held.active
        and (post.department_id is None or held.department_id == post.department_id)
        for held in user.posts_on(on)
    )


def register_substitute(
    post: Post,
    *,
    substitute: User,
    starts_on: date,
    ends_on: date,
    by: User,
    now: datetime,
    reason: str = "",
) -> Substitution:
    """Let `substitute` act for `post` from `starts_on` to `ends_on` (inclusive)."""
    session = session_of(post)
    today = local_date(now)
    holder_ids = {u.id for u in post.holders(today)} | {u.id for u in post.holders(starts_on)}
    if not (
        by.active
        and (by.id in holder_ids or by.has_role(Role.ADMIN) or by.has_role(Role.SECRETARIAT))
    ):
        raise PermissionDenied(
            N_("代理者を登録できるのは、その役職の本人、事務局または管理者です。")
        )
    if substitute.id == by.id or substitute.id in holder_ids:
        raise GuardFailed(N_("本人を代理者にすることはできません。"), field="substitute")
    if not substitute.active:
        raise GuardFailed(N_("無効な利用者は代理者にできません。"), field="substitute")
    if not eligible_substitute(post, substitute, starts_on):
        raise GuardFailed(
            N_(
                "代理者には、開始日にこの部局でワークフローの役職に就いている職員を選んでください。"
            ),
            field="substitute",
        )
    if ends_on < starts_on:
        raise GuardFailed(N_("終了日は開始日以降の日付にしてください。"), field="ends_on")
    with session.begin_nested():
        substitution = Substitution(
            post=post,
            substitute=substitute,
            starts_on=starts_on,
            ends_on=ends_on,
            reason=(reason or "").strip(),
            created_by=by,
            created_at=now,
        )
        session.add(substitution)
        session.flush()
        audit.record(
            session,
            scope=f"post:{post.id}",
            action="register_substitute",
            now=now,
            actor=by,
            comment=substitution.reason,
            data={
                "substitution": substitution.id,
                "substitute": substitute.id,
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat(),
            },
        )
    return substitution


def revoke_substitute(
    substitution: Substitution, *, by: User, now: datetime, reason: str = ""
) -> Substitution:
    """End a substitution now; it gives no rights afterwards."""
    session = session_of(substitution)
    post = substitution.post
    today = local_date(now)
    allowed = (
        by in post.holders(today)
        or by.has_role(Role.ADMIN)
        or by.has_role(Role.SECRETARIAT)
        or by.id == substitution.created_by_id
    )
    if not (by.active and allowed):
        raise PermissionDenied(N_("代理の取消しを行う権限がありません。"))
    if substitution.revoked_at is not None:
        return substitution
    with session.begin_nested():
        substitution.revoked_at = now
        session.flush()
        audit.record(
            session,
            scope=f"post:{post.id}",
            action="revoke_substitute",
            now=now,
            actor=by,
            comment=(reason or "").strip(),
            data={"substitution": substitution.id},
        )
    return substitution
