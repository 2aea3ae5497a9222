"""Compile the English catalogue for the tests when the .mo is missing or older than the .po."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

FOLDER = Path(__file__).resolve().parents[2] / "app" / "translations" / "en" / "LC_MESSAGES"


def ensure_compiled() -> None:
    """What `make translations` does, for a test run started without make."""
    po, mo = FOLDER / "messages.po", FOLDER / "messages.mo"
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        return
    with open(po, "rb") as source:
        catalog = read_po(source, locale="en")
    with open(mo, "wb") as target:
        write_mo(target, catalog)
