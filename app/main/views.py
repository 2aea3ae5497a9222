"""The home page (My tasks) and the execution plan's reform items by viewpoint."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload, load_only, selectinload

from app.calendar import local_date
from app.extensions import db
from app.models import Cycle, ExecutionPlan, Outline, ReformItem, Section, Viewpoint
from app.validation import id_arg
from workflows.permissions import viewable_items

from . import bp


def current_plan(plan_id: int | None = None) -> ExecutionPlan | None:
    if plan_id is not None:
        return db.session.get(ExecutionPlan, plan_id)
    return db.session.scalar(select(ExecutionPlan).order_by(ExecutionPlan.start_fy.desc()))


@bp.route("/")
@login_required
def index():
    from app.tasks.views import index as my_tasks

    return my_tasks()


@bp.route("/plan")
@login_required
def plan_items():
    plan = current_plan(id_arg(request.args, "plan"))
    if plan is None:
        if request.args.get("plan"):
            abort(404)
        return render_template("main/empty.html")
    outline = db.session.get(Outline, plan.outline_id)
    # Only what the list shows: the item's number, title and section, its latest year.
    items = db.session.scalars(
        select(ReformItem)
        .where(ReformItem.plan_id == plan.id)
        .options(
            load_only(
                ReformItem.plan_id,
                ReformItem.viewpoint_id,
                ReformItem.number,
                ReformItem.title,
                ReformItem.owning_section_id,
            ),
            joinedload(ReformItem.owning_section, innerjoin=True).joinedload(
                Section.department, innerjoin=True
            ),
            selectinload(ReformItem.cycles).load_only(
                Cycle.item_id, Cycle.fiscal_year, Cycle.state, Cycle.definition_version
            ),
        )
    ).all()
    viewpoints = db.session.scalars(
        select(Viewpoint).where(Viewpoint.outline_id == outline.id).order_by(Viewpoint.number)
    ).all()
    by_viewpoint = {v.id: [] for v in viewpoints}
    for item in sorted(items, key=lambda i: i.sort_key):
        by_viewpoint.setdefault(item.viewpoint_id, []).append(item)
    return render_template(
        "main/plan.html",
        outline=outline,
        plan=plan,
        viewpoints=viewpoints,
        by_viewpoint=by_viewpoint,
        viewable=viewable_items(db.session, current_user, local_date(datetime.now(UTC)), items),
    )
