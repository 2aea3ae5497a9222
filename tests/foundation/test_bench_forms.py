"""The load test's simulated staff (bench/forms.py) type what the application accepts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import g

from app.calendar import local_date
from app.demo import DEMO_PASSWORD, load_demo
from bench.forms import ITEM_LINK, filled_in, forms_of, stage_forms
from bench.load import people_of
from tests.conftest import Client


class Browser(Client):
    """One person's browser: the CSRF token Flask-WTF keeps in the shared `g` is theirs."""

    def open(self, *args, **kwargs):
        g.pop("csrf_token", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def app_overrides() -> dict:
    return {"WTF_CSRF_ENABLED": True}  # the forms as a browser gets them, token included


def test_what_the_simulated_staff_save_and_submit_is_accepted(app, db):
    """Every stage form the demo offers a member of staff today (from My tasks, and on the
    items of their section, as the bench's staff open them), filled in as the bench fills
    it, is accepted when saved and when submitted: a bench whose submissions fail measures
    no decisions."""
    load_demo(db.session, today=local_date(datetime.now(UTC)))
    db.session.commit()
    # The staff, their items and the fiscal year as the bench reads them.
    plan = people_of(db.session.connection())
    answers = []
    for login, items in sorted(plan["own_items"].items()):
        client = Browser(app, app.response_class, use_cookies=True)
        sign_in = forms_of(client.get("/login").get_data(as_text=True))[""]
        sign_in.update(login=login, password=DEMO_PASSWORD)
        assert client.post("/login", data=sign_in).status_code == 302
        home = client.get("/").get_data(as_text=True)
        pages = [link[0] for link in ITEM_LINK.findall(home)] + [f"/items/{i}" for i in items]
        for path in pages:
            for action in sorted(stage_forms(client.get(path).get_data(as_text=True))):
                for submitting in (False, True):
                    # The page as it is now: a submission moves the cycle on.
                    page = client.get(path).get_data(as_text=True)
                    if action not in stage_forms(page):
                        break
                    fields = filled_in(page, action, submitting, plan["fy"])
                    fields["action"] = "submit" if submitting else "save"
                    response = client.post(action, data=fields)
                    answers.append((login, action, fields["action"], response.status_code))
    assert {a[2] for a in answers} == {"save", "submit"}, "no stage form to fill in"
    assert [a for a in answers if a[3] != 302] == []
