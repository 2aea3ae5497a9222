"""Write endpoints: save a stage's draft, add a progress report, submit, approve, send
back, withdraw. Each calls what the pages call (`app.items.service` savers and `can_edit`,
`workflows.operations`); the engine checks the rights and writes the audit log.

Every write carries the cycle's version in If-Match: 428 without it, 412 when it is not
the current version, 409 when the engine finds someone decided first (a concurrent
change) or the state does not allow the step, 403 without the right, 422 for content.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from flask_babel import force_locale
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.items import service as stage
from app.models import Cycle
from app.text import N_
from workflows import errors as workflow_errors
from workflows import operations, permissions

from . import cycles_bp
from . import schemas as s
from .common import Refused, api_user, expected_version, needs_write, now, today
from .errors import engine_problem
from .problems import problem
from .reads import PRIVATE_DOC, cycle_answer, cycle_or_refuse

NOT_OURS = N_("この項目の指標ではありません。")
FORM_FIELDS = {
    "plan": {"goal", "schedule_q1", "schedule_q2", "schedule_q3", "schedule_q4", "indicators"},
    "check": {
        "actuals",
        "grade",
        "progress_status",
        "achievements",
        "analysis",
        "issues",
        "effect_amount",
        "effect_kind",
        "effect_basis",
    },
    "act": {"improvement", "direction"},
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": 'The cycle\'s version ("7"), or the ETag of GET /cycles/{id}.',
    "schema": {"type": "string"},
}


def write_doc(view):
    view = cycles_bp.response(200, s.CycleOut)(view)
    return cycles_bp.doc(**PRIVATE_DOC, parameters=[IF_MATCH])(view)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _checked_cycle(cycle_id: int) -> tuple[Cycle, int]:
    """The cycle the user may see, and the If-Match version if it is the current one."""
    cycle = cycle_or_refuse(cycle_id)
    version = expected_version()
    if version != cycle.version:
        raise Refused(
            problem(
                412,
                detail=lambda: _stale_detail(cycle.version),
                headers={"ETag": f'"{cycle.version}"'},
            )
        )
    return cycle, version


def _stale_detail(version: int) -> str:
    from flask_babel import gettext

    return gettext(
        "この年度サイクルは更新されています（現在の版: %(version)s）。読み直してください。",
        version=version,
    )


def _field_problem(errors: Mapping[str, str], again: Callable[[], Mapping[str, str]]):
    """422 with each refused field in both languages (`again()` re-runs the check, which
    writes nothing when it refuses, in the other language)."""
    both = {}
    for language in ("ja", "en"):
        with force_locale(language):
            both[language] = again()
    listed = [
        {
            "field": name,
            "message": message,
            "messages": {lang: both[lang].get(name, message) for lang in ("ja", "en")},
        }
        for name, message in errors.items()
    ]
    return problem(422, errors=listed)


def _moved_on_or_forbidden(cycle: Cycle):
    """As the pages: the people involved learn the state does not wait for them (409)."""
    if permissions.involved(cycle, api_user(), today()):
        return problem(
            409,
            code="invalid_transition",
            detail=N_("この項目は現在の状態では、あなたの操作を待っていません。"),
        )
    return problem(403)


def _form_values(cycle: Cycle, form: str, data: dict) -> dict[str, str]:
    """The stored contents (as the page's form shows them), with what `data` changes."""
    values = stage.initial_values(cycle, form)
    for key, value in data.items():
        if key in ("indicators", "actuals"):
            continue
        values[key] = _text(value)
    if form == "plan":
        known = {i.id for i in cycle.item.indicators}
        new = [i for i in data.get("indicators", []) if "id" not in i]
        if len(new) > 1:
            raise Refused(
                problem(
                    422,
                    errors=[_error("indicators", N_("新しい指標は1回に1つまで登録できます。"))],
                )
            )
        for indicator in data.get("indicators", []):
            key = str(indicator["id"]) if "id" in indicator else "new"
            if key != "new" and indicator["id"] not in known:
                raise Refused(problem(422, errors=[_error("indicators", NOT_OURS)]))
            prefix = f"ind-{key}-"
            for name in ("name", "unit", "baseline", "baseline_fy"):
                if name in indicator:
                    values[prefix + name] = _text(indicator[name])
            for target in indicator.get("targets", []):
                values[f"{prefix}target-{target['fiscal_year']}"] = _text(target["target"])
    if form == "check":
        known = {i.id for i in cycle.item.indicators}
        for actual in data.get("actuals", []):
            if actual["indicator_id"] not in known:
                raise Refused(problem(422, errors=[_error("actuals", NOT_OURS)]))
            values[f"actual-{actual['indicator_id']}"] = _text(actual["actual"])
    return values


def _error(field: str, msgid: str) -> dict:
    from flask_babel import gettext

    texts = {}
    for language in ("ja", "en"):
        with force_locale(language):
            texts[language] = gettext(msgid)
    return {"field": field, "message": gettext(msgid), "messages": texts}


def _move_version(cycle: Cycle, version: int) -> None:
    """A save through the API moves the version (once), so a client holding the old one
    learns that the draft changed, even when only indicators or reports changed."""
    if cycle.version == version:
        flag_modified(cycle, "goal")


def _commit_or_conflict() -> None:
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Refused(engine_problem(workflow_errors.ConflictError())) from None


@cycles_bp.route("/cycles/<int:cycle_id>/draft", methods=["PATCH"])
@needs_write
@cycles_bp.arguments(s.DraftIn)
@write_doc
def save_draft(data: dict, cycle_id: int):
    """段階の下書きを保存 / Save the draft of the stage the cycle is in (plan, check, act)

    Only the fields of the stage's form; those left out keep their stored values. As
    the page's 下書き保存: the same checks, the same audit record. The version moves.
    """
    cycle, version = _checked_cycle(cycle_id)
    user, moment = api_user(), now()
    form = stage.form_of(cycle)
    if form not in FORM_FIELDS or not stage.can_edit(user, cycle, form, today()):
        raise Refused(_moved_on_or_forbidden(cycle))
    foreign = sorted(set(data) - FORM_FIELDS[form])
    if foreign:
        raise Refused(
            problem(
                422,
                errors=[_error(name, N_("この段階の様式にはない項目です。")) for name in foreign],
            )
        )
    values = _form_values(cycle, form, data)
    saver = stage.SAVERS[form]

    def save():
        return saver(db.session, cycle, values, by=user, now=moment)

    errors = save()
    if errors:
        db.session.rollback()
        raise Refused(_field_problem(errors, save))
    _move_version(cycle, version)
    _commit_or_conflict()
    return cycle_answer(cycle_or_refuse(cycle_id))


@cycles_bp.route("/cycles/<int:cycle_id>/reports", methods=["POST"])
@needs_write
@cycles_bp.arguments(s.ReportIn)
@write_doc
def add_report(data: dict, cycle_id: int):
    """進捗報告を登録 / Add a progress report (or the mid-year report) with actuals so far"""
    cycle, version = _checked_cycle(cycle_id)
    user, moment = api_user(), now()
    if stage.form_of(cycle) != "report" or not stage.can_edit(user, cycle, "report", today()):
        raise Refused(_moved_on_or_forbidden(cycle))
    values = {"kind": data["kind"], "as_of": data["as_of"].isoformat(), "body": data["body"]}
    known = {i.id for i in cycle.item.indicators}
    for value in data.get("values", []):
        if value["indicator_id"] not in known:
            raise Refused(problem(422, errors=[_error("values", NOT_OURS)]))
        values[f"value-{value['indicator_id']}"] = _text(value["value"])

    def save():
        return stage.save_report(db.session, cycle, values, by=user, now=moment)

    errors = save()
    if errors:
        db.session.rollback()
        raise Refused(_field_problem(errors, save))
    _move_version(cycle, version)
    _commit_or_conflict()
    return cycle_answer(cycle_or_refuse(cycle_id))


def _decide(cycle_id: int, operation: Callable, **text: str):
    cycle, version = _checked_cycle(cycle_id)
    try:
        operation(cycle, by=api_user(), now=now(), expected_version=version, **text)
        db.session.commit()
    except (workflow_errors.WorkflowError, StaleDataError) as exc:
        db.session.rollback()
        if isinstance(exc, StaleDataError):
            exc = workflow_errors.ConflictError()
        raise Refused(engine_problem(exc)) from None
    return cycle_answer(cycle_or_refuse(cycle_id))


@cycles_bp.route("/cycles/<int:cycle_id>/submit", methods=["POST"])
@needs_write
@cycles_bp.arguments(s.CommentIn)
@write_doc
def submit(data: dict, cycle_id: int):
    """提出 / Submit the stage

    As the page's 提出: the stored draft is checked as complete for the decision first.
    """
    cycle, version = _checked_cycle(cycle_id)
    user, moment = api_user(), now()
    form = stage.form_of(cycle)
    if form is None or not stage.can_edit(user, cycle, form, today()):
        raise Refused(_moved_on_or_forbidden(cycle))
    if form in stage.SAVERS:
        values = stage.initial_values(cycle, form)
        saver = stage.SAVERS[form]

        def check():
            return saver(db.session, cycle, values, by=user, now=moment, for_submission=True)

        errors = check()
        if errors:
            db.session.rollback()
            raise Refused(_field_problem(errors, check))
    try:
        operations.submit(
            cycle, by=user, now=moment, comment=data["comment"], expected_version=version
        )
        db.session.commit()
    except (workflow_errors.WorkflowError, StaleDataError) as exc:
        db.session.rollback()
        if isinstance(exc, StaleDataError):
            exc = workflow_errors.ConflictError()
        raise Refused(engine_problem(exc)) from None
    return cycle_answer(cycle_or_refuse(cycle_id))


@cycles_bp.route("/cycles/<int:cycle_id>/approve", methods=["POST"])
@needs_write
@cycles_bp.arguments(s.CommentIn)
@write_doc
def approve(data: dict, cycle_id: int):
    """承認 / Approve the waiting submission (in person or as substitute, 代決)"""
    return _decide(cycle_id, operations.approve, comment=data["comment"])


@cycles_bp.route("/cycles/<int:cycle_id>/send-back", methods=["POST"])
@needs_write
@cycles_bp.arguments(s.ReasonIn)
@write_doc
def send_back(data: dict, cycle_id: int):
    """差戻し / Send the submission back, with a reason (422 without one)"""
    return _decide(cycle_id, operations.send_back, reason=data["reason"])


@cycles_bp.route("/cycles/<int:cycle_id>/withdraw", methods=["POST"])
@needs_write
@cycles_bp.arguments(s.CommentIn)
@write_doc
def withdraw(data: dict, cycle_id: int):
    """取下げ / Withdraw one's own submission before a decision"""
    return _decide(cycle_id, operations.withdraw, comment=data["comment"])
