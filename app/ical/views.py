"""通知の設定 and 期限カレンダー: mail preferences, and one's deadlines as an iCalendar feed."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.calendar import local_date
from app.extensions import db
from app.fields import CheckField, Form
from app.once import once
from notifications.ical import calendar_text, feed_token, reset_token, user_for_token

from . import bp


class NotificationSettingsForm(Form):
    wants_digest = CheckField()
    reminders_enabled = CheckField()


def feed_url(token: str) -> str:
    return f"{current_app.config['BASE_URL']}{url_for('ical.feed', token=token)}"


@bp.get("/settings/notifications")
@login_required
def settings():
    """Show the mail preferences and the user's own calendar address (made on first visit)."""
    token = feed_token(db.session, current_user)
    db.session.commit()
    return render_template("ical/index.html", url=feed_url(token))


@bp.post("/settings/notifications")
@login_required
@once
def save_settings():
    """Save the mail preferences; escalations are always sent, whatever is chosen here."""
    form = NotificationSettingsForm.posted()
    form.validate()
    current_user.wants_digest = bool(form.wants_digest.data)
    current_user.reminders_enabled = bool(form.reminders_enabled.data)
    db.session.commit()
    flash(_("通知の設定を保存しました。"), "success")
    return redirect(url_for("ical.settings"))


@bp.post("/settings/notifications/calendar")
@login_required
@once
def reset():
    """Issue a new calendar address; the old one stops working at once."""
    reset_token(db.session, current_user, datetime.now(UTC))
    db.session.commit()
    flash(_("カレンダーのアドレスを新しくしました。古いアドレスは使えません。"), "success")
    return redirect(url_for("ical.settings"))


@bp.get("/ical/<token>.ics")
def feed(token: str):
    """The feed itself: no login, the token is the secret; 404 for an unknown token."""
    user = user_for_token(db.session, token)
    if user is None:
        abort(404)
    now = datetime.now(UTC)
    text = calendar_text(db.session, user, now, current_app.config["BASE_URL"], local_date(now))
    response = Response(text, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["Content-Disposition"] = 'inline; filename="kaikaku.ics"'
    return response
