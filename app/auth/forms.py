"""The sign-in and password forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from app.fields import Form, Required, TextField
from app.models import User
from app.validation import column_length

from .passwords import MAX_LENGTH


class LoginForm(Form):
    login = TextField(
        _l("ログインID"),
        [Required(_l("ログインIDを入力してください。"))],
        max_length=column_length(User.login),
    )
    password = PasswordField(
        _l("パスワード"),
        [
            DataRequired(message=_l("パスワードを入力してください。")),
            Length(max=1024, message=_l("パスワードが長すぎます。")),
        ],
    )
    remember = BooleanField(_l("ログイン状態を保持する"))


class PasswordChangeForm(Form):
    current_password = PasswordField(
        _l("現在のパスワード"),
        [
            DataRequired(message=_l("現在のパスワードを入力してください。")),
            Length(max=1024, message=_l("パスワードが長すぎます。")),
        ],
    )
    new_password = PasswordField(
        _l("新しいパスワード"),
        [
            DataRequired(message=_l("新しいパスワードを入力してください。")),
            Length(max=MAX_LENGTH * 8, message=_l("パスワードが長すぎます。")),
        ],
    )
    confirm_password = PasswordField(
        _l("新しいパスワード（確認）"),
        [
            DataRequired(message=_l("確認のため、新しいパスワードをもう一度入力してください。")),
            EqualTo("new_password", message=_l("確認用のパスワードが一致しません。")),
        ],
    )
