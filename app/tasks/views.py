"""The home page: what waits for the signed-in user, and the counts in the header."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.calendar import local_date
from app.extensions import db
from app.models import Role

from . import bp
from .queries import Scope, my_tasks, scope_of, task_counts


def today() -> date:
    return local_date(datetime.now(UTC))


@bp.before_app_request
def forget_counts() -> None:
    """Counts are per request, even where an application context outlives one (tests)."""
    g.pop("task_counts", None)
    g.pop("task_scope", None)


@bp.app_context_processor
def header_counts() -> dict:
    """Task counts for the header, computed once per request for signed-in users."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return {"task_counts": None}
    if "task_counts" not in g:
        g.task_counts = task_counts(db.session, user_scope())
        g.task_counts["is_head"] = bool(user_scope().head_department_ids)
        g.task_counts["committee_only"] = committee_only()
    return {"task_counts": g.task_counts}


def committee_only() -> bool:
    """A committee member with no post to act from: nothing of theirs is in the workflow."""
    scope = user_scope()
    return (
        current_user.has_role(Role.COMMITTEE)
        and not current_user.has_role(Role.ADMIN)
        and not (scope.section_ids or scope.decides_for or scope.secretariat)
    )


def user_scope() -> Scope:
    """The signed-in user's sections and departments today, once per request."""
    if "task_scope" not in g:
        g.task_scope = scope_of(db.session, current_user, today())
    return g.task_scope


@login_required
def index():
    """My tasks (あなたの対応待ち); served at `/` as the endpoint `main.index`.

    A committee member has no tasks in the workflow: their start page is the committee's.
    """
    if committee_only():
        return redirect(url_for("committee.index"))
    day = today()
    tasks = my_tasks(db.session, current_user, day, user_scope())
    return render_template("tasks/index.html", tasks=tasks, today=day)
