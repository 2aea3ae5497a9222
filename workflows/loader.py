"""Reading a definition file and checking it; errors say '<file>: <place>: <reason>'."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from .definition import (
    FORMS,
    GRANTED,
    ITEM_STATUSES,
    KINDS,
    LEVELS,
    PREVIOUS,
    SCOPES,
    Definition,
    DefinitionError,
    Role,
    Stage,
    State,
    Transition,
)
from .guards import GUARD_NAMES

MAIL_TEMPLATES = Path(__file__).parent.parent / "notifications" / "templates" / "mail"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

TOP_KEYS = {
    "name",
    "version",
    "initial",
    "roles",
    "stages",
    "reports",
    "escalation",
    "committee",
    "states",
    "transitions",
}
ROLE_KEYS = {"ja", "en", "posts", "of", "granted", "submitter"}
STAGE_KEYS = {"ja", "en", "due"}
STATE_KEYS = {
    "ja",
    "en",
    "stage",
    "actor",
    "form",
    "final",
    "confirmed",
    "closes_year",
    "item_status",
    "escalate",
}
TRANSITION_KEYS = {
    "trigger",
    "kind",
    "from",
    "to",
    "by",
    "guards",
    "reason",
    "decides",
    "confirms",
    "report",
    "notify",
    "ja",
    "en",
    "done",
}
# Where each attribute belongs, to name the right element when one is misplaced.
_BELONGS = [
    ("roles", ROLE_KEYS - {"ja", "en"}),
    ("stages", STAGE_KEYS - {"ja", "en"}),
    ("states", STATE_KEYS - {"ja", "en"}),
    ("transitions", TRANSITION_KEYS - {"ja", "en"}),
]
NOTIFY_SPECIAL = ("next", "author")


class _Reader:
    def __init__(self, path: Path):
        self.path = path
        self.lines = _line_index(path)

    def fail(self, place: str, reason: str) -> DefinitionError:
        return DefinitionError(str(self.path), place, reason)

    def place(self, key: str, detail: str = "") -> str:
        line = self.lines.get(key)
        where = f"{key}{detail}"
        return f"{where} (line {line})" if line else where

    def check_keys(self, place: str, spec: dict, allowed: set[str], element: str) -> None:
        unknown = sorted(set(spec) - allowed)
        if not unknown:
            return
        key = unknown[0]
        home = next((where for where, keys in _BELONGS if key in keys and where != element), None)
        if home:
            raise self.fail(place, f"{key} is an attribute of {home}, not of {element}")
        raise self.fail(place, f"unknown key(s) {', '.join(map(str, unknown))}")

    def labels(self, place: str, spec: dict) -> tuple[str, str]:
        for key in ("ja", "en"):
            if not spec.get(key):
                raise self.fail(place, f"the {key} label is missing")
        return str(spec["ja"]), str(spec["en"])

    def flag(self, place: str, spec: dict, key: str) -> bool:
        value = spec.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{place}.{key}", "must be true or false")
        return value

    def mapping(self, raw: Any, key: str, required: bool = True) -> dict:
        if raw is None and not required:
            return {}
        if not isinstance(raw, dict) or (required and not raw):
            raise self.fail(key, "must be a non-empty mapping of names")
        for name in raw:
            if not isinstance(name, str) or not _NAME.match(name):
                raise self.fail(self.place(f"{key}.{name}"), "names must be lower_snake_case")
        return raw


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
        raise DefinitionError(str(path), "file", f"cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}" if mark else "file"
        raise DefinitionError(
            str(path), place, f"not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from exc
    reader = _Reader(path)
    if not isinstance(raw, dict):
        raise reader.fail("file", "must be a mapping with name, version, roles, stages, states")
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise reader.fail(unknown[0], "unknown section")
    for key in ("name", "version", "initial", "roles", "stages", "states", "transitions"):
        if key not in raw:
            raise reader.fail(key, "missing")
    roles = _load_roles(reader, raw["roles"])
    stages = _load_stages(reader, raw["stages"])
    reports = {
        kind: reader.labels(reader.place(f"reports.{kind}"), spec or {})
        for kind, spec in reader.mapping(raw.get("reports"), "reports", required=False).items()
    }
    escalation = _load_escalation(reader, raw.get("escalation"), roles)
    committee = _load_committee(reader, raw.get("committee"), roles)
    states = _load_states(reader, raw["states"], roles, stages)
    initial = raw["initial"]
    if initial not in states:
        raise reader.fail("initial", f"unknown state {initial!r}")
    transitions = _load_transitions(reader, raw["transitions"], states, roles, reports)
    _check_paths(reader, initial, states, transitions)
    try:
        return Definition(
            str(raw["name"]),
            str(raw["version"]),
            initial,
            roles,
            stages,
            reports,
            escalation,
            states,
            transitions,
            path,
            committee_answer=committee,
        )
    except Exception as exc:  # noqa: BLE001 - anything the library refuses is a bad definition
        raise reader.fail("transitions", f"the state machine refuses it ({exc})") from exc


def _line_index(path: Path) -> dict[str, int]:
    """Line numbers of named entries and transition entries, for error messages."""
    index: dict[str, int] = {}
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return index
    for key, value in getattr(node, "value", []):
        if isinstance(value, yaml.MappingNode):
            for name, sub in value.value:
                index[f"{key.value}.{name.value}"] = sub.start_mark.line + 1
        if isinstance(value, yaml.SequenceNode):
            for i, sub in enumerate(value.value):
                index[f"{key.value}[{i}]"] = sub.start_mark.line + 1
    return index


def _load_roles(reader: _Reader, raw: Any) -> dict[str, Role]:
    roles: dict[str, Role] = {}
    for name, spec in reader.mapping(raw, "roles").items():
        place = reader.place(f"roles.{name}")
        if not isinstance(spec, dict):
            raise reader.fail(place, "must be a mapping")
        reader.check_keys(place, spec, ROLE_KEYS, "roles")
        ja, en = reader.labels(place, spec)
        ways = [k for k in ("posts", "granted", "submitter") if spec.get(k)]
        if len(ways) != 1:
            raise reader.fail(
                place, "say how the role resolves to people: one of posts, granted, submitter"
            )
        posts = tuple(str(p) for p in _names(spec.get("posts") or []))
        of = spec.get("of")
        if posts:
            if any(not _NAME.match(p) for p in posts):
                raise reader.fail(f"{place}.posts", "post kind codes must be lower_snake_case")
            if of not in SCOPES:
                raise reader.fail(f"{place}.of", f"must be one of {', '.join(SCOPES)}")
        elif of is not None:
            raise reader.fail(f"{place}.of", "only a role resolved from posts has a scope")
        granted = spec.get("granted")
        if granted is not None and granted not in GRANTED:
            raise reader.fail(f"{place}.granted", f"must be one of {', '.join(GRANTED)}")
        roles[name] = Role(name, ja, en, posts, of, granted, reader.flag(place, spec, "submitter"))
    return roles


def _load_stages(reader: _Reader, raw: Any) -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    for name, spec in reader.mapping(raw, "stages").items():
        place = reader.place(f"stages.{name}")
        if not isinstance(spec, dict):
            raise reader.fail(place, "must be a mapping with ja, en and due")
        reader.check_keys(place, spec, STAGE_KEYS, "stages")
        ja, en = reader.labels(place, spec)
        due = spec.get("due")
        if not isinstance(due, dict):
            raise reader.fail(place, "the stage has no deadline (due: {month: M, day: D})")
        unknown = set(due) - {"month", "day", "year"}
        if unknown or due.get("year", "same") not in ("same", "next"):
            raise reader.fail(f"{place}.due", "takes month, day and year (same or next)")
        try:
            date(2001, int(due["month"]), int(due["day"]))  # not a leap year: no 29 Feb
        except (KeyError, TypeError, ValueError) as exc:
            raise reader.fail(f"{place}.due", "month and day must form a date") from exc
        stages[name] = Stage(
            name, ja, en, int(due["month"]), int(due["day"]), due.get("year") == "next"
        )
    return stages


def _load_escalation(reader: _Reader, raw: Any, roles: dict[str, Role]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise reader.fail("escalation", f"must map levels ({', '.join(LEVELS)}) to roles")
    for level, role in raw.items():
        if level not in LEVELS:
            raise reader.fail("escalation", f"unknown level {level!r} ({', '.join(LEVELS)})")
        if role not in roles:
            raise reader.fail(f"escalation.{level}", f"unknown role {role!r}")
    return dict(raw)


def _load_committee(reader: _Reader, raw: Any, roles: dict[str, Role]) -> tuple[str, ...]:
    """`committee: {answer: [roles]}`: who answers the committee's opinions and questions."""
    if raw is None:
        return ()
    if not isinstance(raw, dict) or set(raw) - {"answer"}:
        raise reader.fail("committee", "must be a mapping with answer: [roles]")
    names = _names(raw.get("answer") or [])
    for role in names:
        if role not in roles:
            raise reader.fail("committee.answer", f"unknown role {role!r}")
        if not roles[role].post_based:
            raise reader.fail("committee.answer", f"role {role!r} must be held through posts")
    return tuple(names)


def _load_states(
    reader: _Reader, raw: Any, roles: dict[str, Role], stages: dict[str, Stage]
) -> dict[str, State]:
    states: dict[str, State] = {}
    for name, spec in reader.mapping(raw, "states").items():
        place = reader.place(f"states.{name}")
        if not isinstance(spec, dict):
            raise reader.fail(place, "must be a mapping with ja and en labels")
        reader.check_keys(place, spec, STATE_KEYS, "states")
        ja, en = reader.labels(place, spec)
        stage, actor, form = spec.get("stage"), spec.get("actor"), spec.get("form")
        if stage is not None and stage not in stages:
            raise reader.fail(
                f"{place}.stage", f"unknown stage {stage!r} (stages: {', '.join(stages)})"
            )
        if actor is not None:
            if actor not in roles:
                raise reader.fail(
                    f"{place}.actor", f"unknown role {actor!r} (roles: {', '.join(roles)})"
                )
            if roles[actor].submitter:
                raise reader.fail(f"{place}.actor", "the submitter is not a role that waits")
            if stage is None:
                raise reader.fail(place, "a state waiting for someone names its stage")
        if form is not None and (form not in FORMS or actor is None):
            raise reader.fail(
                f"{place}.form", f"one of {', '.join(FORMS)}, in a state with an actor"
            )
        final = reader.flag(place, spec, "final")
        if final and (stage or actor):
            raise reader.fail(place, "a final state waits on no stage and no actor")
        status = spec.get("item_status")
        if status is not None:
            if status not in ITEM_STATUSES:
                raise reader.fail(f"{place}.item_status", f"one of {', '.join(ITEM_STATUSES)}")
            if stage or actor:
                raise reader.fail(place, "a state that halts the item waits for nobody")
            taken = next((s for s in states.values() if s.item_status == status), None)
            if taken:
                raise reader.fail(f"{place}.item_status", f"{taken.name} already sets {status}")
        escalate = tuple(_names(spec.get("escalate", list(LEVELS))))
        if any(level not in LEVELS for level in escalate):
            raise reader.fail(f"{place}.escalate", f"levels are {', '.join(LEVELS)}")
        states[name] = State(
            name,
            ja,
            en,
            stage,
            actor,
            form,
            final,
            reader.flag(place, spec, "confirmed"),
            reader.flag(place, spec, "closes_year"),
            status,
            escalate,
        )
    closing = [s for s in states.values() if s.closes_year]
    if len(closing) != 1:
        raise reader.fail("states", "exactly one state closes the year (closes_year: true)")
    return states


def _load_transitions(
    reader: _Reader,
    raw: Any,
    states: dict[str, State],
    roles: dict[str, Role],
    reports: dict[str, tuple[str, str]],
) -> list[Transition]:
    if not isinstance(raw, list) or not raw:
        raise reader.fail("transitions", "must be a non-empty list")
    result: list[Transition] = []
    seen: dict[tuple[str, str], int] = {}
    for i, spec in enumerate(raw):
        key = f"transitions[{i}]"
        place = reader.place(key)
        if not isinstance(spec, dict):
            raise reader.fail(place, "must be a mapping")
        reader.check_keys(place, spec, TRANSITION_KEYS, "transitions")
        for required in ("trigger", "from", "to", "by"):
            if required not in spec:
                raise reader.fail(place, f"{required} is missing")
        trigger = spec["trigger"]
        if not isinstance(trigger, str) or not _NAME.match(trigger):
            raise reader.fail(
                reader.place(key, ".trigger"), f"trigger {trigger!r} must be lower_snake_case"
            )
        kind = spec.get("kind")
        if kind is not None and kind not in KINDS:
            raise reader.fail(reader.place(key, ".kind"), f"kind must be one of {', '.join(KINDS)}")
        sources = tuple(_names(spec["from"]))
        for source in sources:
            where = reader.place(key, ".from")
            if source not in states:
                raise reader.fail(where, f"unknown state {source!r}")
            if states[source].final and kind != "reopen":
                raise reader.fail(where, f"{source!r} is final; only a reopen may leave it")
            if (trigger, source) in seen:
                raise reader.fail(
                    where,
                    f"{trigger!r} from {source!r} is already defined in "
                    f"transitions[{seen[(trigger, source)]}]",
                )
            seen[(trigger, source)] = i
        dest = spec["to"]
        if dest != PREVIOUS and dest not in states:
            raise reader.fail(reader.place(key, ".to"), f"unknown state {dest!r}")
        by = tuple(_names(spec["by"]))
        if not by:
            raise reader.fail(reader.place(key, ".by"), "nobody may fire it")
        for role in by:
            if role not in roles:
                raise reader.fail(
                    reader.place(key, ".by"),
                    f"unknown role {role!r} (roles: {', '.join(roles)})",
                )
        guards = tuple(_names(spec.get("guards", [])))
        for guard in guards:
            if guard not in GUARD_NAMES:
                raise reader.fail(
                    reader.place(key, ".guards"),
                    f"unknown guard {guard!r} (guards: {', '.join(GUARD_NAMES)})",
                )
        notify = spec.get("notify", {}) or {}
        if not isinstance(notify, dict):
            raise reader.fail(reader.place(key, ".notify"), "must map recipients to mail kinds")
        for recipient, mail in notify.items():
            if recipient not in NOTIFY_SPECIAL and recipient not in roles:
                raise reader.fail(
                    reader.place(key, ".notify"),
                    f"unknown recipients {recipient!r} (next, author or a role)",
                )
            if not (MAIL_TEMPLATES / f"{mail}.txt").is_file():
                raise reader.fail(
                    reader.place(key, ".notify"),
                    f"no mail template {mail}.txt in notifications/templates/mail",
                )
        decides = reader.flag(place, spec, "decides")
        confirms = reader.flag(place, spec, "confirms")
        if confirms and (dest == PREVIOUS or not states[dest].confirmed):
            raise reader.fail(
                reader.place(key, ".confirms"), "it must lead to a state marked confirmed"
            )
        report = spec.get("report")
        if report is not None and (report not in reports or kind != "submit"):
            raise reader.fail(
                reader.place(key, ".report"), "a submission of a report kind declared in reports"
            )
        if kind == "submit" and decides:
            raise reader.fail(place, "a submission is not a decision")
        ja, en, done_ja, done_en = _transition_labels(reader, place, spec, kind)
        result.append(
            Transition(
                trigger=trigger,
                kind=kind,
                sources=sources,
                dest=dest,
                roles=by,
                guards=guards,
                needs_reason=reader.flag(place, spec, "reason"),
                decides=decides,
                confirms=confirms,
                report=report,
                notify=dict(notify),
                ja=ja,
                en=en,
                done_ja=done_ja,
                done_en=done_en,
            )
        )
    return result


def _transition_labels(
    reader: _Reader, place: str, spec: dict, kind: str | None
) -> tuple[str, str, str, str]:
    """Button and history labels: the transition's own, else its kind's."""
    defaults = KINDS.get(kind or "", None)
    if defaults is None and not (spec.get("ja") and spec.get("en")):
        raise reader.fail(place, "a transition without a kind needs ja and en labels")
    ja, en, done_ja, done_en = defaults or ("", "", "", "")
    ja, en = str(spec.get("ja") or ja), str(spec.get("en") or en)
    done = spec.get("done") or {}
    if not isinstance(done, dict) or set(done) - {"ja", "en"}:
        raise reader.fail(f"{place}.done", "takes ja and en")
    return ja, en, str(done.get("ja") or done_ja or ja), str(done.get("en") or done_en or en)


def _check_paths(
    reader: _Reader, initial: str, states: dict[str, State], transitions: list[Transition]
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
        raise reader.fail(
            reader.place(f"states.{unreachable[0]}"), "no transition leads to this state"
        )
    for name, state in states.items():
        if not state.final and not any(name in t.sources for t in transitions):
            raise reader.fail(
                reader.place(f"states.{name}"), "no transition leaves this non-final state"
            )
