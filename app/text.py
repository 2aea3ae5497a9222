"""Translated messages for rules that run both in requests and in plain tests or jobs."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import has_request_context
from flask_babel import get_locale, gettext

from workflows.errors import localized


def N_(text: str) -> str:
    """Mark a message for the catalogue; it is translated where it is shown."""
    return text


def _(text: str, **values) -> str:
    """gettext in a request; the Japanese msgid itself (formatted) anywhere else."""
    if has_request_context():
        return gettext(text, **values)
    return text % values if values else text


def current_locale() -> str:
    """The reader's language in a request; Japanese anywhere else."""
    return str(get_locale() or "ja") if has_request_context() else "ja"


def translate_values(msgid: str, values: dict[str, Any]) -> str:
    """An engine message in the reader's language; labelled values (a state) localised."""
    if not has_request_context():
        return msgid % localized(values, "ja") if values else msgid
    locale = str(get_locale() or "ja")
    return gettext(msgid, **localized(values, locale))


class ActionError(Exception):
    """A console action that cannot be done; `.message` is shown to the user, nothing changed."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def number(value) -> str:
    """A number as people read it: thousands separated, no trailing zeros ("12,000", "140")."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = Decimal(value.replace(",", ""))
        except InvalidOperation:
            return value
    if isinstance(value, float):
        value = Decimal(str(value))
    if isinstance(value, Decimal):
        value = value.normalize()
        if value == value.to_integral_value():
            return f"{int(value):,}"
        return f"{value:,f}"
    return f"{value:,}"
