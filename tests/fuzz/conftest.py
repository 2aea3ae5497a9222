"""The demo every fuzzing test starts from, with a form of every kind on its pages."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.calendar import fiscal_year_of
from app.demo import load_demo
from app.models import User

# Signed in as each of these, in this order (the administrator last: it changes users).
ROLES = ["staff_digital", "head_kikaku", "chief_kikaku", "iin_sato", "jimukyoku", "admin"]


@pytest.fixture
def demo(app, db):
    from app.calendar import local_date
    from workflows.deadlines import schedule_for

    app.fuzz_started = time.monotonic()
    today = local_date(datetime.now(UTC))
    load_demo(db.session, today=today)
    # Keep last year's questions open, so the committee's question form is on its pages,
    # and leave an opinion and a question unanswered, so the reply forms are too.
    schedule_for(db.session, fiscal_year_of(today) - 1).committee_from = None
    from app.committee import service

    member = db.session.scalar(select(User).where(User.login == "iin_sato"))
    staff = db.session.scalar(select(User).where(User.login == "staff_digital"))
    confirmed = [
        cycle
        for cycle, _opinions, _questions in service.reviewable(
            db.session, fiscal_year_of(today) - 1
        )
        if service.can_reply(staff, cycle, today)
    ]
    now = datetime.now(UTC)
    service.add_opinion(db.session, confirmed[0], by=member, now=now, body="指標の見直しを")
    service.ask(db.session, confirmed[0], by=member, now=now, question="効果額の根拠は")
    # A token for every role, so that the settings page shows its revoke form too.
    from app.tokens.service import create_token

    for login in ROLES:
        user = db.session.scalar(select(User).where(User.login == login))
        create_token(db.session, user, name="fuzz", access="read", days=30, now=now)
    db.session.commit()
    return app
