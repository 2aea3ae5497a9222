"""The committee's forms: an opinion, a question, and the department's reply or answer."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.fields import Form, Required, TextField

from .service import MAX_LENGTH


class OpinionForm(Form):
    body = TextField(_l("意見"), [Required()], max_length=MAX_LENGTH, multiline=True)


class QuestionForm(Form):
    question = TextField(_l("質問"), [Required()], max_length=MAX_LENGTH, multiline=True)


class ReplyForm(Form):
    body = TextField(_l("対応"), [Required()], max_length=MAX_LENGTH, multiline=True)


class AnswerForm(Form):
    body = TextField(_l("回答"), [Required()], max_length=MAX_LENGTH, multiline=True)
