"""Settings > API tokens: make a token (shown once), list them, revoke one."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.calendar import TOKYO
from app.extensions import db
from app.models import ApiToken
from app.once import once

from . import bp, service
from .forms import ACCESS_CHOICES, DAYS_CHOICES, TokenForm


def _now() -> datetime:
    return datetime.now(UTC)


def _page(form: TokenForm, created: str | None = None, status: int = 200):
    now = _now()
    return render_template(
        "tokens/index.html",
        form=form,
        tokens=service.tokens_of(db.session, current_user),
        created=created,
        now=now,
        tz=TOKYO,
        access_choices=ACCESS_CHOICES,
        days_choices=DAYS_CHOICES,
        errors=form.errors_by_field(),
    ), status


@bp.route("/account/tokens")
@login_required
def index():
    return _page(TokenForm())


@bp.route("/account/tokens", methods=["POST"])
@login_required
@once
def create():
    form = TokenForm.posted()
    if not form.validate():
        return _page(form, status=422)
    now = _now()
    if service.active_count(db.session, current_user, now) >= service.MAX_ACTIVE:
        form.name.errors.append(
            _(
                "有効なトークンは%(num)d個までです。使わないものを無効にしてください。",
                num=service.MAX_ACTIVE,
            )
        )
        return _page(form, status=422)
    _row, text = service.create_token(
        db.session,
        current_user,
        name=form.name.data,
        access=form.access.data,
        days=int(form.days.data),
        now=now,
    )
    db.session.commit()
    # Shown on this answer only: never flashed (the session cookie is signed, not secret),
    # never stored.
    return _page(TokenForm(), created=text, status=201)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
@once
def revoke(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    service.revoke_token(db.session, token, by=current_user, now=_now())
    db.session.commit()
    flash(_("トークン %(prefix)s… を無効にしました。", prefix=token.prefix), "success")
    return redirect(url_for("tokens.index"), 303)
