"""Fixtures of the operations tests: a migrated SQLite file, a private slapd."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade

from app.extensions import db as _db
from tests.conftest import make_app
from tests.factories import Factory

from .helpers import ROOT
from .slapd import directory  # noqa: F401  (a fixture)


@pytest.fixture
def migrated_sqlite(tmp_path):
    """A SQLite file database at the migrations' head with a small organisation."""
    url = f"sqlite:///{tmp_path / 'kaikaku.db'}"
    app = make_app(tmp_path, url)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        make = Factory(_db.session)
        org = make.org("企画")
        make.item(org, number="1-1")
        _db.session.commit()
        logins = {"staff": org.staff.login, "staff_id": org.staff.id}
        _db.engine.dispose()
    return url, logins
