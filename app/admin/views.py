"""Administration pages; only administrators get in."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select

from app.calendar import local_date
from app.exports import download, export_response
from app.extensions import db
from app.models import Department, Post, PostKind, Section, User
from app.once import once
from app.text import ActionError

from . import bp, service, transfers

MAX_UPLOAD = 5 * 1024 * 1024


def _now() -> datetime:
    return datetime.now(UTC)


@bp.before_request
@login_required
def _only_admins():
    if not service.can_administer(current_user):
        abort(403)


def _choices() -> dict:
    return {
        "departments": db.session.scalars(select(Department).order_by(Department.position)).all(),
        "sections": db.session.scalars(
            select(Section).order_by(Section.department_id, Section.position)
        ).all(),
        "post_kinds": db.session.scalars(select(PostKind).order_by(PostKind.position)).all(),
    }


@bp.route("/")
def index():
    counts = {
        name: db.session.scalar(select(func.count()).select_from(model))
        for name, model in (
            ("departments", Department),
            ("sections", Section),
            ("posts", Post),
            ("users", User),
        )
    }
    return render_template("admin/index.html", counts=counts)


ENTITIES = "<any(departments, sections, posts, post_kinds):entity>"


@bp.route(f"/{ENTITIES}", methods=["GET", "POST"])
@once
def entities(entity: str):
    model, fields = service.specs()[entity]
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        values, errors = service.parse_fields(db.session, entity, request.form)
        if not errors:
            try:
                obj = service.save_entity(db.session, entity, values, by=current_user, now=_now())
            except ActionError as exc:
                db.session.rollback()
                flash(exc.message, "error")
            else:
                db.session.commit()
                flash(_("「%(name)s」を登録しました。", name=obj.name), "success")
                return redirect(url_for(".entities", entity=entity))
        status = 422
    if entity == "posts" and request.args.get("format") in ("xlsx", "csv"):
        headers, rows = service.post_holders(db.session, local_date(_now()))
        return export_response(_("役職と在任者"), headers, rows, request.args["format"])
    objects = db.session.scalars(select(model).order_by(model.code)).all()
    if request.args.get("format") in ("xlsx", "csv"):
        headers = [f.label for f in fields]
        rows = ([service.display(o, f) for f in fields] for o in objects)
        title = service.entity_title(entity)
        return export_response(title, headers, rows, request.args["format"])
    holders = None
    if entity == "posts":
        _headers, holders = service.post_holders(db.session, local_date(_now()))
        holders = {row[0]: row[6] for row in holders}
    return render_template(
        "admin/entities.html",
        entity=entity,
        title=service.entity_title(entity),
        fields=fields,
        objects=objects,
        values=values,
        errors=errors,
        holders=holders,
        **_choices(),
    ), status


@bp.route(
    "/<any(departments, sections, posts, post_kinds):entity>/<int:obj_id>", methods=["GET", "POST"]
)
@once
def edit_entity(entity: str, obj_id: int):
    model, fields = service.specs()[entity]
    obj = db.get_or_404(model, obj_id)
    values = {f.name: getattr(obj, f.name) for f in fields}
    errors, status = {}, 200
    if request.method == "POST":
        values, errors = service.parse_fields(db.session, entity, request.form, current=obj)
        if not errors:
            try:
                service.save_entity(
                    db.session, entity, values, by=current_user, now=_now(), current=obj
                )
            except ActionError as exc:
                db.session.rollback()
                flash(exc.message, "error")
            else:
                db.session.commit()
                flash(_("「%(name)s」を更新しました。", name=obj.name), "success")
                return redirect(url_for(".entities", entity=entity))
        status = 422
    return render_template(
        "admin/edit.html",
        entity=entity,
        title=service.entity_title(entity),
        fields=fields,
        obj=obj,
        values=values,
        errors=errors,
        **_choices(),
    ), status


@bp.route("/users")
def users():
    headers, rows, users = service.user_rows(db.session, local_date(_now()))
    if request.args.get("format") in ("xlsx", "csv"):
        return export_response(_("利用者一覧"), headers, rows, request.args["format"])
    return render_template(
        "admin/users.html", headers=headers, rows=list(zip(users, rows, strict=True))
    )


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@once
def edit_user(user_id: int | None = None):
    user = db.get_or_404(User, user_id) if user_id else None
    values = {"login": "", "name": "", "email": "", "active": True, "roles": []}
    if user is not None:
        values = {
            "login": user.login,
            "name": user.name,
            "email": user.email,
            "active": user.active,
            "roles": [r.value for r in user.granted_roles()],
        }
    errors, status = {}, 200
    if request.method == "POST":
        values, errors = service.parse_user(db.session, request.form, current=user)
        if not errors:
            try:
                saved = service.save_user(
                    db.session, values, by=current_user, now=_now(), current=user
                )
            except ActionError as exc:
                db.session.rollback()
                flash(exc.message, "error")
            else:
                db.session.commit()
                flash(_("利用者「%(name)s」を保存しました。", name=saved.name), "success")
                return redirect(url_for(".users"))
        status = 422
    return render_template(
        "admin/user.html", user=user, values=values, errors=errors, roles=service.GRANTED_ROLES
    ), status


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="personnel-transfer")


@bp.route("/transfers")
def transfers_form():
    return render_template("admin/transfers.html")


@bp.route("/transfers/template.xlsx")
def transfers_template():
    data = transfers.template_workbook(db.session, local_date(_now()))
    return download(data, _("人事異動") + "_template", "xlsx")


@bp.route("/transfers/preview", methods=["POST"])
def transfers_preview():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("アップロードするExcelファイルを選んでください。"), "error")
        return render_template("admin/transfers.html"), 422
    data = upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        flash(_("ファイルが大きすぎます（5MBまで）。"), "error")
        return render_template("admin/transfers.html"), 422
    rows, file_errors = transfers.read_workbook(data)
    result = transfers.plan(db.session, rows, file_errors)
    token = _serializer().dumps(result.serialise()) if result.ok and result.changed else ""
    return render_template(
        "admin/transfers_preview.html", result=result, token=token, filename=upload.filename
    ), 200 if result.ok else 422


@bp.route("/transfers/apply", methods=["POST"])
@once
def transfers_apply():
    try:
        data = _serializer().loads(request.form.get("token", ""))
    except BadSignature:
        flash(
            _("プレビューの内容を確認できませんでした。もう一度アップロードしてください。"), "error"
        )
        return render_template("admin/transfers.html"), 400
    result = transfers.plan(db.session, transfers.rows_from_serialised(data))
    try:
        count = transfers.apply(db.session, result, by=current_user, now=_now())
    except ActionError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return render_template(
            "admin/transfers_preview.html", result=result, token="", filename=""
        ), 422
    db.session.commit()
    flash(
        _(
            "人事異動を反映しました（%(rows)s役職、%(n)s件の発令）。",
            rows=len(result.changed),
            n=count,
        ),
        "success",
    )
    return redirect(url_for(".entities", entity="posts"))
