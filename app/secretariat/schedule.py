"""The fiscal year's schedule: validate the secretariat's settings and preview the calendar."""

from __future__ import annotations

import calendar as pycalendar
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from app.calendar import add_business_days, fiscal_year_bounds, holiday_name
from app.models import FiscalYearSchedule, User
from app.text import _, current_locale
from notifications.reminders import reminder_days
from workflows.deadlines import adjusted, schedule_for
from workflows.registry import get_definition

from .actions import refuse_if_locked

EVENT_FIELDS = ("committee_from", "committee_to", "publication_on")
INT_FIELDS = ("escalate_head_after", "escalate_secretariat_after", "escalation_repeat_days")
# The escalation level each delay belongs to (the definition names who is told).
LEVEL_OF = {"escalate_head_after": "first", "escalate_secretariat_after": "second"}


def due_field(stage: str) -> str:
    """The form field of a stage's deadline."""
    return f"due-{stage}"


def stages():
    """The stages the current definition declares, in order."""
    return list(get_definition().stages.values())


def date_fields() -> list[str]:
    return [due_field(s.name) for s in stages()] + list(EVENT_FIELDS)


def _level_label(level: str) -> str:
    definition = get_definition()
    role = definition.escalation.get(level)
    return definition.roles[role].label(current_locale()) if role else level


def field_labels() -> dict[str, str]:
    labels = {
        due_field(s.name): _("%(stage)sの期限", stage=s.label(current_locale())) for s in stages()
    }
    labels.update(
        {
            "committee_from": _("委員会審議の開始日"),
            "committee_to": _("委員会審議の終了日"),
            "publication_on": _("公表日"),
            "reminder_days": _("リマインダー（期限の何日前）"),
            "escalate_head_after": _(
                "%(role)sへのエスカレーション（期限超過の営業日数）",
                role=_level_label("first"),
            ),
            "escalate_secretariat_after": _(
                "%(role)sへのエスカレーション（期限超過の営業日数）",
                role=_level_label("second"),
            ),
            "escalation_repeat_days": _("エスカレーションの再送間隔（日）"),
        }
    )
    return labels


@dataclass
class ScheduleForm:
    """The parsed settings and the errors per field (Japanese)."""

    values: dict
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def form_values(schedule: FiscalYearSchedule) -> dict:
    values = {name: getattr(schedule, name) for name in EVENT_FIELDS + INT_FIELDS}
    for stage in stages():
        values[due_field(stage.name)] = schedule.due_for(stage.name) or stage.default_due(
            schedule.fiscal_year
        )
    values["reminder_days"] = list(schedule.reminder_days or [])
    return values


def parse(fiscal_year: int, form) -> ScheduleForm:
    """Read and validate the settings form; nothing is stored here."""
    from .forms import schedule_form

    labels = field_labels()
    checked = schedule_form(date_fields(), INT_FIELDS, labels)(formdata=form)
    checked.validate()
    errors = checked.errors_by_field()
    values: dict = {name: checked[name].data for name in [*date_fields(), *INT_FIELDS]}
    values["reminder_days"] = checked.reminder_days.data or []
    for name in (due_field(s.name) for s in stages()):
        if values[name] is None and name not in errors:
            errors[name] = _("%(field)sを入力してください。", field=labels[name])
    for name in INT_FIELDS:
        if values[name] is None and name not in errors:
            errors[name] = _("%(field)sは1〜60の整数で入力してください。", field=labels[name])
    _check_order(fiscal_year, values, errors)
    return ScheduleForm(values, errors)


def _confirming_stage() -> str | None:
    """The stage in which the year's evaluation is confirmed (before the committee)."""
    definition = get_definition()
    for transition in definition.confirming_transitions:
        stage = definition.stage_of(transition.sources[0])
        if stage:
            return stage
    return None


def _check_order(fiscal_year: int, values: dict, errors: dict[str, str]) -> None:
    first, last = fiscal_year_bounds(fiscal_year)
    labels = field_labels()
    for stage in stages():
        name = due_field(stage.name)
        day = values.get(name)
        if day is None or name in errors:
            continue
        if not stage.next_year and not first <= day <= last:
            errors[name] = _(
                "%(field)sは当該年度内（%(first)s〜%(last)s）の日付にしてください。",
                field=labels[name],
                first=first.isoformat(),
                last=last.isoformat(),
            )
        elif stage.next_year and day <= last:
            errors[name] = _(
                "%(field)sは翌年度（年度末の後）の日付にしてください。", field=labels[name]
            )
    known = [
        (due_field(s.name), values.get(due_field(s.name)))
        for s in stages()
        if values.get(due_field(s.name))
    ]
    for (_n1, d1), (n2, d2) in zip(known, known[1:], strict=False):
        if d2 <= d1 and n2 not in errors:
            errors[n2] = _(
                "%(field)sは前の段階の期限より後の日付にしてください。", field=labels[n2]
            )
    start, end = values.get("committee_from"), values.get("committee_to")
    if start and end and end < start and "committee_to" not in errors:
        errors["committee_to"] = _("委員会審議の終了日は開始日以後にしてください。")
    confirming = _confirming_stage()
    confirmed_by = values.get(due_field(confirming)) if confirming else None
    if start and confirmed_by and start <= confirmed_by and "committee_from" not in errors:
        errors["committee_from"] = _("委員会審議は評価の期限より後に始めてください。")
    head, secretariat = values.get("escalate_head_after"), values.get("escalate_secretariat_after")
    if head and secretariat and secretariat <= head and "escalate_secretariat_after" not in errors:
        errors["escalate_secretariat_after"] = _(
            "2段階目のエスカレーションは1段階目より後（大きい日数）にしてください。"
        )


def save(
    session: Session, fiscal_year: int, parsed: ScheduleForm, *, by: User, now: datetime
) -> FiscalYearSchedule:
    """Store validated settings and record the change (before and after) in the audit log."""
    from workflows.audit import record

    assert parsed.ok, "save() needs a validated form"
    refuse_if_locked(session, fiscal_year)
    schedule = schedule_for(session, fiscal_year)
    before = _serialise(form_values(schedule))
    if schedule.id is None:
        session.add(schedule)
    for name, value in parsed.values.items():
        if name.startswith("due-"):
            schedule.set_due(name.removeprefix("due-"), value)
        else:
            setattr(schedule, name, value)
    session.flush()
    record(
        session,
        scope=f"fy:{fiscal_year}",
        action="schedule_change",
        now=now,
        actor=by,
        data={"before": before, "after": _serialise(parsed.values)},
    )
    return schedule


def _serialise(values: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()}


@dataclass
class Marker:
    kind: str  # "due", "moved", "reminder", "escalation", "committee", "publication"
    text: str


@dataclass
class Deadline:
    name: str
    label: str
    set_on: date
    due_on: date
    reason: str  # why it moved ("" when it did not)
    reminders: list[date]
    escalations: list[tuple[str, date]]


def deadlines_preview(values: dict) -> list[Deadline]:
    """Each deadline as set, as moved to a business day, and its reminder/escalation days."""
    labels = field_labels()
    out = []
    for name in (due_field(s.name) for s in stages()):
        set_on = values.get(name)
        if set_on is None:
            continue
        due = adjusted(set_on)
        reason = ""
        if due != set_on:
            reason = holiday_name(set_on) or (_("土曜日") if set_on.weekday() == 5 else _("日曜日"))
        # The scheduler's own rule: D - k days, moved back to a business day.
        reminders = sorted(set(reminder_days(due, values.get("reminder_days") or []).values()))
        escalations = [
            (
                _("%(role)sへ", role=_level_label(LEVEL_OF[key])),
                add_business_days(due, values[key]),
            )
            for key in ("escalate_head_after", "escalate_secretariat_after")
            if values.get(key) and get_definition().escalation.get(LEVEL_OF[key])
        ]
        out.append(Deadline(name, labels[name], set_on, due, reason, reminders, escalations))
    return out


@dataclass
class Day:
    day: date | None
    holiday: str | None = None
    markers: list[Marker] = field(default_factory=list)

    @property
    def weekend(self) -> bool:
        return self.day is not None and self.day.weekday() >= 5


@dataclass
class Month:
    year: int
    month: int
    weeks: list[list[Day]]


def calendar_preview(fiscal_year: int, values: dict) -> list[Month]:
    """Month grids from April to the last date set, with holidays and every marker."""
    markers: dict[date, list[Marker]] = {}

    def mark(day: date | None, kind: str, text: str) -> None:
        if day is not None:
            markers.setdefault(day, []).append(Marker(kind, text))

    last = date(fiscal_year + 1, 3, 31)
    for deadline in deadlines_preview(values):
        if deadline.due_on != deadline.set_on:
            mark(
                deadline.set_on,
                "moved",
                _(
                    "%(label)s（%(date)sへ繰上げ）",
                    label=deadline.label,
                    date=deadline.due_on.isoformat(),
                ),
            )
        mark(deadline.due_on, "due", deadline.label)
        for day in deadline.reminders:
            mark(day, "reminder", _("リマインダー: %(label)s", label=deadline.label))
        for who, day in deadline.escalations:
            mark(
                day,
                "escalation",
                _("エスカレーション%(who)s: %(label)s", who=who, label=deadline.label),
            )
        last = max(last, *(d for _w, d in deadline.escalations), deadline.set_on)
    labels = field_labels()
    for name, kind in (
        ("committee_from", "committee"),
        ("committee_to", "committee"),
        ("publication_on", "publication"),
    ):
        if values.get(name):
            mark(values[name], kind, labels[name])
            last = max(last, values[name])
    months = []
    year, month = fiscal_year, 4
    while (year, month) <= (last.year, last.month):
        weeks = []
        for week in pycalendar.Calendar(firstweekday=6).monthdatescalendar(year, month):
            weeks.append(
                [
                    Day(d, holiday_name(d), markers.get(d, [])) if d.month == month else Day(None)
                    for d in week
                ]
            )
        months.append(Month(year, month, weeks))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
