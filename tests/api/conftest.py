"""Fixtures of the API tests: a department with items, and tokens made as under settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from app.calendar import fiscal_year_of
from app.tokens import service as tokens
from tests.factories import Org
from tests.web.catalogue import ensure_compiled

FY = fiscal_year_of(datetime.now(UTC))


@pytest.fixture(scope="session", autouse=True)
def english_catalogue():
    ensure_compiled()


@dataclass
class World:
    org: Org
    other: Org
    committee: object
    secretariat: object
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
    secretariat = make.user("jimu", roles=["secretariat"])
    db.session.commit()
    return World(org, other, committee, secretariat, make)


@pytest.fixture
def token(db):
    """A token for `user` (write access unless `access="read"`), as the settings page
    makes it; the token's text."""

    def make_token(user, access: str = "write", days: int = 90) -> str:
        _row, text = tokens.create_token(
            db.session, user, name="test", access=access, days=days, now=datetime.now(UTC)
        )
        db.session.commit()
        return text

    return make_token


class Api:
    """The test client speaking to /api/v1 with a bearer token."""

    def __init__(self, client, text: str | None, language: str = "ja"):
        self.client, self.text, self.language = client, text, language

    def headers(self, extra: dict | None = None) -> dict:
        out = {"Accept-Language": self.language}
        if self.text:
            out["Authorization"] = f"Bearer {self.text}"
        return {**out, **(extra or {})}

    def get(self, path: str, headers: dict | None = None, **kwargs):
        return self.client.get("/api/v1" + path, headers=self.headers(headers), **kwargs)

    def post(self, path: str, json=None, headers: dict | None = None, **kwargs):
        return self.client.post(
            "/api/v1" + path, json=json or {}, headers=self.headers(headers), **kwargs
        )

    def patch(self, path: str, json=None, headers: dict | None = None, **kwargs):
        return self.client.patch(
            "/api/v1" + path, json=json or {}, headers=self.headers(headers), **kwargs
        )


@pytest.fixture
def api(client, token):
    """`api(user)`: a client acting with a fresh token of `user`."""

    def as_user(user, access: str = "write", language: str = "ja") -> Api:
        return Api(client, token(user, access), language)

    return as_user
