"""The home page: what waits for the signed-in user, and the counts in the header."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.calendar import local_date
from app.extensions import db
from app.models import Role
from workflows.memo import forget
from workflows.roles import Reach, reach_of

from . import bp
from .queries import counts_of, decides_somewhere, my_tasks, task_counts


def today() -> date:
    return local_date(datetime.now(UTC))


@bp.before_app_request
def forget_counts() -> None:
    """Counts are per request, even where an application context outlives one (tests), and
    so is what the session remembers about roles and schedules."""
    g.pop("task_counts", None)
    g.pop("task_reach", None)
    forget(db.session)


@bp.app_context_processor
def header_counts() -> dict:
    """Task counts for the header, computed once per request for signed-in users."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return {"task_counts": None}
    if "task_counts" not in g:
        remember_counts(task_counts(db.session, user_reach()))
    return {"task_counts": g.task_counts}


def remember_counts(counts: dict) -> None:
    """The header's counts for this request, with what the menu needs to know beside them."""
    counts["is_head"] = decides_somewhere(user_reach())
    counts["committee_only"] = committee_only()
    g.task_counts = counts


def user_reach() -> Reach:
    """The signed-in user's posts and substitutions today, once per request."""
    if "task_reach" not in g:
        g.task_reach = reach_of(db.session, current_user, today())
    return g.task_reach


def committee_only() -> bool:
    """A committee member with no post to act from: nothing of theirs is in the workflow."""
    reach = user_reach()
    return (
        current_user.has_role(Role.COMMITTEE)
        and not current_user.has_role(Role.ADMIN)
        and not current_user.has_role(Role.SECRETARIAT)
        and not (reach.held or reach.substituted)
    )


@login_required
def index():
    """My tasks (あなたの対応待ち); served at `/` as the endpoint `main.index`.

    A committee member has no tasks in the workflow: their start page is the committee's.
    """
    if committee_only():
        return redirect(url_for("committee.index"))
    day = today()
    tasks = my_tasks(db.session, current_user, day, user_reach())
    remember_counts(counts_of(tasks))
    return render_template("tasks/index.html", tasks=tasks, today=day)
