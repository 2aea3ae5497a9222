"""Comparing two definition versions, and which running cycles a change would affect.

A running cycle keeps the version it was opened with, so a new version never changes it
by itself; this dry run lists the cycles that would no longer fit if they were moved to
the new version (their state removed, or a way out of their state removed or changed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Cycle

from .definition import Definition

Edge = tuple[str, str, str]  # (trigger, source, dest)


@dataclass
class DefinitionDiff:
    old: Definition
    new: Definition
    states_removed: list[str] = field(default_factory=list)
    states_added: list[str] = field(default_factory=list)
    transitions_removed: list[Edge] = field(default_factory=list)
    transitions_added: list[Edge] = field(default_factory=list)
    rights_changed: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = field(
        default_factory=list
    )

    @property
    def empty(self) -> bool:
        return not (
            self.states_removed
            or self.states_added
            or self.transitions_removed
            or self.transitions_added
            or self.rights_changed
        )

    def touched_states(self) -> set[str]:
        """States whose cycles would behave differently under the new version."""
        touched = set(self.states_removed)
        touched.update(source for _, source, _ in self.transitions_removed)
        touched.update(source for _, source, _ in self.transitions_added)
        touched.update(source for _, source, _, _ in self.rights_changed)
        return touched

    def lines(self) -> list[str]:
        out = [f"{self.old.name} {self.old.version} -> {self.new.version}"]
        out += [f"- state {s}" for s in self.states_removed]
        out += [f"+ state {s}" for s in self.states_added]
        out += [f"- {t}: {s} -> {d}" for t, s, d in self.transitions_removed]
        out += [f"+ {t}: {s} -> {d}" for t, s, d in self.transitions_added]
        out += [
            f"~ {t} from {s}: by {', '.join(a)} -> by {', '.join(b)}"
            for t, s, a, b in self.rights_changed
        ]
        if self.empty:
            out.append("(no difference in states, transitions or rights)")
        return out


def _edges(definition: Definition) -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    return {
        (t.trigger, source): (t.dest, tuple(sorted(t.roles)))
        for t in definition.transitions
        for source in t.sources
    }


def compare(old: Definition, new: Definition) -> DefinitionDiff:
    """What changed from `old` to `new`."""
    diff = DefinitionDiff(old, new)
    diff.states_removed = [s for s in old.states if s not in new.states]
    diff.states_added = [s for s in new.states if s not in old.states]
    before, after = _edges(old), _edges(new)
    for key, (dest, roles) in before.items():
        if key not in after or after[key][0] != dest:
            diff.transitions_removed.append((key[0], key[1], dest))
        elif after[key][1] != roles:
            diff.rights_changed.append((key[0], key[1], roles, after[key][1]))
    for key, (dest, _) in after.items():
        if key not in before or before[key][0] != dest:
            diff.transitions_added.append((key[0], key[1], dest))
    return diff


def affected_cycles(session: Session, diff: DefinitionDiff) -> list[tuple[Cycle, str]]:
    """Running cycles on the old version whose state the change touches, with the reason."""
    touched = diff.touched_states()
    finals = {name for name, state in diff.old.states.items() if state.final}
    cycles = session.scalars(
        select(Cycle)
        .where(Cycle.definition_version == diff.old.version, Cycle.state.not_in(finals))
        .order_by(Cycle.fiscal_year, Cycle.id)
    )
    found = []
    for cycle in cycles:
        if cycle.state in diff.states_removed:
            found.append((cycle, f"state {cycle.state} is removed"))
        elif cycle.state in touched:
            found.append((cycle, f"the ways out of {cycle.state} change"))
    return found
