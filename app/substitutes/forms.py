"""The 代理設定 form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.fields import DateInput, Form, IdField, TextField


class SubstituteForm(Form):
    post_id = IdField(_l("役職"), message=_l("代理を設定する役職を選んでください。"))
    substitute_id = IdField(_l("代理者"), message=_l("代理者を選んでください。"))
    starts_on = DateInput(_l("開始日"))
    ends_on = DateInput(_l("終了日"))
    reason = TextField(_l("理由"), max_length=1000, multiline=True)
