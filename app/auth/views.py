"""Login, logout, the password change and the language switch."""

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
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from app.calendar import local_date
from app.extensions import db
from app.models import User

from . import bp
from .directory import (
    DirectorySettings,
    DirectoryUnavailable,
    authenticate,
    sync_user,
    uses_directory,
)
from .forms import LoginForm, PasswordChangeForm
from .passwords import password_problem
from .sessions import sign_in, sign_out, verify_password
from .throttle import clear_failures, is_throttled, record_failure

THROTTLED = _l(
    "ログインの失敗が続いたため、しばらくログインできません。15分ほど待ってからお試しください。"
)


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ord(c) < 32 or ord(c) == 127 or c == "\\" for c in target):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm.posted()
    if request.method == "POST" and not form.validate():
        return render_template("auth/login.html", form=form), 422
    if request.method == "POST":
        login_name = form.login.data
        address = request.remote_addr or ""
        now = datetime.now(UTC)
        if is_throttled(db.session, login_name, address, now):
            flash(str(THROTTLED), "error")
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
            password_ok = user is not None and user.active
        else:
            password_ok = verify_password(user, form.password.data)
        if not password_ok:
            record_failure(db.session, login_name, address, now)
            db.session.commit()
            flash(_("ログインIDまたはパスワードが正しくありません。"), "error")
            return render_template("auth/login.html", form=form), 401
        clear_failures(db.session, login_name, address)
        sign_in(user, remember=bool(form.remember.data))
        db.session.commit()
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
    sign_out(current_user._get_current_object())
    flash(_("ログアウトしました。"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password; every other session of the user ends."""
    from workflows.audit import record

    form = PasswordChangeForm.posted()
    user = current_user._get_current_object()
    directory = DirectorySettings.from_config(current_app.config)
    if directory is not None and uses_directory(user):
        flash(
            _(
                "このアカウントのパスワードは庁内のディレクトリで管理されています。ディレクトリの手続きで変更してください。"
            ),
            "error",
        )
        return render_template("auth/password.html", form=form), (
            409 if request.method == "POST" else 200
        )
    if request.method == "GET":
        return render_template("auth/password.html", form=form)
    if not form.validate():
        return render_template("auth/password.html", form=form), 422
    address, now = request.remote_addr or "", datetime.now(UTC)
    if is_throttled(db.session, user.login, address, now):
        flash(str(THROTTLED), "error")
        return render_template("auth/password.html", form=form), 429
    if not verify_password(user, form.current_password.data):
        record_failure(db.session, user.login, address, now)
        db.session.commit()
        form.current_password.errors.append(_("現在のパスワードが正しくありません。"))
        return render_template("auth/password.html", form=form), 422
    problem = password_problem(form.new_password.data, login=user.login)
    if problem is None and verify_password(user, form.new_password.data):
        problem = _("新しいパスワードは、現在のパスワードと違うものにしてください。")
    if problem:
        form.new_password.errors.append(problem)
        return render_template("auth/password.html", form=form), 422
    user.set_password(form.new_password.data)
    record(
        db.session,
        scope="admin",
        action="password_change",
        now=now,
        actor=user,
        data={"id": user.id},
    )
    sign_in(user, remember=False)
    db.session.commit()
    flash(_("パスワードを変更しました。ほかの端末のログインは終了しました。"), "success")
    return redirect(url_for("main.index"))


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
