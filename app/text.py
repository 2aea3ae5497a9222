"""Translated messages for rules that run both in requests and in plain tests or jobs."""

from __future__ import annotations

from flask import has_request_context
from flask_babel import gettext


def _(text: str, **values) -> str:
    """gettext in a request; the Japanese msgid itself (formatted) anywhere else."""
    if has_request_context():
        return gettext(text, **values)
    return text % values if values else text


class ActionError(Exception):
    """A console action that cannot be done; `.message` is shown to the user, nothing changed."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)
