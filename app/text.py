"""Translated messages for rules that run both in requests and in plain tests or jobs."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import g, has_request_context
from flask_babel import get_locale, get_translations

from workflows.errors import localized


def N_(text: str) -> str:
    """Mark a message for the catalogue; it is translated where it is shown."""
    return text


def _(text: str, **values) -> str:
    """gettext in a request; the Japanese msgid itself (formatted) anywhere else."""
    if has_request_context():
        text = language()[1].ugettext(text)
    return text % values if values else text


def language() -> tuple[str, Any]:
    """The request's language and its catalogue: ("ja" or "en", the translations).

    Flask-Babel looks both up anew on every call (about 10 µs; a page asks hundreds of
    times), so they are kept beside the locale it chose for the request. `force_locale` puts
    another locale object there, which is noticed by identity, and the request's back after.
    """
    if not has_request_context():
        return str(get_locale() or "ja"), get_translations()
    state = g.get("_flask_babel")  # Flask-Babel's namespace for the request's locale
    locale = getattr(state, "babel_locale", None)
    if locale is None:
        locale = get_locale()
        state = g.get("_flask_babel")
        if locale is None or state is None:
            return "ja", get_translations()
    kept = getattr(state, "kaikaku_language", None)
    if kept is None or kept[0] is not locale:
        kept = (locale, str(locale), get_translations())
        state.kaikaku_language = kept
    return kept[1], kept[2]


def current_locale() -> str:
    """The reader's language in a request; Japanese anywhere else."""
    return language()[0] if has_request_context() else "ja"


def install_gettext(jinja_env) -> None:
    """The templates' _(), gettext and ngettext, through `language` (in place of
    Flask-Babel's, which look the catalogue up on every string)."""
    jinja_env.install_gettext_callables(
        gettext=lambda s: language()[1].ugettext(s),
        ngettext=lambda s, p, n: language()[1].ungettext(s, p, n),
        pgettext=lambda c, s: language()[1].upgettext(c, s),
        npgettext=lambda c, s, p, n: language()[1].unpgettext(c, s, p, n),
        newstyle=True,
    )


def translate_values(msgid: str, values: dict[str, Any]) -> str:
    """An engine message in the reader's language; labelled values (a state) localised."""
    if not has_request_context():
        return msgid % localized(values, "ja") if values else msgid
    locale, translations = language()
    text = translations.ugettext(msgid)
    return text % localized(values, locale) if values else text


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
