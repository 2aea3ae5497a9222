"""Saving the stage contents of a cycle's draft: plan, progress reports, check, act.

Each `save_*` function takes the submitted form (a mapping of strings), the acting user and
`now`; it validates everything first and changes nothing when a value is wrong, returning
the errors as {field name: Japanese message}. With `for_submission` the fields the head
needs to decide are required too. The caller commits.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask import has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session, object_session

from app.calendar import local_date
from app.models import (
    Cycle,
    Direction,
    Grade,
    Indicator,
    IndicatorValue,
    ProgressReport,
    ProgressStatus,
    ProgressValue,
    User,
)
from app.models.cycle import PROGRESS_REPORT
from app.templating import fy_label
from workflows import audit
from workflows.deadlines import year_locked
from workflows.registry import definition_of
from workflows.roles import standing

TEXT_MAX = 4000
NAME_MAX = 200

Errors = dict[str, str]


def form_of(cycle: Cycle) -> str | None:
    """The stage form the cycle's state edits (its definition's `form:`), if any."""
    state = definition_of(cycle).state(cycle.state)
    return state.form if state else None


def can_edit(user: User, cycle: Cycle, form: str, today: date) -> bool:
    """Whether `user` may change the `form` contents of `cycle` today: the state edits that
    form, the year is not locked, and the user plays the role that must act now."""
    definition = definition_of(cycle)
    state = definition.state(cycle.state)
    if state is None or state.form != form or state.actor is None:
        return False
    if year_locked(object_session(cycle), cycle.fiscal_year):
        return False
    role = definition.roles[state.actor]
    return standing(user, role, cycle.item, today, cycle.submitted_by_id) is not None


def report_kinds(cycle: Cycle) -> list[tuple[str, str]]:
    """(kind, label) of the reports staff may file: progress reports and the definition's."""
    definition = definition_of(cycle)
    locale = str(get_locale() or "ja") if has_request_context() else "ja"
    kinds = [(PROGRESS_REPORT, _("進捗報告"))]
    return kinds + [(k, definition.report_label(k, locale)) for k in definition.reports]


def waiting_for(cycle: Cycle) -> str:
    """Who the cycle waits for now, as the role's name (for messages)."""
    definition = definition_of(cycle)
    state = definition.state(cycle.state)
    if state is None or state.actor is None:
        return ""
    locale = str(get_locale() or "ja") if has_request_context() else "ja"
    return definition.roles[state.actor].label(locale)


def normalise(text: str | None) -> str:
    """Full-width digits and letters to half-width, surrounding spaces removed."""
    return unicodedata.normalize("NFKC", text or "").strip()


def parse_decimal(raw: str | None, field: str, errors: Errors, label: str) -> Decimal | None:
    text = normalise(raw).replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors[field] = _("%(label)sは数値で入力してください。", label=label)
        return None
    if not value.is_finite() or abs(value) >= Decimal("1e15"):
        errors[field] = _("%(label)sの値が大きすぎます。", label=label)
        return None
    return value


def parse_int(raw: str | None, field: str, errors: Errors, label: str) -> int | None:
    value = parse_decimal(raw, field, errors, label)
    if value is None:
        return None
    if value != value.to_integral_value():
        errors[field] = _("%(label)sは整数で入力してください。", label=label)
        return None
    return int(value)


def parse_date(raw: str | None, field: str, errors: Errors, label: str) -> date | None:
    text = normalise(raw).replace("/", "-")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = _("%(label)sは「2026-09-30」の形式で入力してください。", label=label)
        return None


def text_field(
    form: Mapping[str, str],
    field: str,
    errors: Errors,
    label: str,
    required: bool = False,
    max_length: int = TEXT_MAX,
) -> str:
    value = (form.get(field) or "").strip()
    if required and not value:
        errors[field] = _("%(label)sを入力してください。", label=label)
    elif len(value) > max_length:
        errors[field] = _("%(label)sは%(n)d文字以内で入力してください。", label=label, n=max_length)
    return value


def enum_field(
    form: Mapping[str, str],
    field: str,
    enum_cls,
    errors: Errors,
    label: str,
    required: bool = False,
):
    raw = (form.get(field) or "").strip()
    if not raw:
        if required:
            errors[field] = _("%(label)sを選んでください。", label=label)
        return None
    try:
        return enum_cls(raw)
    except ValueError:
        errors[field] = _("%(label)sの選択肢が正しくありません。", label=label)
        return None


def _record(
    session: Session, cycle: Cycle, user: User, now: datetime, action: str, data: dict | None = None
) -> None:
    audit.record(
        session,
        scope=f"cycle:{cycle.id}",
        cycle=cycle,
        actor=user,
        action=action,
        from_state=cycle.state,
        to_state=cycle.state,
        data=data or {},
        now=now,
    )


def _value_row(indicator: Indicator, fiscal_year: int) -> IndicatorValue:
    row = indicator.value_for(fiscal_year)
    if row is None:
        row = IndicatorValue(fiscal_year=fiscal_year)
        indicator.values.append(row)
    return row


# --- Plan -----------------------------------------------------------------------------


def reported_values(cycle: Cycle) -> dict[int, tuple[Decimal, date]]:
    """The latest figure reported for each indicator during the year, and its as-of day.

    Progress reports (the mid-year report among them) give figures before the year-end
    actual exists; the decision pages, the item page and the evaluation form show them.
    """
    latest: dict[int, tuple[Decimal, date]] = {}
    for report in sorted(cycle.reports, key=lambda r: (r.as_of, r.created_at)):
        for value in report.values:
            if value.value is not None:
                latest[value.indicator_id] = (value.value, report.as_of)
    return latest


def plan_years(cycle: Cycle) -> list[int]:
    return list(cycle.item.plan.fiscal_years)


def target_years(cycle: Cycle) -> list[int]:
    """The plan years whose targets this cycle's plan may set: its own year on, none locked."""
    session = object_session(cycle)
    return [
        fy for fy in plan_years(cycle) if fy >= cycle.fiscal_year and not year_locked(session, fy)
    ]


def save_plan(
    session: Session,
    cycle: Cycle,
    form: Mapping[str, str],
    *,
    by: User,
    now: datetime,
    for_submission: bool = False,
) -> Errors:
    """Save the goal, the quarterly schedule and the indicators with their targets."""
    errors: Errors = {}
    goal = text_field(form, "goal", errors, _("今年度の目標"), required=for_submission)
    quarters = [
        text_field(form, f"schedule_q{q}", errors, _("第%(q)d四半期", q=q)) for q in range(1, 5)
    ]
    if for_submission and not any(quarters) and "schedule_q1" not in errors:
        errors["schedule_q1"] = _("四半期ごとのスケジュールを少なくとも1つ入力してください。")
    # Past and locked years keep their targets: the form shows them read-only.
    years = target_years(cycle)

    parsed: list[tuple[Indicator | None, dict]] = []
    rows: list[tuple[Indicator | None, str]] = [(i, str(i.id)) for i in cycle.item.indicators]
    rows.append((None, "new"))
    for indicator, key in rows:
        prefix = f"ind-{key}-"
        name = text_field(form, prefix + "name", errors, _("指標名"), max_length=NAME_MAX)
        if indicator is None and not name:
            continue
        if not name:
            errors[prefix + "name"] = _("%(label)sを入力してください。", label=_("指標名"))
        unit = text_field(form, prefix + "unit", errors, _("単位"), max_length=40)
        baseline = parse_decimal(
            form.get(prefix + "baseline"), prefix + "baseline", errors, _("基準値")
        )
        baseline_fy = parse_int(
            form.get(prefix + "baseline_fy"), prefix + "baseline_fy", errors, _("基準年度")
        )
        if baseline_fy is not None and not 1990 <= baseline_fy <= 2100:
            errors[prefix + "baseline_fy"] = _("基準年度は西暦で入力してください（例: 2021）。")
        targets = {}
        shown = name or _("新しい指標")
        for fy in years:
            field = f"{prefix}target-{fy}"
            label = _("%(name)s（%(fy)s）の目標値", name=shown, fy=fy_label(fy))
            targets[fy] = parse_decimal(form.get(field), field, errors, label)
        if (
            for_submission
            and targets.get(cycle.fiscal_year) is None
            and f"{prefix}target-{cycle.fiscal_year}" not in errors
        ):
            errors[f"{prefix}target-{cycle.fiscal_year}"] = _(
                "%(name)sの今年度の目標値を入力してください。", name=shown
            )
        parsed.append(
            (
                indicator,
                {
                    "name": name,
                    "unit": unit,
                    "baseline": baseline,
                    "baseline_fy": baseline_fy,
                    "targets": targets,
                },
            )
        )
    if for_submission and not parsed:
        errors["ind-new-name"] = _("指標を少なくとも1つ登録してください。")
    if errors:
        return errors

    cycle.goal = goal
    cycle.schedule_q1, cycle.schedule_q2, cycle.schedule_q3, cycle.schedule_q4 = quarters
    for indicator, values in parsed:
        if indicator is None:
            indicator = Indicator(position=len(cycle.item.indicators) + 1, name=values["name"])
            cycle.item.indicators.append(indicator)
        indicator.name = values["name"]
        indicator.unit = values["unit"]
        indicator.baseline_value = values["baseline"]
        indicator.baseline_fy = values["baseline_fy"]
        for fy, target in values["targets"].items():
            if target is not None or indicator.value_for(fy) is not None:
                _value_row(indicator, fy).target = target
    session.flush()
    _record(session, cycle, by, now, "save_draft", {"form": "plan"})
    return {}


# --- Do: progress reports -------------------------------------------------------------


def report_is_blank(form: Mapping[str, str]) -> bool:
    keys = ("as_of", "body")
    return not any((form.get(k) or "").strip() for k in keys) and not any(
        (v or "").strip() for k, v in form.items() if k.startswith("value-")
    )


def save_report(
    session: Session, cycle: Cycle, form: Mapping[str, str], *, by: User, now: datetime
) -> Errors:
    """Add a progress report (or the mid-year report) with the indicators' actuals so far."""
    errors: Errors = {}
    kinds = dict(report_kinds(cycle))
    kind = (form.get("kind") or "").strip()
    if not kind:
        errors["kind"] = _("%(label)sを選んでください。", label=_("報告の種類"))
    elif kind not in kinds:
        errors["kind"] = _("%(label)sの選択肢が正しくありません。", label=_("報告の種類"))
    as_of = parse_date(form.get("as_of"), "as_of", errors, _("時点"))
    if as_of is None and "as_of" not in errors:
        errors["as_of"] = _("%(label)sを入力してください。", label=_("時点"))
    elif as_of is not None and not (
        date(cycle.fiscal_year, 4, 1) <= as_of <= date(cycle.fiscal_year + 1, 3, 31)
    ):
        errors["as_of"] = _("時点は対象年度内の日付にしてください。")
    elif as_of is not None and as_of > local_date(now):
        errors["as_of"] = _("時点に未来の日付は指定できません。")
    body = text_field(form, "body", errors, _("進捗状況"), required=True)
    values = {}
    for indicator in cycle.item.indicators:
        field = f"value-{indicator.id}"
        values[indicator] = parse_decimal(
            form.get(field), field, errors, _("%(name)sの実績値", name=indicator.name)
        )
    if errors:
        return errors
    report = ProgressReport(
        cycle=cycle, kind=kind, as_of=as_of, body=body, created_by=by, created_at=now
    )
    for indicator, value in values.items():
        if value is not None:
            report.values.append(ProgressValue(indicator=indicator, value=value))
    session.add(report)
    session.flush()
    _record(session, cycle, by, now, "save_draft", {"form": "report", "kind": str(kind)})
    return {}


# --- Check ----------------------------------------------------------------------------


def save_check(
    session: Session,
    cycle: Cycle,
    form: Mapping[str, str],
    *,
    by: User,
    now: datetime,
    for_submission: bool = False,
) -> Errors:
    """Save the year-end evaluation: actuals, grade, 着手状況, analysis, 課題, 効果額."""
    errors: Errors = {}
    actuals = {}
    for indicator in cycle.item.indicators:
        field = f"actual-{indicator.id}"
        label = _("%(name)sの実績値", name=indicator.name)
        actuals[indicator] = parse_decimal(form.get(field), field, errors, label)
        if for_submission and actuals[indicator] is None and field not in errors:
            errors[field] = _("%(label)sを入力してください。", label=label)
    grade = enum_field(form, "grade", Grade, errors, _("達成度"), required=for_submission)
    status = enum_field(
        form, "progress_status", ProgressStatus, errors, _("着手状況"), required=for_submission
    )
    analysis = text_field(form, "analysis", errors, _("要因分析"), required=for_submission)
    issues = text_field(form, "issues", errors, _("課題"))
    effect = parse_int(form.get("effect_amount"), "effect_amount", errors, _("効果額"))
    if errors:
        return errors
    for indicator, actual in actuals.items():
        if actual is not None or indicator.value_for(cycle.fiscal_year) is not None:
            _value_row(indicator, cycle.fiscal_year).actual = actual
    cycle.grade = grade
    cycle.progress_status = status
    cycle.analysis = analysis
    cycle.issues = issues
    cycle.effect_amount = effect
    session.flush()
    _record(session, cycle, by, now, "save_draft", {"form": "check"})
    return {}


# --- Act ------------------------------------------------------------------------------


def save_act(
    session: Session,
    cycle: Cycle,
    form: Mapping[str, str],
    *,
    by: User,
    now: datetime,
    for_submission: bool = False,
) -> Errors:
    """Save the improvement measures and next year's direction."""
    errors: Errors = {}
    improvement = text_field(form, "improvement", errors, _("改善策"), required=for_submission)
    direction = enum_field(
        form, "direction", Direction, errors, _("今後の方向性"), required=for_submission
    )
    if errors:
        return errors
    cycle.improvement = improvement
    cycle.direction = direction
    session.flush()
    _record(session, cycle, by, now, "save_draft", {"form": "act"})
    return {}


SAVERS = {"plan": save_plan, "check": save_check, "act": save_act}
