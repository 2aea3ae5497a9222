"""The English catalogue keeps up with the Japanese UI: every string extracted and translated.

When these fail, update the catalogue and translate its new entries:
    .venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o /tmp/messages.pot .
    .venv/bin/pybabel update -i /tmp/messages.pot -d app/translations -l en --no-fuzzy-matching
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "app" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def skip_dependencies(dirpath: str) -> bool:
    """Babel's own rule (no hidden or `_` folders), and no node_modules either."""
    name = Path(dirpath).name
    return not name.startswith((".", "_")) and name != "node_modules"


@pytest.fixture(scope="module")
def catalog():
    with open(PO, "rb") as source:
        return read_po(source, locale="en")


def extracted_msgids() -> set[str]:
    """What `pybabel extract -F babel.cfg -k _l -k lazy_gettext` finds, without a .pot file."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=skip_dependencies
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_string_of_the_ui_is_in_the_catalogue(catalog):
    known = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}
    extracted = extracted_msgids()
    assert len(extracted) > 100, "extraction found almost nothing: is babel.cfg right?"
    missing = sorted(extracted - known)
    assert not missing, f"run pybabel extract + update, then translate: {missing}"


def test_every_entry_is_translated_and_not_fuzzy(catalog):
    untranslated, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if isinstance(message.id, tuple) and len(forms) != catalog.num_plurals:
            untranslated.append(message.id)
        elif not all(forms):
            untranslated.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert not untranslated, f"empty msgstr in {PO.name}: {untranslated}"
    assert not fuzzy, f"fuzzy entries in {PO.name} (check, then drop the flag): {fuzzy}"


def test_every_translation_formats_like_its_msgid(catalog):
    """Jinja applies `%` to every translated string, so a stray `%` breaks the page."""
    broken = []
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        names = set(PLACEHOLDER.findall(msgid))
        for form in forms:
            try:
                form % {name: 1 for name in names}
            except (KeyError, TypeError, ValueError) as exc:
                broken.append((msgid, form, str(exc)))
                continue
            if set(PLACEHOLDER.findall(form)) != names:
                broken.append((msgid, form, "placeholders differ"))
    assert not broken, broken
