"""Upload, preview and apply an import of reform items from Excel."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.exports import download
from app.extensions import db
from app.models import ExecutionPlan
from app.once import once
from app.validation import id_arg

from . import bp
from .service import WorkbookError, apply, can_import, read_workbook, template_workbook

MAX_UPLOAD = 5 * 1024 * 1024


def _plan() -> ExecutionPlan:
    plan_id = id_arg(request.values, "plan")
    if plan_id is not None:
        return db.get_or_404(ExecutionPlan, plan_id)
    plan = db.session.scalar(select(ExecutionPlan).order_by(ExecutionPlan.start_fy.desc()))
    if plan is None:
        abort(404)
    return plan


@bp.before_request
@login_required
def _only_secretariat_and_admins():
    if not can_import(current_user):
        abort(403)


@bp.route("/")
def upload():
    return render_template("imports/upload.html", plan=_plan())


def _refused(plan: ExecutionPlan, message: str):
    """The upload page again with why the file was refused (422); nothing was changed."""
    flash(message, "error")
    return render_template("imports/upload.html", plan=plan), 422


@bp.route("/template.xlsx")
def template():
    plan = _plan()
    return download(
        template_workbook(plan), f"改革項目取込様式_{plan.start_fy}-{plan.end_fy}", "xlsx"
    )


@bp.route("/preview", methods=["POST"])
def preview():
    plan = _plan()
    upload = request.files.get("file")
    data = upload.read(MAX_UPLOAD + 1) if upload else b""
    if not data:
        return _refused(plan, _("取り込むExcelファイルを選択してください。"))
    if len(data) > MAX_UPLOAD:
        return _refused(plan, _("ファイルが大きすぎます（5MBまで）。"))
    try:
        parsed = read_workbook(db.session, plan, data)
    except WorkbookError as exc:
        return _refused(plan, exc.message)
    return render_template(
        "imports/preview.html",
        plan=plan,
        parsed=parsed,
        payload=base64.b64encode(data).decode("ascii"),
        filename=upload.filename,
    )


@bp.route("/apply", methods=["POST"])
@once
def apply_import():
    plan = _plan()
    try:
        data = base64.b64decode(request.form.get("payload", ""), validate=True)
        parsed = read_workbook(db.session, plan, data)
        created, updated = apply(db.session, plan, parsed, by=current_user, now=datetime.now(UTC))
    except (WorkbookError, binascii.Error, ValueError) as exc:
        db.session.rollback()
        return _refused(
            plan,
            getattr(
                exc, "message", _("取込データが壊れています。もう一度アップロードしてください。")
            ),
        )
    db.session.commit()
    flash(
        _("改革項目を取り込みました（新規 %(c)d件、更新 %(u)d件）。", c=created, u=updated), "info"
    )
    return redirect(url_for("main.plan_items", plan=plan.id))
