"""Login, logout and the language switch."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired

from app.calendar import local_date
from app.extensions import db, login_manager
from app.models import User

from . import bp
from .directory import (
    DirectorySettings,
    DirectoryUnavailable,
    authenticate,
    sync_user,
    uses_directory,
)
from .throttle import clear_failures, is_throttled, record_failure


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    ident, _sep, token = user_id.partition(":")
    if not ident.isdigit():
        return None
    user = db.session.get(User, int(ident))
    if user is None or not user.active or user.session_token != token:
        return None
    return user


class LoginForm(FlaskForm):
    login = StringField(
        _l("ログインID"), validators=[DataRequired(message=_l("ログインIDを入力してください。"))]
    )
    password = PasswordField(
        _l("パスワード"), validators=[DataRequired(message=_l("パスワードを入力してください。"))]
    )
    remember = BooleanField(_l("ログイン状態を保持する"))


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        login_name = form.login.data.strip()
        address = request.remote_addr or ""
        now = datetime.now(UTC)
        if is_throttled(db.session, login_name, address, now):
            flash(
                _(
                    "ログインの失敗が続いたため、しばらくログインできません。15分ほど待ってからお試しください。"
                ),
                "error",
            )
            return render_template("auth/login.html", form=form), 429
        user = db.session.scalar(select(User).where(User.login == login_name))
        directory = DirectorySettings.from_config(current_app.config)
        if directory is not None and uses_directory(user):
            try:
                user = directory_sign_in(directory, login_name, form.password.data, now)
            except DirectoryUnavailable as exc:
                current_app.logger.warning("directory unavailable: %s", exc)
                flash(
                    _(
                        "ディレクトリサーバーに接続できないため、ログインできません。しばらくしてからお試しください。"
                    ),
                    "error",
                )
                return render_template("auth/login.html", form=form), 503
            password_ok = user is not None
        else:
            password_ok = user is not None and user.check_password(form.password.data)
        if not password_ok or not user.active:
            record_failure(db.session, login_name, address, now)
            db.session.commit()
            flash(_("ログインIDまたはパスワードが正しくありません。"), "error")
            return render_template("auth/login.html", form=form), 401
        clear_failures(db.session, login_name, address)
        db.session.commit()
        login_user(user, remember=form.remember.data)
        session["locale"] = user.locale or "ja"
        return redirect(safe_next(request.args.get("next")) or url_for("main.index"))
    return render_template("auth/login.html", form=form)


def directory_sign_in(
    directory: DirectorySettings, login_name: str, password: str, now: datetime
) -> User | None:
    """The user the directory vouches for, created or updated from it; None if refused."""
    account = authenticate(directory, login_name, password)
    if account is None:
        return None
    return sync_user(db.session, directory, account, local_date(now))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(_("ログアウトしました。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/csrf-token")
@login_required
def csrf_token():
    """A fresh form token, for a page whose forms are about to expire (static/js/forms.js)."""
    response = jsonify(token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/locale/<code>", methods=["POST"])
def set_locale(code: str):
    if code in ("ja", "en"):
        session["locale"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("main.index"))
