"""The secretariat's forms: nudge, extend, a console transition, lock, the year's schedule."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import Field

from app.fields import DateInput, Form, NumberField, TextField, version_field
from app.text import _
from app.validation import Invalid, narrow, parse_id, parse_int

# Reasons, comments and messages are short notes, not documents.
NOTE_MAX = 1000


class IdListField(Field):
    """Several ids of one name (ticked rows); what is not an id is dropped."""

    def process_formdata(self, valuelist):
        ids = (parse_id(v) for v in valuelist[:500])
        self.data = list(dict.fromkeys(i for i in ids if i is not None))


class NudgeForm(Form):
    cycle_id = IdListField()
    message = TextField(_l("メッセージ"), max_length=NOTE_MAX, multiline=True)


class ExtendForm(Form):
    due_on = DateInput(_l("新しい期限"), message=_l("新しい期限の日付が正しくありません。"))
    reason = TextField(_l("期限延長の理由"), max_length=NOTE_MAX, multiline=True)

    def validate_due_on(self, field):
        if field.data is None:
            from wtforms.validators import ValidationError

            raise ValidationError(_("新しい期限の日付が正しくありません。"))


class FireForm(Form):
    """A transition the console offers (confirm, reopen ...), with its comment or reason."""

    trigger = TextField(_l("操作"), max_length=60)
    comment = TextField(_l("コメント"), max_length=NOTE_MAX, multiline=True)
    version = version_field()


class LockForm(Form):
    confirm_year = TextField(_l("年度"), max_length=20)


class ReminderDaysField(Field):
    """Days before a deadline, separated by commas (、 and spaces too): 0 to 90 each."""

    def process_formdata(self, valuelist):
        raw = narrow(valuelist[0] if valuelist else "")
        raw = raw.replace("、", ",").replace(" ", ",")
        days = []
        for part in filter(None, (p.strip() for p in raw.split(",")[:50])):
            try:
                days.append(parse_int(part, low=0, high=90))
            except Invalid:
                self.data = []
                raise ValueError(
                    _("リマインダーは0〜90の整数をカンマ区切りで入力してください。")
                ) from None
        self.data = sorted(set(days), reverse=True)


def schedule_form(date_fields, int_fields, labels) -> type[Form]:
    """The schedule form: a date per deadline, the reminder days, the escalation counts."""
    attrs = {
        name: DateInput(
            labels[name],
            message=_("%(field)sの日付が正しくありません（例: 2026-04-30）。", field=labels[name]),
        )
        for name in date_fields
    }
    for name in int_fields:
        attrs[name] = NumberField(
            labels[name],
            integer=True,
            low=1,
            high=60,
            message=_("%(field)sは1〜60の整数で入力してください。", field=labels[name]),
        )
    attrs["reminder_days"] = ReminderDaysField(labels["reminder_days"])
    return type("ScheduleForm", (Form,), attrs)
