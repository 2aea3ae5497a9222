"""Filters and globals the templates share: labels, dates, 和暦."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Flask, url_for
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup, escape

import workflows
from workflows.permissions import can_view_item

from .calendar import TOKYO, format_date, local_date, wareki_date, wareki_fiscal_year


def current_locale() -> str:
    locale = get_locale()
    return str(locale) if locale else "ja"


def label(value) -> str:
    """The localised label of a LabeledEnum member (the value itself otherwise)."""
    if value is None:
        return ""
    if hasattr(value, "label"):
        return value.label(current_locale())
    return str(value)


def fy_label(fiscal_year: int) -> str:
    return wareki_fiscal_year(fiscal_year, current_locale())


def date_label(value: date | datetime | None, with_time: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        local = value.astimezone(TOKYO)
        text = format_date(local.date(), current_locale())
        return f"{text} {local:%H:%M}" if with_time else text
    return format_date(value, current_locale())


def state_label(state: str) -> str:
    return workflows.state_label(state, current_locale())


def item_link(item) -> Markup:
    """The item's title, linked to its page for those who may open it."""
    today = local_date(datetime.now(UTC))
    if not current_user.is_authenticated or not can_view_item(current_user, item, today):
        return escape(item.title)
    return Markup('<a href="{}">{}</a>').format(url_for("items.show", item_id=item.id), item.title)


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(label, "label")
    app.add_template_filter(fy_label, "fy")
    app.add_template_filter(date_label, "date")
    app.add_template_filter(wareki_date, "wareki")
    app.add_template_global(current_locale, "current_locale")
    app.add_template_global(state_label, "state_label")
    app.add_template_global(item_link, "item_link")
    from .once import once_field

    app.add_template_global(once_field, "once_field")
