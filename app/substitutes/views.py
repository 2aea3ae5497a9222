"""代理設定: a department head names who decides in their place, and revokes it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.calendar import local_date
from app.extensions import db
from app.models import Post, Substitution, User
from app.once import once
from workflows import errors as workflow_errors
from workflows import operations
from workflows.registry import get_definition
from workflows.substitutes import eligible_substitute

from . import bp
from .forms import SubstituteForm


def now() -> datetime:
    return datetime.now(UTC)


def deciding_kinds() -> set[str]:
    """Post kinds whose holders decide in the workflow (所管部長, 副市長 ...)."""
    definition = get_definition()
    return {
        kind
        for name, state in definition.states.items()
        if state.actor and name in definition.deciding_states
        for kind in definition.roles[state.actor].posts
    }


def head_posts_of(user: User, today: date) -> list[Post]:
    """The deciding posts `user` holds on `today`; only these can be given a substitute."""
    kinds = deciding_kinds()
    return [p for p in user.posts_on(today) if p.kind_code in kinds and p.active]


def can_manage_substitutes(user: User, post: Post, today: date) -> bool:
    return post.kind_code in deciding_kinds() and user in post.holders(today)


def candidates(user: User, posts: list[Post], today: date) -> list[User]:
    """Who may be named: eligible under the workflow's roles for one of the posts."""
    users = db.session.scalars(
        select(User)
        .where(User.active.is_(True), User.id != user.id)
        .order_by(User.name_kana, User.name)
    )
    return [u for u in users if any(eligible_substitute(p, u, today) for p in posts)]


def render_page(posts, values, errors, status=200):
    post_ids = [p.id for p in posts]
    rows = (
        db.session.scalars(
            select(Substitution)
            .where(Substitution.post_id.in_(post_ids or [-1]))
            .order_by(Substitution.starts_on.desc(), Substitution.id.desc())
        ).all()
        if post_ids
        else []
    )
    return render_template(
        "substitutes/index.html",
        posts=posts,
        substitutions=rows,
        users=candidates(current_user, posts, local_date(now())),
        values=values,
        errors=errors,
        today=local_date(now()),
    ), status


@bp.route("/", methods=["GET", "POST"])
@login_required
@once
def index():
    today = local_date(now())
    posts = head_posts_of(current_user, today)
    if not posts:
        abort(403)
    if request.method == "GET":
        return render_page(posts, {"post_id": str(posts[0].id)}, {})

    values = request.form.to_dict()
    form = SubstituteForm.posted()
    form.validate()
    errors: dict[str, str] = form.errors_by_field()
    post = next((p for p in posts if p.id == form.post_id.data), None)
    if post is None or not can_manage_substitutes(current_user, post, today):
        errors["post_id"] = _("代理を設定する役職を選んでください。")
    substitute = db.session.get(User, form.substitute_id.data) if form.substitute_id.data else None
    if substitute is None or not substitute.active:
        errors["substitute_id"] = _("代理者を選んでください。")
    elif substitute.id == current_user.id:
        errors["substitute_id"] = _("自分自身を代理者にはできません。")
    starts_on, ends_on, reason = form.starts_on.data, form.ends_on.data, form.reason.data
    for field, value, label in (
        ("starts_on", starts_on, _("開始日")),
        ("ends_on", ends_on, _("終了日")),
    ):
        if value is None and field not in errors:
            errors[field] = _("%(label)sを入力してください。", label=label)
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = _("終了日は開始日以降にしてください。")
    if ends_on and ends_on < today and "ends_on" not in errors:
        errors["ends_on"] = _("終了日に過去の日付は指定できません。")
    if errors:
        return render_page(posts, values, errors, 422)
    try:
        operations.register_substitute(
            post,
            substitute=substitute,
            starts_on=starts_on,
            ends_on=ends_on,
            by=current_user,
            now=now(),
            reason=reason,
        )
    except workflow_errors.WorkflowError as exc:
        db.session.rollback()
        field = {"substitute": "substitute_id"}.get(getattr(exc, "field", None) or "", "_form")
        errors[field if field in values else "_form"] = exc.message
        return render_page(
            posts, values, errors, 403 if isinstance(exc, workflow_errors.PermissionDenied) else 422
        )
    db.session.commit()
    flash(_("%(name)sさんを代理者に設定しました。", name=substitute.name), "success")
    return redirect(url_for("substitutes.index"))


@bp.route("/<int:substitution_id>/revoke", methods=["POST"])
@login_required
@once
def revoke(substitution_id: int):
    substitution = db.session.get(Substitution, substitution_id)
    if substitution is None:
        abort(404)
    moment = now()
    if not can_manage_substitutes(current_user, substitution.post, local_date(moment)):
        abort(403)
    if substitution.revoked_at is None:
        try:
            operations.revoke_substitute(substitution, by=current_user, now=moment)
        except workflow_errors.WorkflowError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return redirect(url_for("substitutes.index"))
        db.session.commit()
        flash(_("代理設定を取り消しました。"), "success")
    return redirect(url_for("substitutes.index"))
