"""Figures given in the mid-year report appear wherever the year's numbers are read."""

from __future__ import annotations

import re

from .conftest import FY


def test_reported_figures_show_on_the_decision_page_item_page_and_check_form(
    client, world, login_as, db
):
    cycle = world.cycle("doing")
    indicator = cycle.item.indicators[0]
    db.session.commit()
    login_as(world.org.staff)
    response = client.post(
        f"/items/{cycle.item_id}/cycles/{FY}/report",
        data={
            "action": "submit",
            "kind": "midyear",
            "as_of": f"{FY}-09-30",
            "body": "上半期は順調",
            f"value-{indicator.id}": "1234.5",
        },
    )
    assert response.status_code == 302
    client.post("/logout")

    login_as(world.org.head)
    decide = client.get(f"/cycles/{cycle.id}/decide").get_data(as_text=True)
    assert "1,234.5" in decide
    assert not re.search(r"実績値\s*—", decide)  # the head no longer reads "no figure"
    item_page = client.get(f"/items/{cycle.item_id}").get_data(as_text=True)
    assert "1,234.5" in item_page
    client.post("/logout")

    cycle.state = "check_draft"
    db.session.commit()
    login_as(world.org.staff)
    form = client.get(f"/items/{cycle.item_id}/cycles/{FY}/check").get_data(as_text=True)
    assert f'id="actual-{indicator.id}-reported">1,234.5' in form
