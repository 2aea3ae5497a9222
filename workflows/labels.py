"""Labels of workflow states, read from the definition files."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

DEFINITIONS = Path(__file__).parent / "definitions"


@lru_cache(maxsize=8)
def _states(name: str = "pdca") -> dict[str, dict]:
    with open(DEFINITIONS / f"{name}.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)["states"]


def state_info(state: str, definition: str = "pdca") -> dict:
    """The definition's entry for a state (labels, stage, actor), {} when unknown."""
    return _states(definition).get(state, {})


def state_label(state: str, locale: str = "ja", definition: str = "pdca") -> str:
    """The Japanese (or English) name of a state; the raw name when unknown."""
    info = _states(definition).get(state)
    if info is None:
        return state
    return info["en"] if locale.startswith("en") else info["ja"]
