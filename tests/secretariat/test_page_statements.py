"""The pages people open most cost the same statements for ten times the items."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from app.extensions import db as _db
from tests.factories import Factory
from tests.secretariat.helpers import bulk_cycles
from tests.statements import statements

PAGES = [
    ("sec", "/secretariat/?fy=2026"),
    ("sec", "/secretariat/items?fy=2026&stuck=1"),
    ("sec", "/secretariat/items?fy=2026&sort=activity"),
    ("sec", "/plan"),
    ("staff", "/"),
    ("head", "/"),
    ("head", "/plan"),
]


def _city(session, per_department: int):
    make = Factory(session)
    plan = make.plan()
    orgs = [make.org(f"部{n}") for n in range(3)]
    users = {"sec": make.user("sec", roles=["secretariat"]), "staff": orgs[0].staff}
    users["head"] = orgs[0].head
    users["orgs"] = orgs
    for n, org in enumerate(orgs):
        for state in ("plan_draft", "plan_submitted", "doing"):
            # The oldest two of each kind first, so that both sizes show the same mix on
            # the lists' first pages.
            for count, day in ((2, 1), (per_department - 2, 10)):
                bulk_cycles(
                    session,
                    org.section.id,
                    count,
                    fiscal_year=2026,
                    state=state,
                    since=datetime(2026, 4, day + n, tzinfo=UTC),
                    plan_id=plan.id,
                    viewpoint_id=plan.outline.viewpoints[n].id,
                )
    session.commit()
    return users


def _costs(client, users) -> dict:
    found = {}
    for who, path in PAGES:
        client.post("/logout")
        client.post("/login", data={"login": users[who].login, "password": "password"})
        client.get(path)  # warm: the definition, templates
        with statements(_db.engine) as seen:
            response = client.get(path)
        assert response.status_code == 200, (who, path)
        found[(who, path)] = len(seen)
    return found


@pytest.fixture
def fresh(app):
    def again():
        _db.session.remove()
        _db.drop_all()
        _db.create_all()

    return again


def test_pages_cost_the_same_statements_for_ten_times_the_items(app, client, fresh):
    small = _costs(client, _city(_db.session, 4))
    fresh()
    large = _costs(client, _city(_db.session, 40))
    assert small == large


def test_the_stuck_list_exports_every_row_streamed(app, client):
    users = _city(_db.session, 40)
    client.post("/login", data={"login": users["sec"].login, "password": "password"})
    response = client.get("/secretariat/items?fy=2026&format=csv")
    assert response.status_code == 200 and response.is_streamed
    text = response.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 1 + 360
    # Who must act: the section's staff for drafts, the head for submissions.
    acting = {(row[2], row[5], row[10]) for row in rows[1:]}
    for org in users["orgs"]:
        name = org.department.name
        assert (name, "計画作成中", org.staff.name) in acting
        assert (name, "計画承認待ち", org.head.name) in acting
    assert len(acting) == 3 * 3
