"""Schemathesis fuzzes the API against its own OpenAPI document, with a token per role.

Every operation, as staff, head, secretariat, committee member and administrator (and a
read-only token): no 5xx, every answer conforms to the schema (status, content type,
headers, body), and no write succeeds without its right (the token's scope and the
engine's own predicates, `items.service.can_edit` and `permissions.allowed`); a write
that succeeds is in the audit log under the token's user. Path ids and If-Match are
drawn from the real cycles half of the time, so writes get past 404 and 412.

Bounded: API_FUZZ_EXAMPLES examples per operation and role (Hypothesis' generate phase
only, no coverage phase), about half a minute per database on a 2-core machine.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, date, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from app.calendar import local_date
from app.items import service as stage
from app.models import AuditEntry, Cycle, Grade, Role
from app.public import service as publication
from app.tokens.service import create_token
from workflows import audit, permissions

from .conftest import FY

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "4"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
WRITES = {
    "draft": "save",
    "reports": "save",
    "submit": "submit",
    "approve": "approve",
    "send-back": "send_back",
    "withdraw": "withdraw",
}
STATES = [
    "plan_draft",
    "plan_submitted",
    "doing",
    "midyear_submitted",
    "check_draft",
    "check_submitted",
    "check_confirming",
    "act_draft",
    "act_submitted",
]


@pytest.fixture
def fuzz_world(world, make, db):
    """Cycles in every working state (submitted ones by the staff), a published year,
    a token per role."""
    make.schedule(FY, due={"plan": date(FY + 1, 3, 1)})
    for state in STATES:
        submitted = world.org.staff.id if state.endswith("_submitted") else None
        world.cycle(state, submitted_by_id=submitted, goal="目標")
        world.cycle(state, org=world.other, submitted_by_id=None)
    last = make.item(world.org, number="9-1")
    closed = make.cycle(last, fiscal_year=FY - 1, state="closed", goal="公表済み")
    closed.grade = Grade.B
    admin = make.user("kanri", roles=[Role.ADMIN.value])
    db.session.commit()
    publication.publish(db.session, FY - 1, by=world.secretariat, now=datetime.now(UTC))
    now = datetime.now(UTC)
    users = {
        "staff": world.org.staff,
        "head": world.org.head,
        "secretariat": world.secretariat,
        "committee": world.committee,
        "admin": admin,
        "staff_read": world.org.staff,
    }
    tokens = {}
    for role, user in users.items():
        access = "read" if role.endswith("_read") else "write"
        _row, text = create_token(db.session, user, name=role, access=access, days=30, now=now)
        tokens[role] = (user, text, access)
    db.session.commit()
    return tokens


def may_write(user, access: str, kind: str, cycle: Cycle) -> bool:
    """The right to a write, asked of the predicates the pages use."""
    if access != "write" or cycle is None:
        return False
    today = local_date(datetime.now(UTC))
    if kind == "save":
        form = stage.form_of(cycle)
        return bool(form) and stage.can_edit(user, cycle, form, today)
    return any(t.kind == kind for t in permissions.allowed(cycle, user, today))


def fuzz(db, operation, cycle_ids, role, user, text, access, write, counts, statuses):
    """EXAMPLES cases of one operation as one role."""

    @settings(
        max_examples=EXAMPLES,
        phases=[Phase.generate],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), data=st.data())
    def run(case, data):
        params = case.path_parameters or {}
        cycle = None
        if "cycle_id" in params:
            db.session.expire_all()
            # Hypothesis tries the first choice first: the real cycles before generated ids.
            pick = data.draw(st.sampled_from(["actionable", "any", "generated"]))
            if pick == "actionable" and write is not None:
                # Half a chance to reach a success: a cycle this role may write to now.
                able = [
                    c
                    for c in cycle_ids
                    if may_write(user, "write", write, db.session.get(Cycle, c))
                ]
                params["cycle_id"] = data.draw(st.sampled_from(able or cycle_ids))
            elif pick != "generated":
                params["cycle_id"] = data.draw(st.sampled_from(cycle_ids))
            cycle = db.session.get(Cycle, params["cycle_id"])
            if cycle is not None and case.headers is not None and pick != "generated":
                case.headers["If-Match"] = str(cycle.version)
        allowed = write is not None and may_write(user, access, write, cycle)
        before = db.session.scalar(select(func.count(AuditEntry.id)))
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {text}"}, checks=CHECKS
        )
        counts[role] += 1
        statuses[response.status_code] += 1
        if write is not None and response.status_code < 300:
            counts[f"{write} by {role}"] += 1
            assert allowed, f"{role} succeeded at {case.method} {case.formatted_path}"
            db.session.expire_all()
            entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
            assert entry.actor_id == user.id
            assert db.session.scalar(select(func.count(AuditEntry.id))) > before

    run()


def test_the_api_conforms_to_its_schema_and_refuses_writes_without_the_right(app, db, fuzz_world):
    started = time.monotonic()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    cycle_ids = list(db.session.scalars(select(Cycle.id).order_by(Cycle.id)))
    counts: Counter = Counter()
    statuses: Counter = Counter()

    for operation in operations:
        write = next((k for p, k in WRITES.items() if operation.path.endswith("/" + p)), None)
        for role, (user, text, access) in fuzz_world.items():
            if operation.method.upper() == "GET" and role == "staff_read":
                continue  # reads are the same as the staff's
            fuzz(db, operation, cycle_ids, role, user, text, access, write, counts, statuses)

    db.session.rollback()
    assert not audit.verify(db.session)
    elapsed = time.monotonic() - started
    cases = sum(v for k, v in counts.items() if " by " not in k)
    print(  # the figures, for `pytest tests/api/test_schemathesis.py -s`
        f"\nschemathesis: {cases} cases in {elapsed:.1f} s on"
        f" {db.engine.dialect.name}, {len(operations)} operations; {dict(counts)};"
        f" statuses: {dict(sorted(statuses.items()))}"
    )
    assert statuses[200] > 0
