"""The app's forms: a WTForms base that reports errors by field, and the fields built on
the shared input rules of `app.validation` (text, numbers, dates, ids, choices, addresses).
"""

from __future__ import annotations

import wtforms
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import Field, StringField
from wtforms.validators import StopValidation
from wtforms.widgets import TextInput

from app.text import _
from app.validation import (
    ID_MAX,
    TEXT_MAX,
    Invalid,
    check_text,
    narrow,
    parse_date,
    parse_email,
    parse_id,
    parse_number,
)


class Form(wtforms.Form):
    """The base of the app's forms: values as typed and errors by field, for the templates.

    The CSRF token of every POST is checked by CSRFProtect before any form sees it; these
    forms only read and check values, so services and tests use them without a request.
    """

    def __init__(self, formdata=None, **kwargs):
        if formdata is not None and not hasattr(formdata, "getlist"):
            formdata = MultiDict(formdata)
        super().__init__(formdata=formdata, **kwargs)

    @classmethod
    def posted(cls, **kwargs):
        """The form filled from this request's POST body (empty for a GET)."""
        from flask import request

        return cls(request.form if request.method == "POST" else None, **kwargs)

    def errors_by_field(self) -> dict[str, str]:
        """The first error of each field, in field order (and `_form` for the form's own)."""
        out = {name: field.errors[0] for name, field in self._fields.items() if field.errors}
        out.pop("csrf_token", None)
        if self.form_errors:
            out.setdefault("_form", self.form_errors[0])
        return out


def _label(field) -> str:
    return str(field.label.text)


class Required:
    """The field must have a value: "<label>を入力してください。" (or a message given)."""

    def __init__(self, message=None, choose: bool = False):
        self.message = message
        self.choose = choose
        self.field_flags = {"required": True}

    def __call__(self, form, field):
        if field.data in (None, "", []):
            if self.message is not None:
                raise StopValidation(str(self.message))
            if self.choose:
                raise StopValidation(_("%(label)sを選んでください。", label=_label(field)))
            raise StopValidation(_("%(label)sを入力してください。", label=_label(field)))


class _Parsed(Field):
    """A text input whose value is parsed on the way in; a parse error names the field."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, message=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.message = message

    def parse(self, text):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def process_formdata(self, valuelist):
        self.text = valuelist[0] if valuelist else ""
        try:
            self.data = self.parse(self.text)
        except Invalid as exc:
            self.data = None
            raise ValueError(
                str(self.message) if self.message is not None else exc.message(_label(self))
            ) from None

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()

    def _value(self):
        return getattr(self, "text", "") or ("" if self.data is None else str(self.data))


class TextField(StringField):
    """Text with the column's length and no control characters (single-line unless told)."""

    def __init__(self, label=None, validators=None, *, max_length=TEXT_MAX, multiline=False, **kw):
        super().__init__(label, validators, **kw)
        self.max_length = max_length
        self.multiline = multiline

    def process_formdata(self, valuelist):
        self.data = (valuelist[0] if valuelist else "").strip()

    def pre_validate(self, form):
        try:
            check_text(self.data, max_length=self.max_length, multiline=self.multiline)
        except Invalid as exc:
            raise StopValidation(exc.message(_label(self))) from None


class NumberField(_Parsed):
    """A decimal number (or an integer with `integer=True`); see parse_number."""

    def __init__(self, label=None, validators=None, *, integer=False, low=None, high=None, **kw):
        super().__init__(label, validators, **kw)
        self.options = {"integer": integer, "low": low, "high": high}

    def parse(self, text):
        return parse_number(text, **self.options)


class DateInput(_Parsed):
    """A date; see parse_date."""

    def parse(self, text):
        return parse_date(text)


class IdField(_Parsed):
    """A record id (1..ID_MAX); anything else is "<label>を選んでください。"."""

    def parse(self, text):
        if not narrow(text or ""):
            return None
        value = parse_id(text)
        if value is None:
            raise Invalid("choice")
        return value

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(
                str(self.message)
                if self.message is not None
                else _("%(label)sを選んでください。", label=_label(self))
            ) from None


class EnumField(_Parsed):
    """One member of a LabeledEnum by its value; another value is refused by name."""

    def __init__(self, label=None, validators=None, *, enum, **kw):
        super().__init__(label, validators, **kw)
        self.enum = enum

    def parse(self, text):
        text = (text or "").strip()
        if not text:
            return None
        try:
            return self.enum(text)
        except ValueError:
            raise Invalid("choice") from None

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(
                _("%(label)sの選択肢が正しくありません。", label=_label(self))
            ) from None


class EmailField(TextField):
    """A mail address; see parse_email. The stored form is in `.data` once validated."""

    def pre_validate(self, form):
        try:
            self.data = parse_email(self.data)
        except Invalid as exc:
            if exc.reason == "length":
                raise StopValidation(exc.message(_label(self))) from None
            raise StopValidation(_("メールアドレスの形式が正しくありません。")) from None


class CheckField(Field):
    """A checkbox: on when sent with one of the usual values."""

    def process_formdata(self, valuelist):
        self.data = bool(valuelist) and valuelist[0] in ("1", "on", "true", "y", "yes")


def version_field() -> NumberField:
    """The version of the cycle the page was opened on (optimistic locking)."""
    return NumberField(
        _l("版"),
        integer=True,
        low=0,
        high=ID_MAX,
        message=_l("画面の情報が古くなっています。ページを開き直してください。"),
    )
