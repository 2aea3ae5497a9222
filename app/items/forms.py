"""The stage forms (plan, progress report, check, act) and the decision forms.

A stage form's fields depend on the item (one row per indicator, one target per plan
year), so each is built for its cycle. The labels name the field the way the page does,
so every refusal says which value is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from wtforms import Field

from app.fields import DateInput, EnumField, Form, NumberField, TextField, version_field
from app.models import Cycle, Direction, EffectKind, Grade, Indicator, ProgressStatus
from app.templating import fy_label
from app.text import _
from app.validation import ID_MAX, TEXT_MAX, Invalid, column_length, parse_id, parse_int

NAME_MAX = column_length(Indicator.name)
UNIT_MAX = column_length(Indicator.unit)


def _text(label, **kw) -> TextField:
    return TextField(label, max_length=TEXT_MAX, multiline=True, **kw)


def _build(name: str, fields: dict) -> type[Form]:
    fields["comment"] = _text(_l("提出時のコメント"))
    return type(name, (Form,), fields)


def plan_form(cycle: Cycle, years: list[int], formdata: Mapping) -> type[Form]:
    """The plan: goal, quarterly schedule, the item's 工程 for each plan year, each indicator
    with its targets (and a new one)."""
    fields = {"goal": _text(_l("今年度の目標"))}
    for q in range(1, 5):
        fields[f"schedule_q{q}"] = _text(_("第%(q)d四半期", q=q))
    for fy in cycle.item.plan.fiscal_years:
        fields[f"step-{fy}"] = _text(_("%(fy)sの工程", fy=fy_label(fy)))
    keys = [str(i.id) for i in cycle.item.indicators] + ["new"]
    for key in keys:
        prefix = f"ind-{key}-"
        fields[prefix + "name"] = TextField(_l("指標名"), max_length=NAME_MAX)
        fields[prefix + "unit"] = TextField(_l("単位"), max_length=UNIT_MAX)
        fields[prefix + "baseline"] = NumberField(_l("基準値"))
        fields[prefix + "baseline_fy"] = NumberField(
            _l("基準年度"),
            integer=True,
            low=1990,
            high=2100,
            message=_l("基準年度は西暦で入力してください（例: 2021）。"),
        )
        typed = str(formdata.get(prefix + "name") or "").strip()[:NAME_MAX]
        shown = typed or _("新しい指標")
        for fy in years:
            label = _("%(name)s（%(fy)s）の目標値", name=shown, fy=fy_label(fy))
            fields[f"{prefix}target-{fy}"] = NumberField(label)
    return _build("PlanForm", fields)


def report_form(cycle: Cycle) -> type[Form]:
    """A progress report (or the mid-year report) with the indicators' actuals so far."""
    fields = {
        "kind": TextField(_l("報告の種類"), max_length=40),  # checked against the definition
        "as_of": DateInput(_l("時点")),
        "body": _text(_l("進捗状況")),
    }
    for indicator in cycle.item.indicators:
        label = _("%(name)sの実績値", name=indicator.name)
        fields[f"value-{indicator.id}"] = NumberField(label)
    return _build("ReportForm", fields)


def check_form(cycle: Cycle) -> type[Form]:
    """The year-end evaluation."""
    fields = {}
    for indicator in cycle.item.indicators:
        label = _("%(name)sの実績値", name=indicator.name)
        fields[f"actual-{indicator.id}"] = NumberField(label)
    fields.update(
        grade=EnumField(_l("達成度"), enum=Grade),
        progress_status=EnumField(_l("着手状況"), enum=ProgressStatus),
        achievements=_text(_l("取組実績")),
        analysis=_text(_l("要因分析")),
        issues=_text(_l("課題")),
        effect_amount=NumberField(_l("効果額"), integer=True),
        effect_kind=EnumField(_l("効果額の種類"), enum=EffectKind),
        effect_basis=_text(_l("効果額の算定根拠")),
    )
    return _build("CheckForm", fields)


def act_form(cycle: Cycle) -> type[Form]:
    """The improvement measures and next year's direction."""
    return _build(
        "ActForm",
        {
            "improvement": _text(_l("改善策")),
            "direction": EnumField(_l("今後の方向性"), enum=Direction),
        },
    )


class StageMetaForm(Form):
    """What every stage form carries besides its contents."""

    expected_version = version_field()
    comment = _text(_l("提出時のコメント"))


class DecideForm(Form):
    trigger = TextField(_l("操作"), max_length=60)
    comment = TextField(_l("コメント"), max_length=TEXT_MAX, multiline=True)
    expected_version = version_field()


class CycleVersionsField(Field):
    """Ticked submissions as "cycle id:version"; what is not so shaped is dropped."""

    def process_formdata(self, valuelist):
        chosen: dict[int, int] = {}
        for raw in valuelist[:500]:
            ident, _sep, version = str(raw).partition(":")
            try:
                cycle_id, number = parse_id(ident), parse_int(version, low=0, high=ID_MAX)
            except Invalid:
                continue
            if cycle_id is not None and number is not None:
                chosen[cycle_id] = number
        self.data = chosen


class InboxForm(Form):
    cycle = CycleVersionsField()
    step = TextField(max_length=20)
