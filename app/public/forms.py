"""The secretariat's publishing forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.fields import Form, TextField

NOTE_MAX = 1000


class PublishForm(Form):
    note = TextField(_l("公表メモ"), max_length=NOTE_MAX, multiline=True)


class WithdrawForm(Form):
    reason = TextField(_l("取り下げの理由"), max_length=NOTE_MAX)
