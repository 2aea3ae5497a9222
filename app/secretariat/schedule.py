"""The fiscal year's schedule: validate the secretariat's settings and preview the calendar."""

from __future__ import annotations

import calendar as pycalendar
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from app.calendar import add_business_days, fiscal_year_bounds, holiday_name
from app.models import FiscalYearSchedule, User
from app.text import _
from notifications.jobs import reminder_days
from workflows.deadlines import adjusted, schedule_for

from .actions import refuse_if_locked

DATE_FIELDS = (
    "plan_due",
    "midyear_due",
    "check_due",
    "act_due",
    "committee_from",
    "committee_to",
    "publication_on",
)
REQUIRED_DATES = ("plan_due", "midyear_due", "check_due", "act_due")
INT_FIELDS = ("escalate_head_after", "escalate_secretariat_after", "escalation_repeat_days")


def field_labels() -> dict[str, str]:
    return {
        "plan_due": _("計画の承認期限"),
        "midyear_due": _("中間報告の承認期限"),
        "check_due": _("評価の承認・確認期限"),
        "act_due": _("改善の承認期限"),
        "committee_from": _("委員会審議の開始日"),
        "committee_to": _("委員会審議の終了日"),
        "publication_on": _("公表日"),
        "reminder_days": _("リマインダー（期限の何日前）"),
        "escalate_head_after": _("所管部長へのエスカレーション（期限超過の営業日数）"),
        "escalate_secretariat_after": _("事務局へのエスカレーション（期限超過の営業日数）"),
        "escalation_repeat_days": _("エスカレーションの再送間隔（日）"),
    }


@dataclass
class ScheduleForm:
    """The parsed settings and the errors per field (Japanese)."""

    values: dict
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def form_values(schedule: FiscalYearSchedule) -> dict:
    values = {name: getattr(schedule, name) for name in DATE_FIELDS + INT_FIELDS}
    values["reminder_days"] = list(schedule.reminder_days or [])
    return values


def parse(fiscal_year: int, form) -> ScheduleForm:
    """Read and validate the settings form; nothing is stored here."""
    from .forms import schedule_form

    labels = field_labels()
    checked = schedule_form(DATE_FIELDS, INT_FIELDS, labels)(formdata=form)
    checked.validate()
    errors = checked.errors_by_field()
    values: dict = {name: checked[name].data for name in DATE_FIELDS + INT_FIELDS}
    values["reminder_days"] = checked.reminder_days.data or []
    for name in REQUIRED_DATES:
        if values[name] is None and name not in errors:
            errors[name] = _("%(field)sを入力してください。", field=labels[name])
    for name in INT_FIELDS:
        if values[name] is None and name not in errors:
            errors[name] = _("%(field)sは1〜60の整数で入力してください。", field=labels[name])
    _check_order(fiscal_year, values, errors)
    return ScheduleForm(values, errors)


def _check_order(fiscal_year: int, values: dict, errors: dict[str, str]) -> None:
    first, last = fiscal_year_bounds(fiscal_year)
    labels = field_labels()
    plan, mid = values.get("plan_due"), values.get("midyear_due")
    check, act = values.get("check_due"), values.get("act_due")
    for name in ("plan_due", "midyear_due"):
        day = values.get(name)
        if day and not first <= day <= last and name not in errors:
            errors[name] = _(
                "%(field)sは当該年度内（%(first)s〜%(last)s）の日付にしてください。",
                field=labels[name],
                first=first.isoformat(),
                last=last.isoformat(),
            )
    sequence = [("plan_due", plan), ("midyear_due", mid), ("check_due", check), ("act_due", act)]
    known = [(n, d) for n, d in sequence if d is not None]
    for (_n1, d1), (n2, d2) in zip(known, known[1:], strict=False):
        if d2 <= d1 and n2 not in errors:
            errors[n2] = _(
                "%(field)sは前の段階の期限より後の日付にしてください。", field=labels[n2]
            )
    if check and check <= last and "check_due" not in errors:
        errors["check_due"] = _("評価の期限は翌年度（年度末の後）の日付にしてください。")
    start, end = values.get("committee_from"), values.get("committee_to")
    if start and end and end < start and "committee_to" not in errors:
        errors["committee_to"] = _("委員会審議の終了日は開始日以後にしてください。")
    if start and check and start <= check and "committee_from" not in errors:
        errors["committee_from"] = _("委員会審議は評価の期限より後に始めてください。")
    head, secretariat = values.get("escalate_head_after"), values.get("escalate_secretariat_after")
    if head and secretariat and secretariat <= head and "escalate_secretariat_after" not in errors:
        errors["escalate_secretariat_after"] = _(
            "事務局へのエスカレーションは所管部長より後（大きい日数）にしてください。"
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
    for name in REQUIRED_DATES:
        set_on = values.get(name)
        if set_on is None:
            continue
        due = adjusted(set_on)
        reason = ""
        if due != set_on:
            reason = holiday_name(set_on) or (_("土曜日") if set_on.weekday() == 5 else _("日曜日"))
        # The scheduler's own rule: D - k days, moved back to a business day.
        reminders = sorted(set(reminder_days(due, values.get("reminder_days") or []).values()))
        escalations = []
        if values.get("escalate_head_after"):
            escalations.append(
                (_("所管部長へ"), add_business_days(due, values["escalate_head_after"]))
            )
        if values.get("escalate_secretariat_after"):
            escalations.append(
                (_("事務局へ"), add_business_days(due, values["escalate_secretariat_after"]))
            )
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
