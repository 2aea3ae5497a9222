"""The form that makes a personal access token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import ValidationError

from app.fields import Form, Required, TextField
from app.models import ApiToken
from app.text import _
from app.validation import column_length

from .service import LIFETIMES, SCOPES

CHOICE = "%(label)sの選択肢が正しくありません。"
ACCESS_CHOICES = [("read", _l("読み取りのみ")), ("write", _l("読み取りと書き込み"))]
DAYS_CHOICES = [(str(d), _l("%(num)d日", num=d)) for d in LIFETIMES]


class TokenForm(Form):
    name = TextField(
        _l("トークンの名前（用途）"),
        [Required(_l("トークンの名前を入力してください。"))],
        max_length=column_length(ApiToken.name),
    )
    access = TextField(_l("権限"), max_length=10, default="read")
    days = TextField(_l("有効期間"), max_length=10, default="90")

    def validate_access(self, field):
        if field.data not in SCOPES:
            raise ValidationError(_(CHOICE, label=field.label.text))

    def validate_days(self, field):
        if field.data not in {str(d) for d in LIFETIMES}:
            raise ValidationError(_(CHOICE, label=field.label.text))
