"""TRUSTED_PROXIES: the client's address comes from X-Forwarded-For only behind a proxy."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import LoginFailure


def _failed_login_from(client, db, forwarded_for: str) -> str:
    client.post(
        "/login",
        data={"login": "nobody", "password": "wrong"},
        headers={"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https"},
    )
    return db.session.scalars(select(LoginFailure.remote_addr)).one()


@pytest.mark.parametrize("app_overrides", [{"TRUSTED_PROXIES": 1}])
def test_behind_one_proxy_the_address_it_adds_is_the_clients(client, db, app_overrides):
    # The client claimed 1.2.3.4; nginx appended the address it saw, 10.20.0.7.
    assert _failed_login_from(client, db, "1.2.3.4, 10.20.0.7") == "10.20.0.7"


def test_without_trusted_proxies_the_header_is_ignored(client, db):
    assert _failed_login_from(client, db, "10.20.0.7") == "127.0.0.1"
