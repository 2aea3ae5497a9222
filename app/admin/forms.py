"""The administration forms: an organisation entity (built from its fields) and a user."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import Field, PasswordField
from wtforms.validators import Length

from app.fields import CheckField, EmailField, Form, IdField, NumberField, Required, TextField
from app.models import PostKind, Role, User
from app.validation import column_length


class ChoicesField(Field):
    """Several checkboxes of one name; values outside `allowed` are ignored."""

    def __init__(self, label=None, validators=None, *, allowed=(), **kwargs):
        super().__init__(label, validators, **kwargs)
        self.allowed = set(allowed)

    def process_formdata(self, valuelist):
        self.data = sorted(set(valuelist) & self.allowed)


def entity_form(model, fields) -> type[Form]:
    """A form class for a department, section or post, from the entity's field list."""
    attrs = {}
    for f in fields:
        checks = [Required(choose=f.kind != "text")] if f.required else []
        if f.kind == "bool":
            attrs[f.name] = CheckField(f.label)
        elif f.kind == "int":
            attrs[f.name] = NumberField(f.label, checks, integer=True, low=0, high=99999)
        elif f.kind in ("department", "section"):
            attrs[f.name] = IdField(f.label, checks)
        elif f.kind == "post_kind":  # a PostKind's code, checked against the table
            attrs[f.name] = TextField(f.label, checks, max_length=column_length(PostKind.code))
        else:
            length = column_length(getattr(model, f.name))
            attrs[f.name] = TextField(f.label, checks, max_length=length)
    return type(f"{model.__name__}Form", (Form,), attrs)


class UserForm(Form):
    login = TextField(_l("ログインID"), [Required()], max_length=column_length(User.login))
    name = TextField(_l("氏名"), [Required()], max_length=column_length(User.name))
    email = EmailField(_l("メールアドレス"), [Required()], max_length=column_length(User.email))
    active = CheckField(_l("有効"))
    roles = ChoicesField(
        _l("付与する権限"),
        allowed=[r.value for r in (Role.SECRETARIAT, Role.COMMITTEE, Role.ADMIN)],
    )
    password = PasswordField(_l("パスワード"), [Length(max=1024)])
