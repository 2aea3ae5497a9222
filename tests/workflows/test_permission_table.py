"""Who may fire what: every (state, trigger, role) of the PDCA definition, allowed or denied.

The expected table is written out here by hand, independently of the YAML, so a change in
the definition that gives a right to the wrong people fails.
"""

from __future__ import annotations

from datetime import date

import pytest

from app.extensions import db as _db
from tests.conftest import make_app
from tests.factories import Factory
from workflows import operations as ops
from workflows.errors import InvalidTransition, PermissionDenied
from workflows.permissions import can_fire
from workflows.registry import get_definition

from .conftest import NOW

TODAY = date(2026, 5, 11)
ROLES = [
    "author",
    "staff",
    "head",
    "substitute",
    "expired_substitute",
    "future_substitute",
    "other_staff",
    "other_head",
    "secretariat",
    "committee",
    "admin",
]
SUBMITTERS = {"staff", "author"}
HEAD = {"head", "substitute"}
SECRETARIAT = {"secretariat"}
EXPECTED = {
    "submit_plan": SUBMITTERS,
    "approve_plan": HEAD,
    "send_back_plan": HEAD,
    "withdraw_plan": {"author"},
    "submit_midyear": SUBMITTERS,
    "approve_midyear": HEAD,
    "send_back_midyear": HEAD,
    "withdraw_midyear": {"author"},
    "start_check": SUBMITTERS,
    "submit_check": SUBMITTERS,
    "approve_check": HEAD,
    "send_back_check": HEAD,
    "withdraw_check": {"author"},
    "confirm_check": SECRETARIAT,
    "send_back_confirming": SECRETARIAT,
    "submit_act": SUBMITTERS,
    "approve_act": HEAD,
    "send_back_act": HEAD,
    "withdraw_act": {"author"},
    "reopen": SECRETARIAT,
    "suspend": SECRETARIAT,
    "resume": SECRETARIAT,
    "abolish": SECRETARIAT,
}
DEFINITION = get_definition()
CASES = [
    (state, trigger, role)
    for state in DEFINITION.states
    for trigger in DEFINITION.triggers_from(state)
    for role in ROLES
]


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("table"), "sqlite://")
    with app.app_context():
        _db.create_all()
        make = Factory(_db.session)
        org, other = make.org("企画"), make.org("福祉")
        author = org.staff
        staff = make.user("colleague")
        make.assign(staff, org.staff_post)
        subs = {}
        for name, start, end in [
            ("substitute", date(2026, 5, 1), date(2026, 5, 31)),
            ("expired_substitute", date(2026, 4, 1), date(2026, 5, 10)),
            ("future_substitute", date(2026, 5, 12), date(2026, 6, 30)),
        ]:
            subs[name] = make.deputy(org, name)
            ops.register_substitute(
                org.head_post,
                substitute=subs[name],
                starts_on=start,
                ends_on=end,
                by=org.head,
                now=NOW,
            )
        users = {
            "author": author,
            "staff": staff,
            "head": org.head,
            **subs,
            "other_staff": other.staff,
            "other_head": other.head,
            "secretariat": make.user("sec", roles=["secretariat"]),
            "committee": make.user("com", roles=["committee"]),
            "admin": make.user("adm", roles=["admin"]),
        }
        cycle = make.cycle(make.item(org), 2026, submitted_by_id=author.id)
        yield cycle, users
        _db.session.remove()


def test_the_table_covers_every_trigger_of_the_definition():
    assert {t.trigger for t in DEFINITION.transitions} == set(EXPECTED)


@pytest.mark.parametrize(("state", "trigger", "role"), CASES)
def test_who_may_fire(people, state, trigger, role):
    cycle, users = people
    cycle.state = state
    allowed = role in EXPECTED[trigger]
    assert can_fire(cycle, trigger, users[role], TODAY) is allowed
    if not allowed:
        before = cycle.version
        with pytest.raises(PermissionDenied):
            ops.fire(cycle, trigger, by=users[role], now=NOW, comment="理由")
        assert cycle.state == state and cycle.version == before


@pytest.mark.parametrize("state", list(DEFINITION.states))
def test_triggers_of_other_states_are_refused_to_everyone(people, state):
    cycle, users = people
    cycle.state = state
    others = set(EXPECTED) - set(DEFINITION.triggers_from(state))
    for trigger in others:
        for role in ROLES:
            assert not can_fire(cycle, trigger, users[role], TODAY), (trigger, role)
        with pytest.raises(InvalidTransition):
            ops.fire(cycle, trigger, by=users["secretariat"], now=NOW, comment="理由")
