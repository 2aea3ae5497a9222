"""送信メールの確認 (development): the mail caught by `flask mail catcher`, listed."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime

from flask import abort, current_app, render_template
from flask_login import current_user, login_required

from app.models import Role, User
from notifications.catcher import read_mailbox

from . import bp

NAME = re.compile(r"^[0-9]+-[0-9]+\.eml$")


def can_view_mailbox(user: User) -> bool:
    """Only the secretariat and administrators, and only where the catcher is on."""
    return bool(current_app.config.get("MAIL_CATCHER")) and bool(
        user.granted_roles() & {Role.SECRETARIAT, Role.ADMIN}
    )


def _guard() -> None:
    if not current_app.config.get("MAIL_CATCHER"):
        abort(404)
    if not can_view_mailbox(current_user):
        abort(403)


@bp.get("/")
@login_required
def index():
    """List the caught messages, newest first."""
    _guard()
    messages = [
        (name, message, _sent_at(message))
        for name, message in read_mailbox(current_app.config["MAILBOX_DIR"])
    ]
    return render_template("mailbox/index.html", messages=messages)


def _sent_at(message) -> datetime | None:
    """The Date header as an aware time (the pages show it in Tokyo, not as sent, in UTC)."""
    try:
        return parsedate_to_datetime(message["Date"])
    except (TypeError, ValueError):
        return None


@bp.get("/<name>")
@login_required
def show(name: str):
    """One caught message, as text."""
    _guard()
    if not NAME.match(name):
        abort(404)
    found = [m for n, m in read_mailbox(current_app.config["MAILBOX_DIR"], 10_000) if n == name]
    if not found:
        abort(404)
    message = found[0]
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    return render_template(
        "mailbox/show.html", name=name, message=message, text=text, sent_at=_sent_at(message)
    )
