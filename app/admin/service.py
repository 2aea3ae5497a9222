"""Administration of the organisation: departments, sections, posts, users and roles."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.calendar import local_date
from app.models import Department, Post, PostAssignment, PostKind, Role, Section, User, UserRole
from app.text import ActionError, _, current_locale

from . import owners

GRANTED_ROLES = (Role.SECRETARIAT, Role.COMMITTEE, Role.ADMIN)


def can_administer(user: User) -> bool:
    return user.is_authenticated and user.active and user.has_role(Role.ADMIN)


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text, int, bool, department, section, post_kind
    required: bool = True


def specs() -> dict[str, tuple[type, list[Field]]]:
    """The editable organisation entities and their fields."""
    common = [
        Field("code", _("コード")),
        Field("name", _("名称")),
        Field("name_en", _("英語名称"), required=False),
    ]
    return {
        "departments": (
            Department,
            [
                *common,
                Field("position", _("表示順"), "int"),
                Field("active", _("有効"), "bool", False),
            ],
        ),
        "sections": (
            Section,
            [
                *common,
                Field("department_id", _("部"), "department"),
                Field("position", _("表示順"), "int"),
                Field("active", _("有効"), "bool", False),
            ],
        ),
        "post_kinds": (
            PostKind,
            [
                Field("code", _("種類のコード（ワークフロー定義で使う名前）")),
                Field("name", _("名称")),
                Field("name_en", _("英語名"), "text", False),
                Field("position", _("表示順"), "int", False),
            ],
        ),
        "posts": (
            Post,
            [
                Field("code", _("役職コード")),
                Field("name", _("役職名")),
                Field("kind_code", _("種類"), "post_kind"),
                Field("department_id", _("部（全庁の役職は空欄）"), "department", False),
                Field("section_id", _("課"), "section", False),
                Field("active", _("有効"), "bool", False),
            ],
        ),
    }


def entity_title(entity: str) -> str:
    return {
        "departments": _("部"),
        "sections": _("課"),
        "posts": _("役職"),
        "post_kinds": _("役職の種類"),
    }[entity]


def display(obj, f: Field):
    """A field's value as the list shows it (names for references, ○/× for flags)."""
    value = getattr(obj, f.name)
    if f.kind == "bool":
        return "○" if value else "×"
    if f.kind == "department":
        return obj.department.name if obj.department else _("全庁")
    if f.kind == "section":
        return obj.section.name if obj.section else ""
    if f.kind == "post_kind":
        return obj.kind.label(current_locale())
    return value


def parse_fields(session: Session, entity: str, form, current=None) -> tuple[dict, dict]:
    """Values and errors (Japanese, by field) of a submitted entity form."""
    from .forms import entity_form

    model, fields = specs()[entity]
    checked = entity_form(model, fields)(formdata=form)
    checked.validate()
    errors = checked.errors_by_field()
    values = {}
    for f in fields:
        value = checked[f.name].data
        if f.kind == "text":
            value = value or ""
        values[f.name] = value
        if f.kind == "post_kind" and value and f.name not in errors:
            if session.scalar(select(PostKind.id).where(PostKind.code == value)) is None:
                errors[f.name] = _("%(field)sを選んでください。", field=f.label)
    code = values.get("code") if "code" not in errors else None
    if code and entity == "post_kinds" and not re.fullmatch(r"[a-z][a-z0-9_]*", code):
        errors["code"] = _(
            "種類のコードは半角英小文字・数字・_ で入力してください（例: deputy_mayor）。"
        )
    elif code:
        clash = session.scalar(select(model).where(model.code == code))
        if clash is not None and clash is not current:
            errors["code"] = _("コード「%(code)s」は既に使われています。", code=code)
    for f in fields:
        target = {"department": Department, "section": Section}.get(f.kind)
        if target is not None and values[f.name] is not None and f.name not in errors:
            if session.get(target, values[f.name]) is None:
                errors[f.name] = _("%(field)sが見つかりません。", field=f.label)
    section_id, department_id = values.get("section_id"), values.get("department_id")
    if entity == "posts" and section_id and department_id and not errors:
        if session.get(Section, section_id).department_id != department_id:
            errors["section_id"] = _("課が選んだ部に属していません。")
    return values, errors


def save_entity(
    session: Session, entity: str, values: dict, *, by: User, now: datetime, current=None
):
    """Create or update a department, section or post; audited under the "admin" scope."""
    from workflows.audit import record

    model, _fields = specs()[entity]
    obj = current or model()
    before = {k: _plain(getattr(obj, k, None)) for k in values} if current else None
    today = local_date(now)
    checks = _answered_for(obj, today) if current else []
    department_before = obj.department_id if isinstance(obj, Section) and current else None
    for key, value in values.items():
        setattr(obj, key, value)
    session.add(obj)
    session.flush()
    if department_before is not None and obj.department_id != department_before:
        # The section's items now answer to the head of the department it moved to.
        checks += [
            (today, {"department_id": obj.department_id, "role": role.name})
            for role in owners.owner_roles()
            if role.of == "owning_department"
        ]
    _refuse_owner_gaps(session, checks)
    record(
        session,
        scope="admin",
        action=f"{entity}_{'update' if current else 'create'}",
        now=now,
        actor=by,
        data={"id": obj.id, "before": before, "after": {k: _plain(v) for k, v in values.items()}},
    )
    return obj


def _held_scopes(user: User, today: date) -> list[tuple[date, dict[str, int]]]:
    """The departments and sections whose items `user`'s current and future posts answer for."""
    checks = []
    for assignment in user.assignments:
        if assignment.ends_on is not None and assignment.ends_on < today:
            continue
        scope = owners.scope_of(assignment.post) if assignment.post.active else None
        if scope is not None:
            checks.append((max(today, assignment.starts_on), scope))
    return checks


def _answered_for(obj, today: date) -> list[tuple[date, dict[str, int]]]:
    """Before an edit: what a held post answers for, on each day it is held from `today`."""
    if not isinstance(obj, Post) or not obj.active:
        return []
    scope = owners.scope_of(obj)
    if scope is None:
        return []
    return [
        (max(today, a.starts_on), scope)
        for a in obj.assignments
        if (a.ends_on is None or a.ends_on >= today) and a.user.active
    ]


def _refuse_owner_gaps(session: Session, checks: list[tuple[date, dict[str, int]]]) -> None:
    """Refuse (ActionError) a flushed change that leaves an active item without an owner;
    the caller rolls back."""
    messages = owners.owner_gaps(session, checks)
    if messages:
        raise ActionError(" ".join(messages))


def _plain(value):
    return value.value if hasattr(value, "value") else value


def parse_user(session: Session, form, current: User | None = None) -> tuple[dict, dict]:
    """Values and errors (Japanese, by field) of the user form; the address is checked with
    email-validator, a new password against the password rules."""
    from app.auth.passwords import password_problem

    from .forms import UserForm

    checked = UserForm(formdata=form)
    checked.validate()
    errors = checked.errors_by_field()
    values = {
        "login": checked.login.data or "",
        "name": checked.name.data or "",
        "email": checked.email.data or "",
        "active": bool(checked.active.data),
        "roles": checked.roles.data or [],
        "password": checked.password.data or "",
    }
    if values["login"] and "login" not in errors:
        clash = session.scalar(select(User).where(User.login == values["login"]))
        if clash is not None and clash is not current:
            errors["login"] = _(
                "ログインID「%(login)s」は既に使われています。", login=values["login"]
            )
    if (current is None or values["password"]) and "password" not in errors:
        problem = password_problem(values["password"], login=values["login"])
        if problem:
            errors["password"] = problem
    return values, errors


def save_user(
    session: Session, values: dict, *, by: User, now: datetime, current: User | None = None
) -> User:
    """Create or update a user and the roles granted outright; audited."""
    from workflows.audit import record

    user = current or User()
    if current is not None and current.id == by.id and Role.ADMIN.value not in values["roles"]:
        raise ActionError(_("自分自身のシステム管理者の権限は外せません。"))
    before = None
    if current is not None:
        before = {
            "login": user.login,
            "name": user.name,
            "email": user.email,
            "active": user.active,
            "roles": sorted(r.value for r in user.granted_roles()),
        }
    user.login, user.name, user.email = values["login"], values["name"], values["email"]
    user.active = values["active"]
    wanted = {Role(r) for r in values["roles"]}
    user.roles = [r for r in user.roles if r.role in wanted] + [
        UserRole(role=r) for r in wanted - user.granted_roles()
    ]
    if values["password"]:
        user.set_password(values["password"])
    elif before is not None and before["active"] and not user.active:
        user.end_sessions()  # a deactivated user's open sessions end at once
    session.add(user)
    session.flush()
    if before is not None and before["active"] and not user.active:
        _refuse_owner_gaps(session, _held_scopes(user, local_date(now)))
    record(
        session,
        scope="admin",
        action="user_update" if current else "user_create",
        now=now,
        actor=by,
        data={
            "id": user.id,
            "before": before,
            "after": {k: v for k, v in values.items() if k != "password"},
            "password_changed": bool(values["password"]),
        },
    )
    return user


def post_holders(session: Session, today: date) -> tuple[list[str], list[list]]:
    """Every post with who holds it today, for the list and its export."""
    posts = session.scalars(
        select(Post)
        .order_by(Post.department_id, Post.code)
        .options(
            selectinload(Post.department),
            selectinload(Post.section),
            selectinload(Post.assignments).selectinload(PostAssignment.user),
        )
    ).all()
    headers = [
        _("役職コード"),
        _("役職名"),
        _("種類"),
        _("部"),
        _("課"),
        _("在任者ログインID"),
        _("在任者"),
        _("発令日"),
        _("有効"),
    ]
    rows = []
    for post in posts:
        current = [a for a in post.assignments if a.covers(today)]
        rows.append(
            [
                post.code,
                post.name,
                post.kind.name,
                post.department.name if post.department else _("全庁"),
                post.section.name if post.section else "",
                "、".join(a.user.login for a in current),
                "、".join(a.user.name for a in current),
                max((a.starts_on for a in current), default=None),
                "○" if post.active else "×",
            ]
        )
    return headers, rows


def user_rows(session: Session, today: date) -> tuple[list[str], list[list], list[User]]:
    users = session.scalars(
        select(User)
        .order_by(User.login)
        .options(
            selectinload(User.roles),
            selectinload(User.assignments).selectinload(PostAssignment.post),
        )
    ).all()
    headers = [_("ログインID"), _("氏名"), _("メールアドレス"), _("権限"), _("役職"), _("有効")]
    rows = [
        [
            u.login,
            u.name,
            u.email,
            "、".join(r.role.ja for r in u.roles),
            "、".join(p.name for p in u.posts_on(today)),
            "○" if u.active else "×",
        ]
        for u in users
    ]
    return headers, rows, list(users)
