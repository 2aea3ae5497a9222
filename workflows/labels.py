"""Labels of workflow states and recorded actions, from the definition a cycle is on."""

from __future__ import annotations

from .registry import all_definitions, get_definition


def state_label(state: str, locale: str = "ja", version: str | None = None) -> str:
    """The Japanese (or English) name of a state in `version` (default: current).

    A state that version does not have is looked up in the other known versions; the raw
    name is the last resort.
    """
    definition = get_definition(version)
    found = definition.state(state)
    if found is None:
        found = next((d.states[state] for d in all_definitions() if state in d.states), None)
    return found.label(locale) if found else state


def transition_label(trigger: str, locale: str = "ja", version: str | None = None) -> str | None:
    """The history's words for a trigger (承認, 差戻し ...), None when no version has it."""
    for definition in (get_definition(version), *all_definitions()):
        transition = definition.by_trigger(trigger)
        if transition is not None:
            return transition.done_label(locale)
    return None
