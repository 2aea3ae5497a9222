"""Finding what to fuzz: the app's routes (from its URL map) and the forms its pages draw."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit


@dataclass
class FormField:
    name: str
    kind: str  # text, textarea, select, checkbox, radio, hidden, file, date, number, ...
    value: str = ""
    options: list[str] = field(default_factory=list)


@dataclass
class Form:
    action: str
    enctype: str
    fields: dict[str, FormField]
    button: tuple[str, str] | None = None  # the submit button pressed (name, value)

    def key(self, endpoint: str) -> tuple:
        return (endpoint, self.button, tuple(sorted(self.fields)))


class _FormParser(HTMLParser):
    """Collects the POST forms of a page, one variant per named submit button."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._current: dict | None = None
        self._textarea: FormField | None = None
        self._select: FormField | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._current = {
                "action": a.get("action", ""),
                "enctype": a.get("enctype", ""),
                "fields": {},
                "buttons": [],
            }
            return
        if self._current is None:
            return
        fields = self._current["fields"]
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind == "submit":
                self._current["buttons"].append((name, a.get("value", "")))
                return
            existing = fields.get(name)
            if kind in ("checkbox", "radio") and existing is not None:
                existing.options.append(a.get("value", "on"))
                if "checked" in a:
                    existing.value = a.get("value", "on")
                return
            value = a.get("value", "")
            if kind in ("checkbox", "radio") and "checked" not in a:
                value = ""
            options = [a.get("value", "on")] if kind in ("checkbox", "radio") else []
            fields[name] = FormField(name, kind, value, options)
        elif tag == "textarea" and name:
            self._textarea = fields[name] = FormField(name, "textarea")
        elif tag == "select" and name:
            self._select = fields[name] = FormField(name, "select")
        elif tag == "option" and self._select is not None:
            self._select.options.append(a.get("value", ""))
            if "selected" in a or not self._select.value:
                self._select.value = a.get("value", "")
        elif tag == "button" and name:
            self._current["buttons"].append((name, a.get("value", "")))

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form" and self._current is not None:
            current, self._current = self._current, None
            buttons = current["buttons"] or [None]
            for button in buttons:
                self.forms.append(
                    Form(current["action"], current["enctype"], dict(current["fields"]), button)
                )


def forms_of(html: str, page_url: str) -> list[Form]:
    """The POST forms of a page, their actions made absolute paths."""
    parser = _FormParser()
    parser.feed(html)
    for form in parser.forms:
        action = form.action or page_url
        form.action = urlsplit(action).path + (
            "?" + urlsplit(action).query if urlsplit(action).query else ""
        )
    return parser.forms


_PARAM = re.compile(r"<(?:([a-z]+)(?:\(([^)]*)\))?:)?([a-z_]+)>")


def expand(rule: str, samples: dict[str, list]) -> list[str]:
    """Every URL of a rule with its parameters taken from `samples` (by name or converter)."""
    urls = [""]
    position = 0
    for match in _PARAM.finditer(rule):
        literal = rule[position : match.start()]
        converter, args, name = match.groups()
        if converter == "any":
            values = [v.strip() for v in args.split(",")]
        else:
            values = samples.get(name) or samples.get(converter or "default") or []
        if not values:
            return []
        urls = [u + literal + str(v) for u in urls for v in values]
        position = match.end()
    return [u + rule[position:] for u in urls]
