"""The citizens' pages (no login) and the secretariat's publishing page."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.exports import SheetSpec, download, export_response
from app.extensions import db
from app.models import ExecutionPlan, Grade, Outline, Publication
from app.once import once
from app.reports.sheet import (
    ProgressSheet,
    effect_columns,
    effect_kinds,
    effect_rows,
    effect_summary,
    indicator_columns,
    indicator_rows,
    sheet_for,
    step_columns,
    step_rows,
    workbook_columns,
    workbook_row,
)
from app.reports.yearly import filename as report_filename
from app.reports.yearly import yearly_pdf
from app.validation import require_fiscal_year

from . import bp
from .forms import PublishForm, WithdrawForm
from .service import (
    PublicationError,
    can_publish,
    current,
    cycles_of_year,
    preview,
    publish,
    published_years,
    withdraw,
)


@bp.route("/")
def index():
    outline = db.session.scalar(select(Outline))
    plan = db.session.scalar(select(ExecutionPlan).order_by(ExecutionPlan.start_fy.desc()))
    return render_template(
        "public/index.html", outline=outline, plan=plan, years=published_years(db.session)
    )


# The results of a published year, rendered, kept by the application (one process, one
# database) by publication, language and the outline's viewpoints. A publication never
# changes once made (a new revision is a new row, a withdrawal shows another one), so
# citizens' requests reuse the rendering.
YEAR_BODIES_KEPT = 32


@bp.route("/<int:fiscal_year>")
def year(fiscal_year: int):
    require_fiscal_year(fiscal_year)
    publication = current(db.session, fiscal_year, with_entries=False)
    if publication is None:
        abort(404)
    outline = db.session.scalar(select(Outline).options(selectinload(Outline.viewpoints)))
    viewpoints = tuple((v.number, v.name) for v in outline.viewpoints) if outline else ()
    key = (
        publication.id,
        publication.revision,
        publication.published_at,
        str(get_locale()),
        viewpoints,
    )
    bodies: OrderedDict[tuple, Markup] = current_app.extensions.setdefault(
        "kaikaku.public_years", OrderedDict()
    )
    body = bodies.get(key)
    if body is None:
        body = Markup(_year_body(publication, outline, dict(viewpoints)))
        bodies[key] = body
        while len(bodies) > YEAR_BODIES_KEPT:
            bodies.popitem(last=False)
    return render_template("public/year.html", publication=publication, body=body)


def _year_body(publication: Publication, outline: Outline | None, names: dict) -> str:
    fiscal_year = publication.fiscal_year
    by_viewpoint: dict[int, list[ProgressSheet]] = {}
    for entry in publication.entries:
        by_viewpoint.setdefault(entry["viewpoint"], []).append(sheet_for(entry, fiscal_year))
    grades = {g: sum(1 for e in publication.entries if e["grade"] == g.value) for g in Grade}
    return render_template(
        "public/_year_body.html",
        publication=publication,
        outline=outline,
        by_viewpoint=by_viewpoint,
        grades=grades,
        effects=effect_summary(by_viewpoint, names),
        effect_kinds=effect_kinds(),
    )


@bp.route("/<int:fiscal_year>.<fmt>")
def export(fiscal_year: int, fmt: str):
    require_fiscal_year(fiscal_year)
    publication = current(db.session, fiscal_year)
    if publication is None or fmt not in ("xlsx", "csv", "pdf"):
        abort(404)
    if fmt == "pdf":
        data, _publication = yearly_pdf(db.session, fiscal_year)
        return download(data, report_filename(fiscal_year), "pdf")
    sheets = [sheet_for(e, fiscal_year) for e in publication.entries]
    indicators = SheetSpec(_("指標"), indicator_columns(), indicator_rows(publication.entries))
    years, steps = step_rows(sheets)
    outline = db.session.scalar(select(Outline))
    names = {v.number: v.name for v in outline.viewpoints} if outline else {}
    return export_response(
        _("行政改革の取組結果"),
        workbook_columns(),
        [workbook_row(s) for s in sheets],
        fmt,
        fiscal_year=fiscal_year,
        more_sheets=[
            indicators,
            SheetSpec(_("工程"), step_columns(years), steps),
            SheetSpec(_("効果額"), effect_columns(), effect_rows(sheets, names)),
        ],
    )


@bp.route("/manage")
@login_required
def manage():
    if not can_publish(current_user):
        abort(403)
    return _manage_page()


def _manage_page(status: int = 200):
    plan = db.session.scalar(select(ExecutionPlan).order_by(ExecutionPlan.start_fy.desc()))
    rows = []
    for fy in reversed(plan.fiscal_years if plan else []):
        cycles = cycles_of_year(db.session, fy)
        if not cycles:
            continue
        entries, left_out = preview(db.session, fy, cycles)
        rows.append(
            {
                "fy": fy,
                "ready": len(entries),
                "left_out": len(left_out),
                "publication": current(db.session, fy),
            }
        )
    history = db.session.scalars(
        select(Publication).order_by(Publication.published_at.desc())
    ).all()
    return render_template("public/manage.html", rows=rows, history=history), status


@bp.route("/manage/<int:fiscal_year>", methods=["GET", "POST"])
@login_required
@once
def manage_year(fiscal_year: int):
    if not can_publish(current_user):
        abort(403)
    require_fiscal_year(fiscal_year)
    if request.method == "GET":
        return _manage_year_page(fiscal_year)
    form = PublishForm.posted()
    if not form.validate():
        flash(next(iter(form.errors_by_field().values())), "error")
        return _manage_year_page(fiscal_year, request.form.get("note", ""), 422)
    try:
        publish(
            db.session,
            fiscal_year,
            by=current_user,
            now=datetime.now(UTC),
            note=form.note.data,
        )
    except PublicationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _manage_year_page(fiscal_year, form.note.data, 422)
    db.session.commit()
    flash(_("公表しました。市民向けページに掲載されています。"), "info")
    return redirect(url_for(".year", fiscal_year=fiscal_year))


def _manage_year_page(fiscal_year: int, note: str = "", status: int = 200):
    """The preview of what would be published; `note` keeps what was typed."""
    entries, left_out = preview(db.session, fiscal_year)
    return render_template(
        "public/manage_year.html",
        fiscal_year=fiscal_year,
        sheets=[sheet_for(e, fiscal_year) for e in entries],
        left_out=left_out,
        publication=current(db.session, fiscal_year),
        note=note,
    ), status


@bp.route("/manage/publications/<int:publication_id>/withdraw", methods=["POST"])
@login_required
@once
def withdraw_publication(publication_id: int):
    if not can_publish(current_user):
        abort(403)
    publication = db.get_or_404(Publication, publication_id)
    form = WithdrawForm.posted()
    if not form.validate():
        flash(next(iter(form.errors_by_field().values())), "error")
        return _manage_page(422)
    try:
        withdraw(
            db.session,
            publication,
            by=current_user,
            now=datetime.now(UTC),
            reason=form.reason.data,
        )
    except PublicationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _manage_page(422)
    db.session.commit()
    flash(_("公表を取り下げました。"), "info")
    return redirect(url_for(".manage"))
