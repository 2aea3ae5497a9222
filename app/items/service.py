"""Saving the stage contents of a cycle's draft: plan, progress reports, check, act.

Each `save_*` function takes the submitted form (a mapping of strings), the acting user and
`now`; it validates everything first and changes nothing when a value is wrong, returning
the errors as {field name: Japanese message}. With `for_submission` the fields the head
needs to decide are required too. The caller commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from flask import has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session, object_session

from app.calendar import local_date
from app.models import (
    Cycle,
    Indicator,
    IndicatorValue,
    ItemStep,
    ProgressReport,
    ProgressValue,
    ReformItem,
    User,
)
from app.models.cycle import PROGRESS_REPORT
from workflows import audit
from workflows.deadlines import year_locked
from workflows.registry import definition_of
from workflows.roles import standing

from .forms import act_form, check_form, plan_form, report_form

TEXT_MAX = 4000

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


def initial_values(cycle: Cycle, form: str) -> dict[str, str]:
    """The stored contents as form values, for the first display of a form."""

    def num(value) -> str:
        return "" if value is None else format(value.normalize(), "f")

    values: dict[str, str] = {"expected_version": str(cycle.version)}
    if form == "plan":
        values["goal"] = cycle.goal
        for q in range(1, 5):
            values[f"schedule_q{q}"] = getattr(cycle, f"schedule_q{q}")
        for fy in cycle.item.plan.fiscal_years:
            values[f"step-{fy}"] = cycle.item.step_for(fy)
        for ind in cycle.item.indicators:
            p = f"ind-{ind.id}-"
            values[p + "name"] = ind.name
            values[p + "unit"] = ind.unit
            values[p + "baseline"] = num(ind.baseline_value)
            values[p + "baseline_fy"] = str(ind.baseline_fy or "")
            for v in ind.values:
                values[f"{p}target-{v.fiscal_year}"] = num(v.target)
    elif form == "check":
        for ind in cycle.item.indicators:
            v = ind.value_for(cycle.fiscal_year)
            values[f"actual-{ind.id}"] = num(v.actual if v else None)
        values["grade"] = cycle.grade.value if cycle.grade else ""
        values["progress_status"] = cycle.progress_status.value if cycle.progress_status else ""
        values["achievements"] = cycle.achievements
        values["analysis"] = cycle.analysis
        values["issues"] = cycle.issues
        values["effect_amount"] = "" if cycle.effect_amount is None else str(cycle.effect_amount)
        values["effect_kind"] = cycle.effect_kind.value if cycle.effect_kind else ""
        values["effect_basis"] = cycle.effect_basis
    elif form == "act":
        values["improvement"] = cycle.improvement
        values["direction"] = cycle.direction.value if cycle.direction else ""
    elif form == "report":
        values["kind"] = PROGRESS_REPORT
    return values


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


def _lock_chain(session: Session, cycle: Cycle) -> None:
    """A saver's first step: the cycle's audit lock before its row, in the order a decision
    takes them (so a save racing a decision waits, never deadlocks)."""
    audit.serialise(session, audit.cycle_scope(cycle))


def save_plan(
    session: Session,
    cycle: Cycle,
    form: Mapping[str, str],
    *,
    by: User,
    now: datetime,
    for_submission: bool = False,
) -> Errors:
    """Save the goal, the quarterly schedule, the item's 工程 by fiscal year and the
    indicators with their targets."""
    _lock_chain(session, cycle)
    # Past and locked years keep their targets: the form shows them read-only.
    years = target_years(cycle)
    checked = plan_form(cycle, years, form)(form)
    checked.validate()
    errors: Errors = checked.errors_by_field()
    goal = checked.goal.data
    if for_submission and not goal and "goal" not in errors:
        errors["goal"] = _("%(label)sを入力してください。", label=_("今年度の目標"))
    quarters = [checked[f"schedule_q{q}"].data for q in range(1, 5)]
    if for_submission and not any(quarters) and "schedule_q1" not in errors:
        errors["schedule_q1"] = _("四半期ごとのスケジュールを少なくとも1つ入力してください。")
    # The 工程 of the plan's years that the form carried (a form without them keeps them).
    steps = {
        fy: checked[f"step-{fy}"].data
        for fy in cycle.item.plan.fiscal_years
        if f"step-{fy}" in form
    }

    parsed: list[tuple[Indicator | None, dict]] = []
    rows: list[tuple[Indicator | None, str]] = [(i, str(i.id)) for i in cycle.item.indicators]
    rows.append((None, "new"))
    for indicator, key in rows:
        prefix = f"ind-{key}-"
        name = checked[prefix + "name"].data
        if indicator is None and not name:
            continue
        if not name and prefix + "name" not in errors:
            errors[prefix + "name"] = _("%(label)sを入力してください。", label=_("指標名"))
        shown = name or _("新しい指標")
        targets = {fy: checked[f"{prefix}target-{fy}"].data for fy in years}
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
                    "unit": checked[prefix + "unit"].data,
                    "baseline": checked[prefix + "baseline"].data,
                    "baseline_fy": checked[prefix + "baseline_fy"].data,
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
    set_steps(cycle.item, steps)
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


def set_steps(item: ReformItem, steps: Mapping[int, str]) -> None:
    """Write the item's 工程 for the given fiscal years (an empty text removes one)."""
    by_year = {s.fiscal_year: s for s in item.steps}
    for fy, text in steps.items():
        text = (text or "").strip()
        row = by_year.get(fy)
        if text and row is None:
            item.steps.append(ItemStep(fiscal_year=fy, text=text))
        elif text:
            row.text = text
        elif row is not None:
            item.steps.remove(row)


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
    _lock_chain(session, cycle)
    checked = report_form(cycle)(form)
    checked.validate()
    errors: Errors = checked.errors_by_field()
    kind, as_of, body = checked.kind.data, checked.as_of.data, checked.body.data
    if not kind and "kind" not in errors:
        errors["kind"] = _("%(label)sを選んでください。", label=_("報告の種類"))
    elif kind and kind not in dict(report_kinds(cycle)) and "kind" not in errors:
        errors["kind"] = _("%(label)sの選択肢が正しくありません。", label=_("報告の種類"))
    if as_of is None and "as_of" not in errors:
        errors["as_of"] = _("%(label)sを入力してください。", label=_("時点"))
    elif as_of is not None and not (
        date(cycle.fiscal_year, 4, 1) <= as_of <= date(cycle.fiscal_year + 1, 3, 31)
    ):
        errors["as_of"] = _("時点は対象年度内の日付にしてください。")
    elif as_of is not None and as_of > local_date(now):
        errors["as_of"] = _("時点に未来の日付は指定できません。")
    if not body and "body" not in errors:
        errors["body"] = _("%(label)sを入力してください。", label=_("進捗状況"))
    values = {i: checked[f"value-{i.id}"].data for i in cycle.item.indicators}
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
    """Save the year-end evaluation: actuals, grade, 着手状況, 取組実績, analysis, 課題, and
    効果額 with its kind and basis (both required to submit once an amount is given)."""
    _lock_chain(session, cycle)
    checked = check_form(cycle)(form)
    checked.validate()
    errors: Errors = checked.errors_by_field()
    actuals = {}
    for indicator in cycle.item.indicators:
        field = f"actual-{indicator.id}"
        actuals[indicator] = checked[field].data
        if for_submission and actuals[indicator] is None and field not in errors:
            label = _("%(name)sの実績値", name=indicator.name)
            errors[field] = _("%(label)sを入力してください。", label=label)
    grade, status = checked.grade.data, checked.progress_status.data
    analysis, issues = checked.analysis.data, checked.issues.data
    achievements = checked.achievements.data
    effect = checked.effect_amount.data
    effect_kind, effect_basis = checked.effect_kind.data, checked.effect_basis.data
    if effect is not None and effect < 0 and "effect_amount" not in errors:
        errors["effect_amount"] = _("効果額は0以上の金額を円単位で入力してください。")
    # A draft may hold an amount alone (a finance system writes it first); the head sees
    # its kind and basis with it.
    if for_submission and effect is not None and "effect_amount" not in errors:
        if effect_kind is None and "effect_kind" not in errors:
            errors["effect_kind"] = _(
                "効果額を入力したときは、その種類（歳入確保・歳出削減・その他）を選んでください。"
            )
        if not effect_basis and "effect_basis" not in errors:
            errors["effect_basis"] = _("効果額を入力したときは、その算定根拠を入力してください。")
    if for_submission:
        for name, value, label, verb in (
            ("grade", grade, _("達成度"), "choose"),
            ("progress_status", status, _("着手状況"), "choose"),
            ("achievements", achievements, _("取組実績"), "enter"),
            ("analysis", analysis, _("要因分析"), "enter"),
        ):
            if not value and name not in errors:
                errors[name] = (
                    _("%(label)sを選んでください。", label=label)
                    if verb == "choose"
                    else _("%(label)sを入力してください。", label=label)
                )
    if errors:
        return errors
    for indicator, actual in actuals.items():
        if actual is not None or indicator.value_for(cycle.fiscal_year) is not None:
            _value_row(indicator, cycle.fiscal_year).actual = actual
    cycle.grade = grade
    cycle.progress_status = status
    cycle.achievements = achievements
    cycle.analysis = analysis
    cycle.issues = issues
    cycle.effect_amount = effect
    # A kind or basis without an amount means nothing: kept only beside an amount.
    cycle.effect_kind = effect_kind if effect is not None else None
    cycle.effect_basis = effect_basis if effect is not None else ""
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
    _lock_chain(session, cycle)
    checked = act_form(cycle)(form)
    checked.validate()
    errors: Errors = checked.errors_by_field()
    improvement, direction = checked.improvement.data, checked.direction.data
    if for_submission and not improvement and "improvement" not in errors:
        errors["improvement"] = _("%(label)sを入力してください。", label=_("改善策"))
    if for_submission and direction is None and "direction" not in errors:
        errors["direction"] = _("%(label)sを選んでください。", label=_("今後の方向性"))
    if errors:
        return errors
    cycle.improvement = improvement
    cycle.direction = direction
    session.flush()
    _record(session, cycle, by, now, "save_draft", {"form": "act"})
    return {}


SAVERS = {"plan": save_plan, "check": save_check, "act": save_act}
