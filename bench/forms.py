"""What the load test's simulated people read from pages and type into forms.

Kept apart from bench/load_users.py (which Locust's gevent patching must start) so that the
tests can check that what the simulated staff submit is accepted.
"""

from __future__ import annotations

import random
import re
import time
from html.parser import HTMLParser

ITEM_LINK = re.compile(r'href="(/items/(\d+)\?fy=(\d+))"')
STAGE_FORM = re.compile(r"/items/\d+/cycles/\d+/(plan|report|check|act)")
DECIDE_LINK = re.compile(r'href="(/cycles/(\d+)/decide)"')
YEAR_LINK = re.compile(r'href="/public/(\d{4})"')


def stage_forms(html: str) -> dict[str, dict[str, str]]:
    """The item page's stage forms (by action) that can be sent: those with a CSRF token."""
    return {
        action: fields
        for action, fields in forms_of(html).items()
        if STAGE_FORM.fullmatch(action) and "csrf_token" in fields
    }


class FormReader(HTMLParser):
    """The fields of the page's forms as the browser would send them, by form action."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        # Per form: its text areas, and the first real choice of each list box and radio group.
        self.textareas: dict[str, set[str]] = {}
        self.first_choice: dict[str, dict[str, str]] = {}
        self.radio_choices: dict[str, dict[str, list[str]]] = {}
        self.numbers: dict[str, set[str]] = {}  # empty number fields
        self.dates: dict[str, set[str]] = {}  # empty date fields
        self._action = ""
        self._current: dict[str, str] | None = None
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._action = a.get("action") or ""
            self._current = self.forms.setdefault(self._action, {})
        elif self._current is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "radio":
                group = self.radio_choices.setdefault(self._action, {})
                group.setdefault(a["name"], []).append(a.get("value") or "")
            if kind == "radio" and "checked" not in a:
                # A choice nobody made yet: the first one is what a hurried user picks.
                choices = self.first_choice.setdefault(self._action, {})
                choices.setdefault(a["name"], a.get("value") or "")
                return
            if kind == "checkbox" and "checked" not in a:
                return
            numeric = kind == "number" or a.get("inputmode") in ("decimal", "numeric")
            if numeric and not a.get("value"):
                self.numbers.setdefault(self._action, set()).add(a["name"])
            if kind == "date" and not a.get("value"):
                self.dates.setdefault(self._action, set()).add(a["name"])
            if kind not in ("submit", "button", "file"):
                self._current[a["name"]] = a.get("value") or ""
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._current[self._textarea] = ""
            self.textareas.setdefault(self._action, set()).add(a["name"])
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
        elif tag == "option" and self._select:
            if "selected" in a:
                self._current[self._select] = a.get("value") or ""
            elif a.get("value"):
                self.first_choice.setdefault(self._action, {}).setdefault(self._select, a["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._current is not None and self._textarea:
            self._current[self._textarea] += data


def forms_of(html: str) -> dict[str, dict[str, str]]:
    reader = FormReader()
    reader.feed(html)
    return reader.forms


def tokyo_today() -> str:
    """Today's date in Tokyo, as a date field takes it (Japan keeps no summer time)."""
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + 9 * 3600))


def filled_in(
    html: str, action: str, submitting: bool = False, fiscal_year: int | None = None
) -> dict[str, str]:
    """The form's fields, with what a member of staff would type where nothing is yet.

    Submitting a progress report, they file the report the submission needs (中間報告, the
    last of the report kinds) rather than the first kind offered."""
    reader = FormReader()
    reader.feed(html)
    fields = dict(reader.forms.get(action, {}))
    report_kinds = reader.radio_choices.get(action, {}).get("kind")
    if submitting and report_kinds and action.endswith("/report"):
        fields["kind"] = report_kinds[-1]
    for name in reader.textareas.get(action, ()):
        if not fields.get(name, "").strip():
            fields[name] = "計画どおり進んでいる。窓口の待ち時間が短くなった。"
    for name, value in reader.first_choice.get(action, {}).items():
        fields.setdefault(name, value)
    for name in reader.numbers.get(action, ()):
        if not fields.get(name):
            # A year (基準年度) is last fiscal year; any other figure a small count.
            year = name.endswith("_fy")
            last_year = (fiscal_year or int(tokyo_today()[:4])) - 1
            fields[name] = str(last_year) if year else str(random.randint(1, 100))
    for name in reader.dates.get(action, ()):
        if not fields.get(name):
            fields[name] = tokyo_today()
    return fields
