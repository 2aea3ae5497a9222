"""The item page, the stage forms, the decision page, the inbox and e-mail links."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.calendar import local_date
from app.committee.service import can_reply, exchanges
from app.extensions import db
from app.links import LinkError, load_decision_token, token_digest
from app.models import (
    AuditEntry,
    Cycle,
    Direction,
    EffectKind,
    Grade,
    Indicator,
    ProgressReport,
    ProgressStatus,
    ReformItem,
    Section,
    UsedDecisionLink,
)
from app.once import once
from app.tasks.queries import decisions_waiting, last_send_back
from app.tasks.views import user_reach
from app.templating import state_label
from app.validation import parse_fiscal_year
from workflows import batch, operations, permissions
from workflows import errors as workflow_errors
from workflows.deadlines import due_date
from workflows.definition import Transition
from workflows.registry import definition_of

from . import bp, service
from .charts import indicator_chart
from .forms import DecideForm, InboxForm, StageMetaForm

FORMS = ("plan", "report", "check", "act")
CONFLICT_MESSAGE = _l("他の人が先に判断しました。最新の状態を確認してください。")
# Kinds of transition made from the stage forms, not from the decision page.
FORM_KINDS = ("submit", "start")


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return local_date(now())


def decisions_of(transitions: list[Transition]) -> list[Transition]:
    """What the decision page offers: everything but submissions (made from the forms)."""
    return [t for t in transitions if t.kind not in FORM_KINDS]


def needs_reason(cycle: Cycle, trigger: str) -> bool:
    transition = definition_of(cycle).transition(cycle.state, trigger)
    return bool(transition and transition.needs_reason)


def get_item(item_id: int) -> ReformItem:
    item = db.session.scalar(
        select(ReformItem)
        .where(ReformItem.id == item_id)
        .options(
            # The one-to-one links in the same row; the lists each in one query.
            joinedload(ReformItem.owning_section, innerjoin=True).joinedload(
                Section.department, innerjoin=True
            ),
            joinedload(ReformItem.plan, innerjoin=True),
            joinedload(ReformItem.viewpoint, innerjoin=True),
            selectinload(ReformItem.indicators).selectinload(Indicator.values),
            selectinload(ReformItem.cycles).selectinload(Cycle.extensions),
            selectinload(ReformItem.cycles)
            .selectinload(Cycle.reports)
            .selectinload(ProgressReport.values),
            selectinload(ReformItem.related_sections).joinedload(
                Section.department, innerjoin=True
            ),
            selectinload(ReformItem.steps),
        )
    )
    if item is None:
        abort(404)
    return item


def get_cycle(item: ReformItem, fiscal_year: int) -> Cycle:
    cycle = next((c for c in item.cycles if c.fiscal_year == fiscal_year), None)
    if cycle is None:
        abort(404)
    return cycle


def timeline_row(cycle: Cycle) -> list[tuple[str, str]]:
    """Each stage of the cycle's definition with its status: done, current or not yet."""
    definition = definition_of(cycle)
    stages = list(definition.stages)
    current = definition.stage_of(cycle.state)
    state = definition.state(cycle.state)
    finished = bool(state and state.closes_year)
    order = stages.index(current) if current else None
    row = []
    for i, stage in enumerate(stages):
        if finished or (order is not None and i < order):
            row.append((stage, "done"))
        elif order == i:
            row.append((stage, "current"))
        else:
            row.append((stage, "todo"))
    return row


def decision_transitions(cycle: Cycle) -> list[Transition]:
    return decisions_of(permissions.allowed(cycle, current_user, today()))


def history(cycle_ids: list[int]) -> list[AuditEntry]:
    if not cycle_ids:
        return []
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.cycle_id.in_(cycle_ids))
            .options(selectinload(AuditEntry.actor), selectinload(AuditEntry.on_behalf_of))
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        )
    )


@bp.route("/items/<int:item_id>")
@login_required
def show(item_id: int):
    item = get_item(item_id)
    if not permissions.can_view_item(current_user, item, today()):
        abort(403)
    years = list(item.plan.fiscal_years)
    cycle = None
    if item.cycles:
        wanted = parse_fiscal_year(request.args.get("fy"))
        cycle = next((c for c in item.cycles if c.fiscal_year == wanted), item.cycles[-1])
    day = today()
    form = service.form_of(cycle) if cycle else None
    can_edit = bool(form and service.can_edit(current_user, cycle, form, day))
    transitions = permissions.allowed(cycle, current_user, day) if cycle else []
    page = {
        "item": item,
        "cycle": cycle,
        "years": years,
        "charts": [indicator_chart(i, years) for i in item.indicators],
        "timeline": [(c, timeline_row(c)) for c in item.cycles],
        "history": history([c.id for c in item.cycles]),
        "due": due_date(db.session, cycle) if cycle else None,
        "reported": service.reported_values(cycle) if cycle else {},
        "form": form,
        "can_edit": can_edit,
        "decisions": decisions_of(transitions),
        "can_submit": any(t.submits for t in transitions),
        "timeline_stages": list(definition_of(cycle).stages.values()) if cycle else [],
        "today": day,
        "committee": committee_exchanges(cycle) if cycle else ([], []),
        "can_reply": bool(cycle and can_reply(current_user, cycle, day)),
    }
    if can_edit:
        # The current stage's form is on the page itself for those who may fill it in.
        known = {k: page[k] for k in ("due", "reported", "can_submit")}
        known["opinions"] = page["committee"]
        page.update(
            form_context(cycle, form, known),
            values=service.initial_values(cycle, form),
            errors={},
        )
    return render_template("items/show.html", **page)


def committee_exchanges(cycle: Cycle):
    """(opinions, questions) of the committee on the cycle, with the department's replies."""
    return exchanges(db.session, cycle)


def form_context(cycle: Cycle, form: str, known: dict | None = None) -> dict:
    """What the stage form's template needs; `known` holds what the caller computed already
    (the due date, the reported values, whether the user may submit, the committee's
    opinions)."""
    item = cycle.item
    known = known or {}
    day = today()
    return {
        "item": item,
        "cycle": cycle,
        "form": form,
        "years": list(item.plan.fiscal_years),
        "target_years": service.target_years(cycle) if form == "plan" else [],
        "grades": list(Grade),
        "statuses": list(ProgressStatus),
        "directions": list(Direction),
        "effect_kinds": list(EffectKind),
        "opinions": (known["opinions"] if "opinions" in known else committee_exchanges(cycle))
        if form == "act"
        else ([], []),
        "kinds": service.report_kinds(cycle),
        "reports": db.session.scalars(
            select(ProgressReport)
            .where(ProgressReport.cycle_id == cycle.id)
            .options(selectinload(ProgressReport.values), selectinload(ProgressReport.created_by))
            .order_by(ProgressReport.as_of.desc(), ProgressReport.id.desc())
        ).all()
        if form == "report"
        else [],
        "due": known["due"] if "due" in known else due_date(db.session, cycle),
        "today": day,
        "sent_back": last_send_back(db.session, [cycle]).get(cycle.id),
        "reported": known["reported"] if "reported" in known else service.reported_values(cycle),
        "can_submit": known["can_submit"]
        if "can_submit" in known
        else any(t.submits for t in permissions.allowed(cycle, current_user, day)),
    }


def render_form(cycle: Cycle, form: str, values: dict, errors: dict, status: int = 200):
    return render_template(
        "items/form.html", values=values, errors=errors, **form_context(cycle, form)
    ), status


@bp.route("/items/<int:item_id>/cycles/<int:fy>/<form>", methods=["GET", "POST"])
@login_required
@once
def edit(item_id: int, fy: int, form: str):
    if form not in FORMS:
        abort(404)
    item = get_item(item_id)
    cycle = get_cycle(item, fy)
    if not service.can_edit(current_user, cycle, form, today()):
        if involved(cycle):
            # The owning staff after the item moved on (submitted, decided): say so plainly.
            return moved_on_page(cycle)
        abort(403)
    if request.method == "GET":
        return render_form(cycle, form, service.initial_values(cycle, form), {})

    values = request.form.to_dict()
    submitting = request.form.get("action") == "submit"
    meta = StageMetaForm.posted()
    if not meta.validate():
        return render_form(cycle, form, values, meta.errors_by_field(), 422)
    expected = meta.expected_version.data
    if expected is not None and expected != cycle.version:
        return saved_meanwhile(cycle, form, values)
    try:
        return save_stage(item, cycle, form, values, meta, submitting)
    except StaleDataError:
        # Someone else's write landed between the check above and this one's.
        db.session.rollback()
        if service.can_edit(current_user, cycle, form, today()):
            return saved_meanwhile(cycle, form, values)
        return moved_on_page(cycle)


def saved_meanwhile(cycle: Cycle, form: str, values: dict):
    """Someone saved this draft after the page was opened: keep what was typed, say so."""
    values["expected_version"] = str(cycle.version)
    message = _(
        "この下書きは、あなたが画面を開いた後に別の人が保存しました。"
        "入力内容を確認して、もう一度保存してください。"
    )
    return render_form(cycle, form, values, {"_form": message}, 409)


def save_stage(item: ReformItem, cycle: Cycle, form: str, values: dict, meta, submitting: bool):
    """Save the stage's draft (and submit it when asked) and commit; the page to answer."""
    fy = cycle.fiscal_year
    moment = now()
    if form == "report":
        field_errors = {}
        if not (submitting and service.report_is_blank(values)):
            field_errors = service.save_report(
                db.session, cycle, values, by=current_user, now=moment
            )
    else:
        field_errors = service.SAVERS[form](
            db.session, cycle, values, by=current_user, now=moment, for_submission=submitting
        )
    if field_errors:
        db.session.rollback()
        return render_form(cycle, form, values, field_errors, 422)
    if submitting:
        try:
            operations.submit(cycle, by=current_user, now=moment, comment=meta.comment.data)
        except workflow_errors.ConflictError:
            db.session.rollback()
            if service.can_edit(current_user, cycle, form, today()):
                return saved_meanwhile(cycle, form, values)
            return moved_on_page(cycle)  # someone submitted or decided first
        except workflow_errors.WorkflowError as exc:
            db.session.rollback()
            field_errors = form_error(exc, values)
            status = 403 if isinstance(exc, workflow_errors.PermissionDenied) else 422
            return render_form(cycle, form, values, field_errors, status)
        db.session.commit()
        flash(
            _("提出しました。%(who)sの判断を待っています。", who=service.waiting_for(cycle)),
            "success",
        )
        return redirect(url_for("items.show", item_id=item.id, fy=fy))
    db.session.commit()
    if form == "report":
        flash(_("進捗報告を登録しました。"), "success")
    else:
        flash(_("下書きを保存しました。"), "success")
    return redirect(url_for("items.edit", item_id=item.id, fy=fy, form=form))


def involved(cycle: Cycle) -> bool:
    """Whoever plays a part in the cycle's workflow (staff, deciders, their substitutes)."""
    return permissions.involved(cycle, current_user, today())


def moved_on_page(cycle: Cycle):
    message = _(
        "この項目は現在の状態（%(state)s）では、あなたの操作を待っていません。",
        state=state_label(cycle),
    )
    return render_template(
        "errors/409.html", cycle=cycle, message=message, title=_("この操作は今は行えません")
    ), 409


def conflict_page(cycle: Cycle):
    return render_template("errors/409.html", cycle=cycle, message=str(CONFLICT_MESSAGE)), 409


def decide_once(cycle: Cycle, trigger: str, comment: str, expected_version: int | None):
    """Fire the decision the user chose; the caller commits. Raises WorkflowError."""
    operations.fire(
        cycle,
        trigger,
        by=current_user,
        now=now(),
        comment=comment,
        expected_version=expected_version,
    )


def form_error(exc, fields) -> dict[str, str]:
    """Place an engine refusal next to its field when the form has it, else on top."""
    field = {"reason": "comment", "substitute": "substitute_id"}.get(
        getattr(exc, "field", None) or "", getattr(exc, "field", None)
    )
    return {field if field in fields else "_form": exc.message}


@bp.route("/cycles/<int:cycle_id>/decide", methods=["GET", "POST"])
@login_required
@once
def decide(cycle_id: int):
    cycle = db.session.get(Cycle, cycle_id)
    if cycle is None:
        abort(404)
    item = get_item(cycle.item_id)
    offered = decision_transitions(cycle)
    triggers = [t.trigger for t in offered]
    values = {"comment": "", "expected_version": str(cycle.version)}
    field_errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = request.form.to_dict()
        form = DecideForm.posted()
        form.validate()
        field_errors = form.errors_by_field()
        trigger, comment = form.trigger.data or "", form.comment.data or ""
        expected = form.expected_version.data
        if "trigger" not in field_errors and "expected_version" not in field_errors:
            if expected is not None and expected != cycle.version:
                return conflict_page(cycle)
            if trigger not in triggers:
                abort(403)
        if not field_errors and needs_reason(cycle, trigger) and not comment:
            field_errors["comment"] = _(
                "理由を入力してください（差戻し・休止などには理由が必要です）。"
            )
        if not field_errors:
            try:
                decide_once(cycle, trigger, comment, expected)
                db.session.commit()
            except (workflow_errors.ConflictError, StaleDataError):
                db.session.rollback()
                return conflict_page(db.session.get(Cycle, cycle_id))
            except workflow_errors.WorkflowError as exc:
                db.session.rollback()
                field_errors = form_error(exc, values)
                status = 403 if isinstance(exc, workflow_errors.PermissionDenied) else 422
            else:
                chosen = next(t for t in offered if t.trigger == trigger)
                flash(
                    _(
                        "%(action)s：%(title)s",
                        action=chosen.done_label(str(get_locale() or "ja")),
                        title=item.title,
                    ),
                    "success",
                )
                return redirect(url_for("items.show", item_id=item.id, fy=cycle.fiscal_year))
        else:
            status = 422
    elif not triggers:
        if involved(cycle):
            return moved_on_page(cycle)
        abort(403)
    return render_template(
        "items/decide.html",
        item=item,
        cycle=cycle,
        transitions=offered,
        values=values,
        errors=field_errors,
        years=list(item.plan.fiscal_years),
        due=due_date(db.session, cycle),
        reported=service.reported_values(cycle),
    ), status


@bp.route("/inbox", methods=["GET", "POST"])
@login_required
@once
def inbox():
    day = today()
    waiting = [
        t
        for t in decisions_waiting(db.session, user_reach(), day)
        if any(tr.kind == "approve" for tr in permissions.allowed(t.cycle, current_user, day))
    ]
    if request.method == "GET":
        return render_template("items/inbox.html", tasks=waiting, step="select", selected=[])

    form = InboxForm.posted()
    form.validate()
    chosen: dict[int, int] = form.cycle.data or {}
    if not chosen:
        flash(_("承認する項目を選んでください。"), "error")
        return render_template("items/inbox.html", tasks=waiting, step="select", selected=[]), 422
    if request.form.get("step") != "approve":
        selected = [t for t in waiting if t.cycle.id in chosen]
        return render_template("items/inbox.html", tasks=selected, step="confirm", selected=chosen)

    approved, refused = batch.approve_many(db.session, chosen, by=current_user, now=now())
    failed = [
        (
            cycle,
            str(CONFLICT_MESSAGE)
            if isinstance(exc, workflow_errors.ConflictError)
            else getattr(exc, "message", str(CONFLICT_MESSAGE)),
        )
        for cycle, exc in refused
    ]
    db.session.commit()
    if approved:
        flash(
            ngettext("%(num)d件を承認しました。", "%(num)d件を承認しました。", len(approved)),
            "success",
        )
    for cycle, message in failed:
        flash(_("%(title)s：%(message)s", title=cycle.item.title, message=message), "error")
    return redirect(url_for("items.inbox"))


LINK_PROBLEMS = {
    "expired": _l("このリンクは有効期限が切れています。"),
    "invalid": _l("このリンクは正しくありません。メールの本文から改めて開いてください。"),
    "used": _l("このリンクはすでに使用されています。"),
    "other_user": _l("このリンクは別の利用者あてに送られたものです。"),
    "moved_on": _l("この項目はメール送信後に状態が変わっています。"),
}


def link_problem(reason: str, cycle: Cycle | None = None, status: int = 410):
    return render_template(
        "links/problem.html", reason=reason, message=str(LINK_PROBLEMS[reason]), cycle=cycle
    ), status


@bp.route("/links/<token>")
@login_required
def follow_link(token: str):
    """Follow a decision link from an e-mail: once, before it expires, to the decision page."""
    try:
        data = load_decision_token(current_app.config["SECRET_KEY"], token)
    except LinkError as exc:
        return link_problem(exc.reason, status=404 if exc.reason == "invalid" else 410)
    cycle = db.session.get(Cycle, data.get("c"))
    if cycle is None:
        return link_problem("invalid", status=404)
    if data.get("u") != current_user.id:
        return link_problem("other_user", cycle, status=403)
    digest = token_digest(token)
    used = db.session.scalar(select(UsedDecisionLink).where(UsedDecisionLink.digest == digest))
    if used is not None:
        return link_problem("used", cycle)
    if cycle.version != data.get("v"):
        return link_problem("moved_on", cycle, status=409)
    db.session.add(
        UsedDecisionLink(digest=digest, cycle_id=cycle.id, user_id=current_user.id, used_at=now())
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return link_problem("used", cycle)
    return redirect(url_for("items.decide", cycle_id=cycle.id))
