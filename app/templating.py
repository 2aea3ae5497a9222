"""Filters and globals the templates share: labels, dates, 和暦."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Flask, url_for
from flask_babel import gettext
from flask_login import current_user
from markupsafe import Markup, escape

from workflows import labels as workflow_labels
from workflows.permissions import can_view_item
from workflows.registry import get_definition

from .calendar import (
    TOKYO,
    business_days_between,
    format_date,
    local_date,
    wareki_date,
    wareki_fiscal_year,
)
from .reports.sheet import sen_yen, yen
from .text import N_, install_gettext, language, number


def current_locale() -> str:
    """The reader's language ("ja" or "en"); outside a request, Flask-Babel's own answer (a
    locale forced with `force_locale`)."""
    return language()[0]


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


def state_label(state, version: str | None = None) -> str:
    """A state's name in the reader's language: pass a cycle (its own definition version is
    used) or a state name and, where known, the version it belongs to."""
    if hasattr(state, "definition_version"):
        state, version = state.state, state.definition_version
    return workflow_labels.state_label(state, current_locale(), version)


def transition_label(transition) -> str:
    """A transition's button words (承認する) in the reader's language."""
    return transition.label(current_locale())


# Recorded actions that are not transitions of a definition (edits, consequences, console).
ACTION_LABELS = {
    "open": N_("年度のサイクルを開始"),
    "save_draft": N_("下書き保存"),
    "carry_over": N_("次年度へ引継ぎ"),
    "end_with_item": N_("取組の終了に伴い廃止"),
    "resume_with_item": N_("取組の再開に伴い再開"),
    "nudge": N_("督促"),
    "extend_deadline": N_("期限延長"),
    "lock_fiscal_year": N_("年度の確定"),
    "register_substitute": N_("代理者の登録"),
    "revoke_substitute": N_("代理の取消し"),
}


def action_label(entry) -> str:
    """The history's words for an audit entry: the transition's, else the action's own."""
    action = entry.action
    if action in ACTION_LABELS:
        return gettext(ACTION_LABELS[action])
    version = (entry.data or {}).get("definition")
    try:
        found = workflow_labels.transition_label(action, current_locale(), version)
    except Exception:  # noqa: BLE001 - an unknown version still shows the record
        found = None
    return found or action


def stage_label(stage: str, version: str | None = None) -> str:
    """A stage's name in the reader's language (from the given or current definition)."""
    for definition in (get_definition(version), get_definition()):
        if stage in definition.stages:
            return definition.stages[stage].label(current_locale())
    return stage


def item_link(item, viewable: set[int] | None = None) -> Markup:
    """The item's title, linked to its page for those who may open it (`viewable`: the ids
    a list page worked out at once with `permissions.viewable_items`)."""
    today = local_date(datetime.now(UTC))
    if not current_user.is_authenticated:
        return escape(item.title)
    allowed = item.id in viewable if viewable is not None else None
    if allowed is None:
        allowed = can_view_item(current_user, item, today)
    if not allowed:
        return escape(item.title)
    return Markup('<a href="{}">{}</a>').format(url_for("items.show", item_id=item.id), item.title)


def register_template_helpers(app: Flask) -> None:
    install_gettext(app.jinja_env)
    app.add_template_filter(label, "label")
    app.add_template_filter(fy_label, "fy")
    app.add_template_filter(date_label, "date")
    app.add_template_filter(wareki_date, "wareki")
    app.add_template_filter(number, "num")
    app.add_template_filter(yen, "yen")
    app.add_template_filter(sen_yen, "senyen")
    app.add_template_global(current_locale, "current_locale")
    # Also a global, so that imported macros (which get no template context) see the user.
    app.add_template_global(current_user, "current_user")
    app.add_template_global(state_label, "state_label")
    # Overdue is counted in business days everywhere, as the escalations count it.
    app.add_template_global(business_days_between, "business_days_between")
    app.add_template_global(transition_label, "transition_label")
    app.add_template_global(action_label, "action_label")
    app.add_template_global(stage_label, "stage_label")
    app.add_template_global(item_link, "item_link")
    from .once import once_field

    app.add_template_global(once_field, "once_field")
