"""Fixtures of the page tests: one department with an item in each interesting state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from app.calendar import fiscal_year_of
from tests.factories import Org

from .catalogue import ensure_compiled

FY = fiscal_year_of(datetime.now(UTC))


@pytest.fixture(scope="session", autouse=True)
def english_catalogue():
    ensure_compiled()


@dataclass
class World:
    org: Org
    other: Org
    committee: object
    make: object

    def cycle(self, state: str = "plan_draft", org: Org | None = None, **fields):
        item = self.make.item(org or self.org, targets={fy: 100 for fy in range(2022, FY + 1)})
        return self.make.cycle(item, fiscal_year=FY, state=state, **fields)


@pytest.fixture
def world(make, db) -> World:
    make.plan(start_fy=2022, end_fy=max(FY, 2026))
    org = make.org("企画")
    other = make.org("市民")
    committee = make.user("iin", roles=["committee"])
    db.session.commit()
    return World(org, other, committee, make)
