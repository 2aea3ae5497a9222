"""One-time keys for forms that write: a repeated submission shows the first result.

Every form that changes something carries a hidden `once` field made when the page was
drawn. The first POST with a key stores it (unique in the database) in the same
transaction as its changes; a repeat of that POST, a second click, a browser resend or two
racing requests, finds the key taken, writes nothing, and is sent where the first one led.
A request without a key (a script) is handled as before; a malformed key is refused.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from functools import wraps

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import delete, inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.extensions import db
from app.models import SubmissionKey

log = logging.getLogger("kaikaku.once")

FIELD = "once"
KEPT = timedelta(days=30)
_KEY = re.compile(r"[0-9a-f]{32}")


def once_field() -> Markup:
    """The hidden input that makes a form's submission happen once."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, uuid.uuid4().hex)


def _same_site(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


def _repeat(key: str):
    """The answer to a repeated submission: nothing written, back to the first result."""
    first = db.session.scalar(select(SubmissionKey).where(SubmissionKey.key == key))
    if first is None or first.user_id != current_user.id:
        return render_template("errors/400.html", error=None), 400
    flash(_("この送信はすでに受け付けています（二重の送信は登録していません）。"), "info")
    target = _same_site(first.result_url) or url_for("main.index")
    return redirect(target, 303)


def _remember(row: SubmissionKey, key: str, response, now: datetime) -> None:
    """After the view's commit: where the first submission led, for its repeats, and the
    expired keys cleared. Bookkeeping only: when the database refuses it (a deadlock, a
    lock timeout the database is set to, a lost connection), the user still sees their
    saved work, a repeat is sent to the start page instead, and the expired keys wait for
    the next submission."""
    try:
        row.result_url = (_same_site(response.location) or "")[:500]
        db.session.execute(delete(SubmissionKey).where(SubmissionKey.created_at < now - KEPT))
        db.session.commit()
    except DBAPIError:
        db.session.rollback()
        log.warning("form key %s: where it led was not recorded", key, exc_info=True)


def once(view):
    """Run a POST view at most once per form key; see the module's description."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if request.method != "POST" or not current_user.is_authenticated:
            return view(*args, **kwargs)
        key = request.form.get(FIELD)
        if key is None:
            return view(*args, **kwargs)
        if not _KEY.fullmatch(key):
            return render_template("errors/400.html", error=None), 400
        if db.session.scalar(select(SubmissionKey.id).where(SubmissionKey.key == key)):
            return _repeat(key)
        now = datetime.now(UTC)
        row = SubmissionKey(
            key=key, user_id=current_user.id, endpoint=request.endpoint or "", created_at=now
        )
        db.session.add(row)
        try:
            db.session.flush()  # a racing twin waits here for the first to commit, then fails
        except IntegrityError:
            db.session.rollback()
            return _repeat(key)
        response = make_response(view(*args, **kwargs))
        state = inspect(row)
        # Committed with the view's changes: the commit expired the row (a rollback would
        # have removed it; a view that did neither leaves it to the request's rollback).
        committed = state.persistent and "key" in state.expired_attributes
        if committed and 300 <= response.status_code < 400:
            _remember(row, key, response, now)
        elif not committed:
            db.session.rollback()  # a refusal keeps nothing, its key included
        return response

    return wrapped
