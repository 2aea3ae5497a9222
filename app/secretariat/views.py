"""The secretariat's pages: thin views over service, actions and schedule."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import wraps
from urllib.parse import parse_qsl, urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from app.calendar import fiscal_year_of, local_date
from app.exports import export_response, stream_csv
from app.extensions import db
from app.models import AuditEntry, Cycle, OutboxMessage, OutboxStatus
from app.once import once
from app.text import ActionError, current_locale
from app.validation import fiscal_year_arg, narrow, parse_id
from workflows.deadlines import year_locked
from workflows.errors import WorkflowError
from workflows.overdue import load_deadlines, states_of_year
from workflows.registry import definition_of

from . import actions, bp
from . import schedule as schedule_rules
from .forms import ExtendForm, FireForm, LockForm, NudgeForm
from .service import (
    PAGE_SIZE,
    Filters,
    can_act,
    can_view_console,
    column_label,
    columns,
    cycle_loads,
    export_rows,
    filter_choices,
    list_cycles,
    matrix,
)

STUCK_ON_DASHBOARD = 20


def _now() -> datetime:
    return datetime.now(UTC)


def console_required(view):
    """Secretariat and administrators may look; anyone else gets 403."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not can_view_console(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def acting_required(view):
    """Only the secretariat may change anything."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not can_act(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _back(default: str) -> str:
    target = request.form.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


def _filters() -> Filters:
    fiscal_year_arg(request.args, fiscal_year_of(_now()))  # a year out of range is a 404
    return Filters.from_args(request.args, fiscal_year_of(_now()))


def _listed_headers() -> list[str]:
    return [
        _("番号"),
        _("改革項目"),
        _("所管部"),
        _("所管課"),
        _("年度"),
        _("状態"),
        _("状態の開始"),
        _("期限"),
        _("超過営業日数"),
        _("エスカレーション"),
        _("対応すべき人"),
        _("最終更新"),
        _("評価"),
    ]


@bp.route("/")
@console_required
def dashboard():
    filters = _filters()
    now = _now()
    deadlines = load_deadlines(db.session, filters.fiscal_year, local_date(now))
    states = states_of_year(db.session, filters.fiscal_year)
    rows = matrix(db.session, filters, deadlines, states)
    fmt = request.args.get("format")
    if fmt in ("xlsx", "csv"):
        headers = [_("所管部")] + [
            f"{column_label(c)}{suffix}" for c in columns() for suffix in ("", _("（超過）"))
        ]
        data = [
            [r.department.name] + [v for c in columns() for v in (r.counts[c], r.overdue[c])]
            for r in rows
        ]
        return export_response(
            _("所管部別進捗"), headers, data, fmt, fiscal_year=filters.fiscal_year
        )
    stuck_filters = Filters(**{**filters.__dict__, "stuck": True, "page": 1})
    stuck, stuck_total = list_cycles(
        db.session, stuck_filters, deadlines, states, now, limit=STUCK_ON_DASHBOARD
    )
    history = actions.overdue_history(db.session, filters)
    return render_template(
        "secretariat/dashboard.html",
        filters=filters,
        rows=rows,
        columns=columns(),
        column_label=column_label,
        stuck=stuck,
        stuck_total=stuck_total,
        stuck_filters=stuck_filters,
        history=history,
        states=states,
        locked=deadlines.schedule.locked_at is not None,
        schedule=deadlines.schedule,
        can_act=can_act(current_user),
        **filter_choices(db.session),
    )


@bp.route("/items")
@console_required
def items():
    filters = _filters()
    fmt = request.args.get("format")
    if fmt in ("xlsx", "csv"):
        now = _now()
        deadlines = load_deadlines(db.session, filters.fiscal_year, local_date(now))
        states = states_of_year(db.session, filters.fiscal_year)
        rows = export_rows(db.session, filters, deadlines, states, now, current_locale())
        if fmt == "csv":
            return stream_csv(
                _("改革項目一覧"), _listed_headers(), rows, fiscal_year=filters.fiscal_year
            )
        return export_response(
            _("改革項目一覧"), _listed_headers(), rows, fmt, fiscal_year=filters.fiscal_year
        )
    return _items_page(filters)


def _items_page(
    filters: Filters, typed: dict[str, str] | None = None, selected=(), status: int = 200
):
    """The list; `typed` and `selected` keep a refused nudge's message and ticked items."""
    now = _now()
    deadlines = load_deadlines(db.session, filters.fiscal_year, local_date(now))
    states = states_of_year(db.session, filters.fiscal_year)
    listed, total = list_cycles(db.session, filters, deadlines, states, now)
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template(
        "secretariat/items.html",
        filters=filters,
        listed=listed,
        total=total,
        pages=pages,
        states=states,
        columns=columns(),
        column_label=column_label,
        locked=deadlines.schedule.locked_at is not None,
        can_act=can_act(current_user),
        typed=typed or {},
        selected=set(selected),
        **filter_choices(db.session),
    ), status


@bp.route("/nudge", methods=["POST"])
@acting_required
@once
def nudge():
    form = NudgeForm.posted()
    ids = form.cycle_id.data or []
    message = request.form.get("message", "")
    if not form.validate():
        flash(next(iter(form.errors_by_field().values())), "error")
        return _refused_nudge(ids, message)
    message = form.message.data
    cycles = (
        db.session.scalars(select(Cycle).where(Cycle.id.in_(ids)).options(*cycle_loads())).all()
        if ids
        else []
    )
    try:
        sent = actions.nudge(db.session, cycles, by=current_user, now=_now(), message=message)
    except (ActionError, WorkflowError) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _refused_nudge(ids, message)
    db.session.commit()
    flash(
        _(
            "%(items)d件の項目について、%(mails)d通の督促メールを送信予約しました。",
            items=len(cycles),
            mails=sent,
        ),
        "success",
    )
    return redirect(_back(url_for(".items")))


def _refused_nudge(ids: list[int], message: str):
    """The page the nudge came from again, with the message typed and the items ticked."""
    back = urlsplit(_back(url_for(".items")))
    single = url_for(".cycle", cycle_id=ids[0]) if len(ids) == 1 else None
    if single is not None and back.path == single:
        cycle = db.session.scalar(select(Cycle).where(Cycle.id == ids[0]).options(*cycle_loads()))
        if cycle is not None:
            return _cycle_page(cycle, {"n-msg": message}, 422)
    filters = Filters.from_args(MultiDict(parse_qsl(back.query)), fiscal_year_of(_now()))
    return _items_page(filters, {"nudge-message": message}, ids, 422)


def _cycle_or_404(cycle_id: int) -> Cycle:
    cycle = db.session.scalar(select(Cycle).where(Cycle.id == cycle_id).options(*cycle_loads()))
    if cycle is None:
        abort(404)
    return cycle


@bp.route("/cycles/<int:cycle_id>")
@console_required
def cycle(cycle_id: int):
    return _cycle_page(_cycle_or_404(cycle_id))


def _cycle_page(cycle: Cycle, typed: dict[str, str] | None = None, status: int = 200):
    """The cycle's page; `typed` keeps what was typed into a refused form, by field id."""
    from workflows.deadlines import due_date
    from workflows.permissions import allowed, who_must_act

    today = local_date(_now())
    history = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.cycle_id == cycle.id)
        .options(selectinload(AuditEntry.actor))
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    return render_template(
        "secretariat/cycle.html",
        cycle=cycle,
        due=due_date(db.session, cycle),
        must_act=who_must_act(cycle, today),
        history=history,
        locked=year_locked(db.session, cycle.fiscal_year),
        can_act=can_act(current_user),
        today=today,
        transitions=allowed(cycle, current_user, today),
        typed=typed or {},
    ), status


def _cycle_action(cycle_id: int, run, success: str, typed: dict[str, str]):
    """Run an action on the cycle; a refusal shows the page again, with the message and
    what was typed (`typed`, by field id), as 422."""
    cycle = _cycle_or_404(cycle_id)
    try:
        run(cycle)
    except (ActionError, WorkflowError) as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _cycle_page(_cycle_or_404(cycle_id), typed, 422)
    db.session.commit()
    flash(success, "success")
    return redirect(_back(url_for(".cycle", cycle_id=cycle_id)))


@bp.route("/cycles/<int:cycle_id>/extend", methods=["POST"])
@acting_required
@once
def extend(cycle_id: int):
    form = ExtendForm.posted()
    typed = {"e-due": request.form.get("due_on", ""), "e-reason": request.form.get("reason", "")}
    if not form.validate():
        flash(next(iter(form.errors_by_field().values())), "error")
        return _cycle_page(_cycle_or_404(cycle_id), typed, 422)
    return _cycle_action(
        cycle_id,
        lambda c: actions.extend_deadline(
            db.session,
            c,
            by=current_user,
            now=_now(),
            due_on=form.due_on.data,
            reason=form.reason.data,
        ),
        _("期限を延長しました。"),
        typed,
    )


@bp.route("/cycles/<int:cycle_id>/fire", methods=["POST"])
@acting_required
@once
def fire(cycle_id: int):
    """Fire one of the transitions the console offers (confirm, reopen, a hearing ...)."""
    form = FireForm.posted()
    trigger = form.trigger.data or ""
    typed = {f"t-{trigger}": request.form.get("comment", "")}
    if not form.validate():
        flash(next(iter(form.errors_by_field().values())), "error")
        return _cycle_page(_cycle_or_404(cycle_id), typed, 422)
    comment = form.comment.data
    return _cycle_action(
        cycle_id,
        lambda c: actions.fire(
            db.session,
            c,
            trigger,
            by=current_user,
            now=_now(),
            comment=comment,
            expected_version=form.version.data,
        ),
        _("「%(action)s」を行いました。", action=_done_label(cycle_id, trigger)),
        typed,
    )


def _done_label(cycle_id: int, trigger: str) -> str:
    cycle = db.session.get(Cycle, cycle_id)
    found = definition_of(cycle).by_trigger(trigger) if cycle else None
    return found.done_label(str(get_locale() or "ja")) if found else trigger


@bp.route("/years/<int:fiscal_year>/lock", methods=["POST"])
@acting_required
@once
def lock(fiscal_year: int):
    if not 2000 <= fiscal_year <= 2100:
        abort(404)
    form = LockForm.posted()
    typed = request.form.get("confirm_year", "")
    if not form.validate() or narrow(form.confirm_year.data) != str(fiscal_year):
        flash(_("確認のため、ロックする年度（西暦）を入力してください。"), "error")
        return _schedule_page(fiscal_year, typed={"lock-year": typed}, status=422)
    try:
        actions.lock_fiscal_year(db.session, fiscal_year, by=current_user, now=_now())
    except ActionError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _schedule_page(fiscal_year, typed={"lock-year": typed}, status=422)
    db.session.commit()
    flash(_("%(year)s年度をロックしました。", year=fiscal_year), "success")
    return redirect(url_for(".schedule", fiscal_year=fiscal_year))


@bp.route("/schedule/<int:fiscal_year>", methods=["GET", "POST"])
@console_required
@once
def schedule(fiscal_year: int):
    if not 2000 <= fiscal_year <= 2100:
        abort(404)
    if request.method == "GET":
        return _schedule_page(fiscal_year)
    if not can_act(current_user):
        abort(403)
    parsed = schedule_rules.parse(fiscal_year, request.form)
    status = 200
    if parsed.ok and request.form.get("action") == "save":
        try:
            schedule_rules.save(db.session, fiscal_year, parsed, by=current_user, now=_now())
        except ActionError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(_("%(year)s年度のスケジュールを保存しました。", year=fiscal_year), "success")
            return redirect(url_for(".schedule", fiscal_year=fiscal_year))
    elif not parsed.ok:
        flash(_("入力内容に誤りがあります。各項目のメッセージを確認してください。"), "error")
        status = 422
    return _schedule_page(fiscal_year, parsed.values, parsed.errors, status=status, preview=True)


def _schedule_page(
    fiscal_year: int,
    values: dict | None = None,
    errors: dict | None = None,
    *,
    typed: dict[str, str] | None = None,
    status: int = 200,
    preview: bool = False,
):
    """The schedule page: the stored schedule, or `values` being previewed."""
    from workflows.deadlines import schedule_for

    stored = schedule_for(db.session, fiscal_year)
    values = values if values is not None else schedule_rules.form_values(stored)
    return render_template(
        "secretariat/schedule.html",
        fiscal_year=fiscal_year,
        values=values,
        errors=errors or {},
        labels=schedule_rules.field_labels(),
        stage_fields=[schedule_rules.due_field(s.name) for s in schedule_rules.stages()],
        stored=stored,
        locked=stored.locked_at is not None,
        deadlines=schedule_rules.deadlines_preview(values),
        months=schedule_rules.calendar_preview(fiscal_year, values),
        can_act=can_act(current_user),
        previewing=preview,
        typed=typed or {},
    ), status


@bp.route("/notifications")
@console_required
def notifications():
    status = request.args.get("status") or None
    kind = request.args.get("kind") or None
    if kind is not None and not re.fullmatch(r"[a-z_]{1,60}", kind):
        kind = None  # no kind of mail is named so
    page = parse_id(request.args.get("page")) or 1
    query = select(OutboxMessage).options(selectinload(OutboxMessage.recipient))
    if status in {s.value for s in OutboxStatus}:
        query = query.where(OutboxMessage.status == OutboxStatus(status))
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    query = query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    fmt = request.args.get("format")
    headers = [
        _("作成日時"),
        _("種類"),
        _("宛先"),
        _("メールアドレス"),
        _("件名"),
        _("状態"),
        _("送信日時"),
        _("試行回数"),
        _("エラー"),
    ]
    if fmt in ("xlsx", "csv"):
        messages = db.session.scalars(query).all()
        rows = (
            [
                m.created_at,
                m.kind,
                m.recipient.name if m.recipient else "",
                m.to_address,
                m.subject,
                m.status.ja,
                m.sent_at,
                m.attempts,
                m.last_error,
            ]
            for m in messages
        )
        return export_response(_("通知ログ"), headers, rows, fmt)
    messages = db.session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    kinds = db.session.scalars(
        select(OutboxMessage.kind).distinct().order_by(OutboxMessage.kind)
    ).all()
    return render_template(
        "secretariat/notifications.html",
        messages=messages,
        status=status,
        kind=kind,
        kinds=kinds,
        page=page,
        statuses=list(OutboxStatus),
        missed=_missed_windows(),
        scheduler=_scheduler_state(),
    )


def _scheduler_state():
    """The scheduler's state row: its last tick, and the error of a failing job."""
    from notifications.state import scheduler_status

    return scheduler_status(db.session)


def _missed_windows() -> list:
    """Missed scheduler runs (downtime, reminders not sent late)."""
    from notifications.state import missed_windows

    return list(missed_windows(db.session))


@bp.app_template_global()
def current_fy() -> int:
    return fiscal_year_of(_now())


@bp.cli.command("snapshot")
def snapshot_command() -> None:
    """Record today's overdue counts for the dashboard's chart (idempotent, run daily)."""
    import click

    from notifications.snapshots import snapshot_overdue

    rows = snapshot_overdue(db.session, local_date(_now()))
    db.session.commit()
    for row in rows:
        click.echo(f"FY{row.fiscal_year}: {row.overdue_count} overdue of {row.open_count} open")
