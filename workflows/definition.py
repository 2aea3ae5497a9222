"""Workflow definitions: a YAML file read, checked, and compiled into one shared machine.

The current definition is `definitions/<name>.yaml`; definitions that running cycles still
use are kept as `definitions/archive/<name>-<version>.yaml`. A cycle names its version in
`Cycle.definition_version` and is always moved by that version's machine.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import yaml
from transitions import Machine, MachineError

DEFINITIONS = Path(__file__).parent / "definitions"
MAIL_TEMPLATES = Path(__file__).parent.parent / "notifications" / "templates" / "mail"

ROLES = ("staff", "author", "head", "secretariat", "committee")
ACTORS = ("staff", "head", "secretariat")
STAGES = ("plan", "do", "check", "act")
GUARDS = ("plan_complete", "midyear_report", "check_complete", "act_complete")
RECIPIENTS = ("next", "author", "deciders")
PREVIOUS = "@previous"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class DefinitionError(Exception):
    """A definition that cannot be used: '<file>: <place>: <reason>'."""

    def __init__(self, file: str, place: str, reason: str):
        self.file, self.place, self.reason = file, place, reason
        super().__init__(f"{file}: {place}: {reason}")


@dataclass(frozen=True)
class State:
    name: str
    ja: str
    en: str
    stage: str | None = None
    actor: str | None = None
    final: bool = False

    def label(self, locale: str = "ja") -> str:
        return self.en if str(locale).startswith("en") else self.ja


@dataclass(frozen=True)
class Transition:
    trigger: str
    sources: tuple[str, ...]
    dest: str  # a state name, or "@previous" (back to where the cycle was suspended)
    roles: tuple[str, ...]
    guards: tuple[str, ...] = ()
    needs_reason: bool = False
    decides: bool = False
    notify: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.trigger, self.sources, self.dest))


class _Token:
    """A stand-in model carrying one cycle's state through the shared machine."""

    def __init__(self, state: str):
        self.state = state


class Definition:
    """One version of a workflow: states, transitions and the compiled machine."""

    def __init__(
        self,
        name: str,
        version: str,
        initial: str,
        states: dict[str, State],
        transitions: list[Transition],
        path: Path | None = None,
    ):
        self.name = name
        self.version = version
        self.initial = initial
        self.states = states
        self.transitions = transitions
        self.path = path
        self._lock = threading.Lock()
        self.machine = Machine(
            model=None,
            states=list(states),
            transitions=self._machine_transitions(),
            initial=initial,
            auto_transitions=False,
            send_event=True,
        )

    def __repr__(self) -> str:
        return f"<Definition {self.name} {self.version}>"

    def _machine_transitions(self) -> list[dict[str, Any]]:
        compiled = []
        for t in self.transitions:
            if t.dest == PREVIOUS:
                for state in self.states:
                    if state in t.sources or self.states[state].final:
                        continue
                    compiled.append(
                        {
                            "trigger": t.trigger,
                            "source": list(t.sources),
                            "dest": state,
                            "conditions": [_previous_is(state)],
                        }
                    )
            else:
                compiled.append({"trigger": t.trigger, "source": list(t.sources), "dest": t.dest})
        return compiled

    def triggers_from(self, state: str) -> list[str]:
        """The triggers that leave `state`, in definition order."""
        seen: list[str] = []
        for t in self.transitions:
            if state in t.sources and t.trigger not in seen:
                seen.append(t.trigger)
        return seen

    def transition(self, state: str, trigger: str) -> Transition | None:
        """The transition `trigger` fires from `state`, or None."""
        return next(
            (t for t in self.transitions if t.trigger == trigger and state in t.sources), None
        )

    def next_state(self, state: str, trigger: str, previous: str | None = None) -> str:
        """Run the shared machine: where `trigger` leads from `state` (MachineError if nowhere)."""
        token = _Token(state)
        with self._lock:
            self.machine.add_model(token, initial=state)
            try:
                moved = token.trigger(trigger, previous=previous)
            finally:
                self.machine.remove_model(token)
        if not moved:
            raise MachineError(f"{trigger} cannot fire from {state} (previous={previous})")
        return token.state

    @cached_property
    def global_triggers(self) -> tuple[str, ...]:
        """Triggers that leave (or return to) most states: suspend, resume, abolish."""
        working = [n for n, s in self.states.items() if not s.final]
        found: list[str] = []
        for t in self.transitions:
            wide = t.dest == PREVIOUS or len(t.sources) * 2 >= len(working)
            if wide and t.trigger not in found:
                found.append(t.trigger)
        return tuple(found)

    def _graph(self, full: bool) -> str:
        transitions = [
            {k: v for k, v in t.items() if k != "conditions"}
            for t in self._machine_transitions()
            if full or t["trigger"] not in self.global_triggers
        ]
        shown = {self.initial} | {t["dest"] for t in transitions}
        shown |= {s for t in transitions for s in t["source"]}
        token = _Token(self.initial)
        _graph_machine_class()(
            model=token,
            states=[
                {"name": s.name, "label": s.ja} for s in self.states.values() if s.name in shown
            ],
            transitions=transitions,
            initial=self.initial,
            auto_transitions=False,
            graph_engine="mermaid",
            title=f"{self.name} {self.version}",
        )
        return token.get_graph().draw(None).rstrip() + "\n"

    @cached_property
    def _mermaid_main(self) -> str:
        return self._graph(full=False)

    @cached_property
    def _mermaid_full(self) -> str:
        return self._graph(full=True)

    def mermaid(self, full: bool = False) -> str:
        """The Mermaid stateDiagram-v2 text of this definition, drawn by the library.

        By default the transitions possible from (almost) every state -- suspend, resume,
        abolish -- are left out of the picture, which they would otherwise fill; `full=True`
        draws them too. The tables of the workflow page list every transition.
        """
        return self._mermaid_full if full else self._mermaid_main


@lru_cache(maxsize=1)
def _graph_machine_class() -> type:
    """The library's GraphMachine whose states carry a display label (the Japanese name)."""
    from transitions.extensions import GraphMachine

    class LabeledState(GraphMachine.state_cls):
        def __init__(self, *args: Any, label: str | None = None, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.label = label or self.name

    class LabeledGraphMachine(GraphMachine):
        state_cls = LabeledState
        # Top to bottom: eleven states in a row would be too wide for a page.
        machine_attributes = {**GraphMachine.machine_attributes, "rankdir": "TB"}

    return LabeledGraphMachine


def _previous_is(state: str):
    def condition(event) -> bool:
        return event.kwargs.get("previous") == state

    condition.__name__ = f"previous_is_{state}"
    return condition


# --- loading and validation -------------------------------------------------------------


def _fail(path: Path, place: str, reason: str) -> DefinitionError:
    return DefinitionError(str(path), place, reason)


def _names(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    return list(value) if isinstance(value, list) else [value]


def load_definition(path: str | Path) -> Definition:
    """Read and check one definition file; DefinitionError names the file, place and reason."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(path, "file", f"cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}" if mark else "file"
        raise _fail(path, place, f"not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(raw, dict):
        raise _fail(
            path, "file", "must be a mapping with name, version, initial, states, transitions"
        )
    lines = _line_index(path)
    for key in ("name", "version", "initial", "states", "transitions"):
        if key not in raw:
            raise _fail(path, key, "missing")
    states = _load_states(path, raw["states"], lines)
    initial = raw["initial"]
    if initial not in states:
        raise _fail(path, "initial", f"unknown state {initial!r}")
    transitions = _load_transitions(path, raw["transitions"], states, lines)
    _check_reachable(path, initial, states, transitions)
    try:
        return Definition(str(raw["name"]), str(raw["version"]), initial, states, transitions, path)
    except Exception as exc:  # noqa: BLE001 - anything the library refuses is a bad definition
        raise _fail(path, "transitions", f"the state machine refuses it ({exc})") from exc


def _line_index(path: Path) -> dict[str, int]:
    """Line numbers of the state names and transition entries, for error messages."""
    index: dict[str, int] = {}
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return index
    for key, value in getattr(node, "value", []):
        if key.value == "states" and isinstance(value, yaml.MappingNode):
            for name, sub in value.value:
                index[f"states.{name.value}"] = sub.start_mark.line + 1
        if key.value == "transitions" and isinstance(value, yaml.SequenceNode):
            for i, sub in enumerate(value.value):
                index[f"transitions[{i}]"] = sub.start_mark.line + 1
    return index


def _place(lines: dict[str, int], key: str, detail: str = "") -> str:
    line = lines.get(key)
    where = f"{key}{detail}"
    return f"{where} (line {line})" if line else where


def _load_states(path: Path, raw: Any, lines: dict[str, int]) -> dict[str, State]:
    if not isinstance(raw, dict) or not raw:
        raise _fail(path, "states", "must be a non-empty mapping of state names")
    states: dict[str, State] = {}
    for name, spec in raw.items():
        place = _place(lines, f"states.{name}")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _fail(path, place, f"state name {name!r} must be lower_snake_case")
        if not isinstance(spec, dict):
            raise _fail(path, place, "must be a mapping with ja and en labels")
        unknown = set(spec) - {"ja", "en", "stage", "actor", "final"}
        if unknown:
            raise _fail(path, place, f"unknown key(s) {', '.join(sorted(unknown))}")
        for key in ("ja", "en"):
            if not spec.get(key):
                raise _fail(path, place, f"the {key} label is missing")
        stage, actor = spec.get("stage"), spec.get("actor")
        if stage is not None and stage not in STAGES:
            raise _fail(path, place, f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
        if actor is not None and actor not in ACTORS:
            raise _fail(path, place, f"actor must be one of {', '.join(ACTORS)}, not {actor!r}")
        final = bool(spec.get("final", False))
        if final and (stage or actor):
            raise _fail(path, place, "a final state waits on no stage and no actor")
        states[name] = State(name, str(spec["ja"]), str(spec["en"]), stage, actor, final)
    return states


def _load_transitions(
    path: Path, raw: Any, states: dict[str, State], lines: dict[str, int]
) -> list[Transition]:
    if not isinstance(raw, list) or not raw:
        raise _fail(path, "transitions", "must be a non-empty list")
    result: list[Transition] = []
    seen: dict[tuple[str, str], int] = {}
    allowed = {"trigger", "from", "to", "by", "guards", "reason", "decides", "notify"}
    for i, spec in enumerate(raw):
        key = f"transitions[{i}]"
        place = _place(lines, key)
        if not isinstance(spec, dict):
            raise _fail(path, place, "must be a mapping")
        unknown = set(spec) - allowed
        if unknown:
            raise _fail(path, place, f"unknown key(s) {', '.join(sorted(unknown))}")
        for required in ("trigger", "from", "to", "by"):
            if required not in spec:
                raise _fail(path, place, f"{required} is missing")
        trigger = spec["trigger"]
        if not isinstance(trigger, str) or not _NAME.match(trigger):
            raise _fail(
                path,
                _place(lines, key, ".trigger"),
                f"trigger {trigger!r} must be lower_snake_case",
            )
        sources = tuple(_names(spec["from"]))
        for source in sources:
            if source not in states:
                raise _fail(path, _place(lines, key, ".from"), f"unknown state {source!r}")
            if states[source].final and trigger != "reopen":
                raise _fail(
                    path,
                    _place(lines, key, ".from"),
                    f"{source!r} is final; only reopen may leave it",
                )
            if (trigger, source) in seen:
                raise _fail(
                    path,
                    _place(lines, key, ".from"),
                    f"{trigger!r} from {source!r} is already defined in "
                    f"transitions[{seen[(trigger, source)]}]",
                )
            seen[(trigger, source)] = i
        dest = spec["to"]
        if dest != PREVIOUS and dest not in states:
            raise _fail(path, _place(lines, key, ".to"), f"unknown state {dest!r}")
        roles = tuple(_names(spec["by"]))
        if not roles:
            raise _fail(path, _place(lines, key, ".by"), "nobody may fire it")
        for role in roles:
            if role not in ROLES:
                raise _fail(
                    path,
                    _place(lines, key, ".by"),
                    f"unknown role {role!r} (roles: {', '.join(ROLES)})",
                )
        guards = tuple(_names(spec.get("guards", [])))
        for guard in guards:
            if guard not in GUARDS:
                raise _fail(
                    path,
                    _place(lines, key, ".guards"),
                    f"unknown guard {guard!r} (guards: {', '.join(GUARDS)})",
                )
        notify = spec.get("notify", {}) or {}
        if not isinstance(notify, dict):
            raise _fail(path, _place(lines, key, ".notify"), "must map recipients to mail kinds")
        for recipient, kind in notify.items():
            if recipient not in RECIPIENTS:
                raise _fail(
                    path,
                    _place(lines, key, ".notify"),
                    f"unknown recipients {recipient!r} ({', '.join(RECIPIENTS)})",
                )
            if not (MAIL_TEMPLATES / f"{kind}.txt").is_file():
                raise _fail(
                    path,
                    _place(lines, key, ".notify"),
                    f"no mail template {kind}.txt in notifications/templates/mail",
                )
        for flag in ("reason", "decides"):
            if not isinstance(spec.get(flag, False), bool):
                raise _fail(path, _place(lines, key, f".{flag}"), "must be true or false")
        result.append(
            Transition(
                trigger=trigger,
                sources=sources,
                dest=dest,
                roles=roles,
                guards=guards,
                needs_reason=spec.get("reason", False),
                decides=spec.get("decides", False),
                notify=dict(notify),
            )
        )
    return result


def _check_reachable(
    path: Path, initial: str, states: dict[str, State], transitions: list[Transition]
) -> None:
    reached, frontier = {initial}, [initial]
    while frontier:
        state = frontier.pop()
        for t in transitions:
            if state in t.sources and t.dest != PREVIOUS and t.dest not in reached:
                reached.add(t.dest)
                frontier.append(t.dest)
    unreachable = [s for s in states if s not in reached]
    if unreachable:
        raise _fail(path, f"states.{unreachable[0]}", "no transition leads to this state")
    for name, state in states.items():
        if (
            not state.final
            and name != "suspended"
            and not any(name in t.sources for t in transitions)
        ):
            raise _fail(path, f"states.{name}", "no transition leaves this non-final state")


# --- lookup by version ------------------------------------------------------------------


def current_path(name: str = "pdca") -> Path:
    return DEFINITIONS / f"{name}.yaml"


@lru_cache(maxsize=16)
def _load_cached(path: str, mtime: float) -> Definition:
    return load_definition(path)


def _load(path: Path) -> Definition:
    return _load_cached(str(path), path.stat().st_mtime)


def get_definition(version: str | None = None, name: str = "pdca") -> Definition:
    """The definition of `version` (the current one when None)."""
    current = _load(current_path(name))
    if version is None or version == current.version:
        return current
    archived = DEFINITIONS / "archive" / f"{name}-{version}.yaml"
    if not archived.is_file():
        raise DefinitionError(str(archived), "version", f"no definition {name} {version!r}")
    definition = _load(archived)
    if definition.version != version:
        raise DefinitionError(
            str(archived), "version", f"says {definition.version!r}, expected {version!r}"
        )
    return definition


def all_definitions(name: str = "pdca") -> list[Definition]:
    """The current definition and every archived one (each checked)."""
    found = [get_definition(None, name)]
    for path in sorted((DEFINITIONS / "archive").glob(f"{name}-*.yaml")):
        found.append(_load(path))
    return found
