"""Random actions by random people, checked against the rules written out independently.

Invariants after every step: the cycle is in exactly one known state; the audit chain is
valid and its last record leads to the cycle's state; a transition happened only when the
actor had the right (by this module's own reading of the rules); every decision was taken
by the head post's holder or a substitute running that day, never on one's own submission.
"""

from __future__ import annotations

import functools
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Cycle
from tests.conftest import make_app
from tests.factories import Factory
from workflows import operations as ops
from workflows.audit import verify, verify_chain
from workflows.errors import GuardFailed, InvalidTransition, PermissionDenied, WorkflowError
from workflows.registry import get_definition

from .conftest import fill_for
from .test_permission_table import EXPECTED

DEFINITION = get_definition()
TRIGGERS = sorted(EXPECTED)
PEOPLE = ["staff", "staff2", "head", "deputy", "secretariat", "committee", "admin", "other_head"]
DEPUTY_FROM, DEPUTY_TO = date(2026, 5, 14), date(2026, 5, 20)
START = datetime(2026, 5, 11, 1, 0, tzinfo=UTC)


@functools.cache
def _app():
    """One app (SQLite in memory, one connection) for all examples; tables reset per example."""
    return make_app(Path(tempfile.mkdtemp()), "sqlite://")


class CycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ctx = _app().app_context()
        self.ctx.push()
        db.drop_all()
        db.create_all()
        make = Factory(db.session)
        org, other = make.org("企画"), make.org("福祉")
        staff2 = make.user("staff2")
        make.assign(staff2, org.staff_post)
        deputy = make.deputy(org, "deputy")
        self.users = {
            "staff": org.staff,
            "staff2": staff2,
            "head": org.head,
            "deputy": deputy,
            "secretariat": make.user("sec", roles=["secretariat"]),
            "committee": make.user("com", roles=["committee"]),
            "admin": make.user("adm", roles=["admin"]),
            "other_head": other.head,
        }
        self.now = START
        ops.register_substitute(
            org.head_post,
            substitute=deputy,
            starts_on=DEPUTY_FROM,
            ends_on=DEPUTY_TO,
            by=org.head,
            now=self.now,
        )
        self.cycle = ops.open_cycle(make.item(org), 2026, now=self.now)
        self.cycle.goal = "目標"
        db.session.commit()
        self.transitions = 0

    # --- the rules, read independently of the engine -----------------------------------

    def roles_of(self, name: str) -> set[str]:
        today = self.now.date()  # 10:00 in Tokyo is the same date in UTC
        user = self.users[name]
        roles: set[str] = set()
        if name in ("staff", "staff2"):
            roles.add("staff")
        if self.cycle.submitted_by_id == user.id:
            roles.add("author")
        if name == "head" or (name == "deputy" and DEPUTY_FROM <= today <= DEPUTY_TO):
            roles.add("head")
        if name == "secretariat":
            roles.add("secretariat")
        return roles

    def may(self, trigger: str, name: str) -> bool:
        transition = DEFINITION.transition(self.cycle.state, trigger)
        if transition is None:
            return False
        if transition.decides and self.cycle.submitted_by_id == self.users[name].id:
            return False
        return bool(self.roles_of(name) & EXPECTED[trigger])

    # --- actions ------------------------------------------------------------------------

    @rule(
        data=st.data(), name=st.sampled_from(PEOPLE), reason=st.sampled_from(["", "理由があります"])
    )
    def fire(self, data, name: str, reason: str) -> None:
        # Mostly a trigger the state offers, sometimes any trigger at all.
        here = DEFINITION.triggers_from(self.cycle.state) or TRIGGERS
        trigger = data.draw(st.sampled_from(here) | st.sampled_from(TRIGGERS), label="trigger")
        state, version, author = self.cycle.state, self.cycle.version, self.cycle.submitted_by_id
        allowed = self.may(trigger, name)
        try:
            entry = ops.fire(self.cycle, trigger, by=self.users[name], now=self.now, comment=reason)
        except InvalidTransition:
            assert DEFINITION.transition(state, trigger) is None
            outcome = "invalid"
        except PermissionDenied:
            assert not allowed, f"{name} was refused {trigger} in {state}"
            outcome = "denied"
        except GuardFailed:
            assert allowed
            outcome = "guard"
        except WorkflowError as exc:  # pragma: no cover - would be a bug
            raise AssertionError(f"unexpected {exc!r}") from exc
        else:
            assert allowed, f"{name} fired {trigger} in {state} without the right"
            assert self.cycle.version == version + 1
            assert entry.from_state == state and entry.to_state == self.cycle.state
            transition = DEFINITION.transition(state, trigger)
            if "head" in transition.roles:
                head = self.users["head"]
                if entry.actor_id == head.id:
                    assert entry.on_behalf_of_id is None
                else:
                    assert entry.actor_id == self.users["deputy"].id
                    assert DEPUTY_FROM <= self.now.date() <= DEPUTY_TO
                    assert entry.on_behalf_of_id == head.id
            if transition.decides:
                assert entry.actor_id != author
            self.transitions += 1
            event(f"fired {trigger}")
            db.session.commit()
            return
        event(outcome)
        assert self.cycle.state == state and self.cycle.version == version, outcome
        db.session.rollback()

    @rule()
    def complete_the_draft(self) -> None:
        fill_for(self.cycle, self.cycle.state, self.users["staff"])
        db.session.commit()

    @rule(days=st.integers(min_value=1, max_value=4))
    def time_passes(self, days: int) -> None:
        self.now += timedelta(days=days)

    @precondition(lambda self: self.cycle.state == "plan_draft")
    @rule()
    def submit_the_plan(self) -> None:
        ops.submit(self.cycle, by=self.users["staff2"], now=self.now)
        self.transitions += 1
        db.session.commit()

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def one_known_state_per_cycle(self) -> None:
        states = db.session.scalars(select(Cycle.state)).all()
        assert len(states) == 1 and states[0] in DEFINITION.states

    @invariant()
    def audit_chain_is_valid_and_complete(self) -> None:
        scope = f"cycle:{self.cycle.id}"
        entries = db.session.scalars(
            select(AuditEntry).where(AuditEntry.scope == scope).order_by(AuditEntry.seq)
        ).all()
        assert verify_chain(scope, entries) == []
        assert len(entries) == self.transitions + 1  # + the opening record
        assert entries[-1].to_state == self.cycle.state

    def teardown(self) -> None:
        try:
            assert verify(db.session) == []
        finally:
            db.session.remove()
            self.ctx.pop()


TestCycleMachine = CycleMachine.TestCase
TestCycleMachine.settings = settings(
    max_examples=30,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
