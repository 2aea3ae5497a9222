"""The committee's pages: the year's confirmed evaluations, opinions, replies, questions."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.calendar import fiscal_year_of, local_date
from app.exports import export_response
from app.extensions import db
from app.models import CommitteeOpinion, CommitteeQuestion, Cycle, Indicator, ReformItem, Section
from app.once import once
from app.text import ActionError
from app.validation import fiscal_year_arg

from . import bp, service
from .forms import AnswerForm, OpinionForm, QuestionForm, ReplyForm


def _now() -> datetime:
    return datetime.now(UTC)


def _default_year() -> int:
    # The committee reviews the results of the fiscal year that has just ended.
    return fiscal_year_of(_now()) - 1


@bp.route("/")
@login_required
def index():
    today = local_date(_now())
    fiscal_year = fiscal_year_arg(request.args, _default_year())
    if service.is_reviewer(current_user):
        departments = None
    else:
        departments = current_user.departments_on(today)
        if not departments:
            abort(403)
    rows = service.reviewable(db.session, fiscal_year, department_ids=departments)
    if request.args.get("format") in ("xlsx", "csv"):
        headers = [_("番号"), _("改革項目"), _("所管部"), _("達成度"), _("意見"), _("事前質問")]
        data = [
            [
                c.item.number,
                c.item.title,
                c.item.owning_section.department.name,
                c.grade.ja if c.grade else "",
                n_opinions,
                n_questions,
            ]
            for c, n_opinions, n_questions in rows
        ]
        return export_response(
            _("評価結果一覧"), headers, data, request.args["format"], fiscal_year=fiscal_year
        )
    return render_template(
        "committee/index.html",
        rows=rows,
        fiscal_year=fiscal_year,
        reviewer=service.is_reviewer(current_user),
    )


@bp.route("/opinions")
@login_required
def opinions_export():
    if not service.is_reviewer(current_user):
        abort(403)
    fiscal_year = fiscal_year_arg(request.args, _default_year())
    fmt = request.args.get("format") if request.args.get("format") in ("xlsx", "csv") else "xlsx"
    headers, rows = service.opinion_sheet(db.session, fiscal_year)
    return export_response(_("意見一覧表"), headers, rows, fmt, fiscal_year=fiscal_year)


def _cycle(cycle_id: int) -> Cycle:
    cycle = db.session.scalar(
        select(Cycle)
        .where(Cycle.id == cycle_id)
        .options(
            selectinload(Cycle.item)
            .selectinload(ReformItem.owning_section)
            .selectinload(Section.department),
            selectinload(Cycle.item)
            .selectinload(ReformItem.indicators)
            .selectinload(Indicator.values),
        )
    )
    if cycle is None:
        abort(404)
    if not service.can_view(current_user, cycle, local_date(_now())):
        abort(403)
    if not service.is_confirmed(db.session, cycle):
        abort(404)
    return cycle


@bp.route("/cycles/<int:cycle_id>")
@login_required
def cycle(cycle_id: int):
    return _page(_cycle(cycle_id))


def _page(cycle: Cycle, typed: dict[str, str] | None = None, status: int = 200):
    """The cycle's page; `typed` keeps what was typed into a refused form, by textarea id."""
    today = local_date(_now())
    opinions, questions = service.exchanges(db.session, cycle)
    return render_template(
        "committee/cycle.html",
        cycle=cycle,
        opinions=opinions,
        questions=questions,
        typed=typed or {},
        can_give_opinion=service.can_give_opinion(current_user),
        can_reply=service.can_reply(current_user, cycle, today),
        questions_open=service.questions_open(db.session, cycle, today),
    ), status


def _run(cycle: Cycle, form, action, success: str, field: str, text: str):
    """Check `form`, then run `action(form)`; a refusal shows the page again with the
    message and `text` kept in the textarea `field` (422), and changes nothing."""
    if not form.validate():
        flash(next(iter(form.errors_by_field().values())), "error")
        return _page(cycle, {field: text}, 422)
    try:
        action(form)
    except ActionError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _page(cycle, {field: text}, 422)
    db.session.commit()
    flash(success, "success")
    return redirect(url_for(".cycle", cycle_id=cycle.id))


@bp.route("/cycles/<int:cycle_id>/opinions", methods=["POST"])
@login_required
@once
def add_opinion(cycle_id: int):
    cycle = _cycle(cycle_id)
    if not service.can_give_opinion(current_user):
        abort(403)
    return _run(
        cycle,
        OpinionForm.posted(),
        lambda form: service.add_opinion(
            db.session, cycle, by=current_user, now=_now(), body=form.body.data
        ),
        _("意見を登録しました。"),
        "new-opinion",
        request.form.get("body", ""),
    )


@bp.route("/opinions/<int:opinion_id>/reply", methods=["POST"])
@login_required
@once
def reply(opinion_id: int):
    opinion = db.get_or_404(CommitteeOpinion, opinion_id)
    cycle = _cycle(opinion.cycle_id)
    if not service.can_reply(current_user, cycle, local_date(_now())):
        abort(403)
    return _run(
        cycle,
        ReplyForm.posted(),
        lambda form: service.reply(
            db.session, opinion, by=current_user, now=_now(), body=form.body.data
        ),
        _("対応を登録しました。"),
        f"reply-{opinion.id}",
        request.form.get("body", ""),
    )


@bp.route("/cycles/<int:cycle_id>/questions", methods=["POST"])
@login_required
@once
def ask(cycle_id: int):
    cycle = _cycle(cycle_id)
    if not service.can_give_opinion(current_user):
        abort(403)
    return _run(
        cycle,
        QuestionForm.posted(),
        lambda form: service.ask(
            db.session, cycle, by=current_user, now=_now(), question=form.question.data
        ),
        _("事前質問を登録しました。"),
        "new-question",
        request.form.get("question", ""),
    )


@bp.route("/questions/<int:question_id>/answer", methods=["POST"])
@login_required
@once
def answer(question_id: int):
    question = db.get_or_404(CommitteeQuestion, question_id)
    cycle = _cycle(question.cycle_id)
    if not service.can_reply(current_user, cycle, local_date(_now())):
        abort(403)
    return _run(
        cycle,
        AnswerForm.posted(),
        lambda form: service.answer(
            db.session, question, by=current_user, now=_now(), body=form.body.data
        ),
        _("回答を登録しました。"),
        f"answer-{question.id}",
        request.form.get("body", ""),
    )
