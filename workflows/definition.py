"""A workflow definition: roles, stages, states and transitions, compiled into one machine.

Everything the code needs to know about the workflow is an attribute here, read from the
definition file (`workflows/loader.py` checks it); no state or trigger name is written in
Python. The code asks questions such as "which transition of kind `approve` leaves this
state", "does this state count as confirmed", "which role must act".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from transitions import Machine, MachineError

PREVIOUS = "@previous"

# What a role resolves to, relative to the cycle's item (`of:` in the definition).
SCOPES = ("owning_section", "related_sections", "owning_department", "city")
# Roles granted to users outright (app.models.Role values).
GRANTED = ("secretariat", "committee", "admin")
# The kinds of transition the code offers in its own places (stage forms, decision page,
# bulk approval, the secretariat's console). Labels are defaults a transition may override.
KINDS: dict[str, tuple[str, str, str, str]] = {
    # kind: (button ja, button en, history ja, history en)
    "submit": ("提出する", "Submit", "提出", "Submitted"),
    "approve": ("承認する", "Approve", "承認", "Approved"),
    "send_back": ("差し戻す", "Send back", "差戻し", "Sent back"),
    "withdraw": ("提出を取り下げる", "Withdraw", "取下げ", "Withdrawn"),
    "start": ("始める", "Start", "開始", "Started"),
    "reopen": ("前の段階に戻す", "Reopen", "前の段階に戻す", "Reopened"),
    "suspend": ("休止する", "Suspend", "休止", "Suspended"),
    "resume": ("再開する", "Resume", "再開", "Resumed"),
    "abolish": ("廃止する", "Abolish", "廃止", "Abolished"),
}
# The stage forms of the item page; a state names the one it edits (`form:`).
FORMS = ("plan", "report", "check", "act")
# Escalation levels; their delays (business days after the deadline) are in the schedule.
LEVELS = ("first", "second")
# Item statuses a state may set on entry (`item_status:`).
ITEM_STATUSES = ("suspended", "abolished")


def _pick(locale: str, ja: str, en: str) -> str:
    return en if str(locale).startswith("en") else ja


@dataclass(frozen=True)
class Role:
    """Who plays a part, resolved on a given day for a given item."""

    name: str
    ja: str
    en: str
    posts: tuple[str, ...] = ()  # post kind codes
    of: str | None = None  # one of SCOPES, for post-based roles
    granted: str | None = None  # one of GRANTED
    submitter: bool = False  # who submitted the waiting submission

    @property
    def post_based(self) -> bool:
        return bool(self.posts)

    def label(self, locale: str = "ja") -> str:
        return _pick(locale, self.ja, self.en)


@dataclass(frozen=True)
class Stage:
    """A deadline the cycle works towards; its default is a day of the fiscal year."""

    name: str
    ja: str
    en: str
    month: int
    day: int
    next_year: bool = False  # in the following fiscal year (the year-end evaluation)

    def default_due(self, fiscal_year: int) -> date:
        """The default deadline in `fiscal_year` (April to March)."""
        year = fiscal_year + (1 if self.next_year else 0) + (1 if self.month < 4 else 0)
        return date(year, self.month, self.day)

    def label(self, locale: str = "ja") -> str:
        return _pick(locale, self.ja, self.en)


@dataclass(frozen=True)
class State:
    name: str
    ja: str
    en: str
    stage: str | None = None  # the deadline this state waits on
    actor: str | None = None  # the role that must act
    form: str | None = None  # the stage form the actor edits here
    final: bool = False
    confirmed: bool = False  # the year's evaluation stands confirmed in this state
    closes_year: bool = False  # entering it closes the year and rolls over
    item_status: str | None = None  # entering it sets the item's status
    escalate: tuple[str, ...] = LEVELS  # the escalation levels that apply while overdue

    def label(self, locale: str = "ja") -> str:
        return _pick(locale, self.ja, self.en)

    @property
    def waiting(self) -> bool:
        """Someone must act before a deadline."""
        return bool(self.stage and self.actor)


@dataclass(frozen=True)
class Transition:
    trigger: str
    kind: str | None
    sources: tuple[str, ...]
    dest: str  # a state name, or "@previous" (back to where the cycle was halted)
    roles: tuple[str, ...]
    guards: tuple[str, ...] = ()
    needs_reason: bool = False
    decides: bool = False  # the author of the waiting submission may not fire it
    confirms: bool = False  # it confirms the year's evaluation
    report: str | None = None  # it submits a report of this kind (one must be filed)
    notify: dict[str, str] = field(default_factory=dict)
    ja: str = ""
    en: str = ""
    done_ja: str = ""
    done_en: str = ""

    def __hash__(self) -> int:
        return hash((self.trigger, self.sources, self.dest))

    def label(self, locale: str = "ja") -> str:
        """The button's words (承認する)."""
        return _pick(locale, self.ja, self.en)

    def done_label(self, locale: str = "ja") -> str:
        """The history's words (承認)."""
        return _pick(locale, self.done_ja, self.done_en)

    @property
    def submits(self) -> bool:
        return self.kind == "submit"


class _Token:
    """A stand-in model carrying one cycle's state through the shared machine."""

    def __init__(self, state: str):
        self.state = state


class Definition:
    """One version of a workflow, with its compiled `transitions` machine.

    `fire(state, trigger, check=...)` runs the machine: `check(transition)` is the condition
    of every transition (the engine's rights, reason, year lock and guards, which refuse by
    raising); the machine decides the destination.
    """

    def __init__(
        self,
        name: str,
        version: str,
        initial: str,
        roles: dict[str, Role],
        stages: dict[str, Stage],
        reports: dict[str, tuple[str, str]],
        escalation: dict[str, str],
        states: dict[str, State],
        transitions: list[Transition],
        path: Path | None = None,
        *,
        committee_answer: tuple[str, ...] = (),
    ):
        self.name = name
        self.version = version
        self.initial = initial
        self.roles = roles
        self.stages = stages
        self.reports = reports
        self.escalation = escalation
        # The roles that answer the committee's opinions and questions: they get a task
        # and a mail when one arrives, until one of them replies.
        self.committee_answer = committee_answer
        self.states = states
        self.transitions = transitions
        self.path = path
        self._tokens: list[_Token] = []  # idle models attached to the machine
        self._tokens_lock = threading.Lock()
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

    # -- the machine -----------------------------------------------------------------

    def _machine_transitions(self, *, with_conditions: bool = True) -> list[dict[str, Any]]:
        compiled = []
        for t in self.transitions:
            conditions = [self._condition(t)] if with_conditions else []
            if t.dest == PREVIOUS:
                for state in self.states:
                    if state in t.sources or self.states[state].final:
                        continue
                    compiled.append(
                        {
                            "trigger": t.trigger,
                            "source": list(t.sources),
                            "dest": state,
                            # The checks first: a refusal is told before "nowhere to go".
                            "conditions": [*conditions, _previous_is(state)],
                        }
                    )
            else:
                compiled.append(
                    {
                        "trigger": t.trigger,
                        "source": list(t.sources),
                        "dest": t.dest,
                        "conditions": conditions,
                    }
                )
        return compiled

    @staticmethod
    def _condition(transition: Transition) -> Callable:
        def condition(event) -> bool:
            check = event.kwargs.get("check")
            return check(transition) if check is not None else True

        condition.__name__ = f"may_{transition.trigger}"
        return condition

    def _borrow(self) -> _Token:
        with self._tokens_lock:
            if self._tokens:
                return self._tokens.pop()
        token = _Token(self.initial)
        self.machine.add_model(token, initial=self.initial)
        return token

    def _give_back(self, token: _Token) -> None:
        with self._tokens_lock:
            self._tokens.append(token)

    def fire(
        self,
        state: str,
        trigger: str,
        *,
        check: Callable[[Transition], bool] | None = None,
        previous: str | None = None,
    ) -> str:
        """Run the machine from `state`: the destination (MachineError if it cannot fire).

        A few models stay attached to the shared machine (one per transition running at the
        same moment) and are reused; a model's state is set from the row before each
        trigger, as the database is the truth.
        """
        token = self._borrow()
        try:
            token.state = state
            moved = token.trigger(trigger, check=check, previous=previous)
            dest = token.state
        finally:
            self._give_back(token)
        if not moved:
            raise MachineError(f"{trigger} cannot fire from {state} (previous={previous})")
        return dest

    # -- questions the code asks -----------------------------------------------------

    def transition(self, state: str, trigger: str) -> Transition | None:
        """The transition `trigger` fires from `state`, or None."""
        return self._by_source.get((trigger, state))

    @cached_property
    def _by_source(self) -> dict[tuple[str, str], Transition]:
        return {(t.trigger, s): t for t in self.transitions for s in t.sources}

    def leaving(self, state: str) -> list[Transition]:
        """The transitions that leave `state`, in definition order."""
        return [t for t in self.transitions if state in t.sources]

    def triggers_from(self, state: str) -> list[str]:
        """The triggers that leave `state`, in definition order, each once."""
        return list(dict.fromkeys(t.trigger for t in self.leaving(state)))

    def of_kind(self, state: str, kind: str) -> Transition | None:
        """The first transition of `kind` that leaves `state`."""
        return next((t for t in self.leaving(state) if t.kind == kind), None)

    def by_trigger(self, trigger: str) -> Transition | None:
        """Any transition fired by `trigger` (for labels of recorded actions)."""
        return next((t for t in self.transitions if t.trigger == trigger), None)

    def state(self, name: str) -> State | None:
        return self.states.get(name)

    def state_label(self, name: str, locale: str = "ja") -> str:
        state = self.states.get(name)
        return state.label(locale) if state else name

    def stage_of(self, state: str) -> str | None:
        found = self.states.get(state)
        return found.stage if found else None

    def states_where(self, test: Callable[[State], bool]) -> tuple[str, ...]:
        return tuple(name for name, state in self.states.items() if test(state))

    @cached_property
    def waiting_states(self) -> tuple[str, ...]:
        """States in which someone must act before a deadline."""
        return self.states_where(lambda s: s.waiting)

    @cached_property
    def deciding_states(self) -> frozenset[str]:
        """States that wait for a decision (a transition with `decides` leaves them)."""
        return frozenset(s for s in self.states if any(t.decides for t in self.leaving(s)))

    def state_with_status(self, status: str) -> str | None:
        """The state that sets the item's `status` on entry (abolished, suspended)."""
        return next((n for n, s in self.states.items() if s.item_status == status), None)

    @cached_property
    def confirming_transitions(self) -> tuple[Transition, ...]:
        return tuple(t for t in self.transitions if t.confirms)

    def report_label(self, kind: str, locale: str = "ja") -> str:
        ja, en = self.reports.get(kind, (kind, kind))
        return _pick(locale, ja, en)

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

    def normal_path(self) -> list[Transition]:
        """The shortest way from the initial state to closing the year, moving forward only.

        Forward means submitting, deciding to approve and starting: what a year looks like
        when nothing is sent back (the demo plays it).
        """
        forward = ("submit", "approve", "start", None)
        goal = {n for n, s in self.states.items() if s.closes_year}
        frontier: list[tuple[str, list[Transition]]] = [(self.initial, [])]
        seen = {self.initial}
        while frontier:
            state, path = frontier.pop(0)
            if state in goal:
                return path
            for t in self.leaving(state):
                if t.kind in forward and t.dest != PREVIOUS and t.dest not in seen:
                    seen.add(t.dest)
                    frontier.append((t.dest, [*path, t]))
        return []

    # -- the diagram -------------------------------------------------------------------

    def _graph(self, full: bool) -> str:
        transitions = [
            t
            for t in self._machine_transitions(with_conditions=False)
            if full or t["trigger"] not in self.global_triggers
        ]
        for t in transitions:
            t.pop("conditions")
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


class DefinitionError(Exception):
    """A definition that cannot be used: '<file>: <place>: <reason>'."""

    def __init__(self, file: str, place: str, reason: str):
        self.file, self.place, self.reason = file, place, reason
        super().__init__(f"{file}: {place}: {reason}")
