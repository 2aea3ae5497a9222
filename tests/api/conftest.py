"""Fixtures of the API tests: a department with items, and tokens made as under settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from app.tokens import service as tokens
from tests.web.conftest import (
    FY,  # noqa: F401 (the tests import it from here)
    english_catalogue,  # noqa: F401 (the session fixture)
)
from tests.web.conftest import World as PageWorld
from tests.web.conftest import world as page_world  # noqa: F401 (the fixture it extends)


@dataclass
class World(PageWorld):
    """The pages' world (two departments, a committee member) with a secretariat user."""

    secretariat: object = None


@pytest.fixture
def world(page_world, make, db) -> World:  # noqa: F811
    secretariat = make.user("jimu", roles=["secretariat"])
    db.session.commit()
    return World(page_world.org, page_world.other, page_world.committee, page_world.make,
                 secretariat)  # fmt: skip


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
