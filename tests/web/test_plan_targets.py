"""The plan form sets targets from its own year on; past and locked years keep theirs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from .conftest import FY


def post_plan(client, cycle, targets: dict[int, str]):
    indicator = cycle.item.indicators[0]
    data = {"action": "save", "goal": "目標", f"ind-{indicator.id}-name": indicator.name}
    data.update({f"ind-{indicator.id}-target-{fy}": v for fy, v in targets.items()})
    return client.post(f"/items/{cycle.item_id}/cycles/{cycle.fiscal_year}/plan", data=data)


def test_past_years_targets_are_shown_read_only_and_not_rewritten(client, world, login_as, db):
    cycle = world.cycle("plan_draft")
    indicator = cycle.item.indicators[0]
    db.session.commit()
    login_as(world.org.staff)
    page = client.get(f"/items/{cycle.item_id}/cycles/{FY}/plan").get_data(as_text=True)
    past = re.search(rf'<input id="ind-{indicator.id}-target-{FY - 1}"[^>]*>', page).group(0)
    this = re.search(rf'<input id="ind-{indicator.id}-target-{FY}"[^>]*>', page).group(0)
    assert "readonly" in past and "readonly" not in this

    response = post_plan(client, cycle, {FY - 1: "999999", FY: "120"})
    assert response.status_code == 302
    db.session.expire_all()
    assert indicator.value_for(FY - 1).target == Decimal(100)
    assert indicator.value_for(FY).target == Decimal(120)


def test_a_locked_later_years_target_is_not_rewritten(client, world, login_as, db, make):
    item = world.make.item(world.org, targets={fy: 100 for fy in range(2022, FY + 1)})
    cycle = make.cycle(item, fiscal_year=FY - 1, state="plan_draft")
    make.schedule(FY, locked_at=datetime.now(UTC))
    indicator = item.indicators[0]
    db.session.commit()
    login_as(world.org.staff)
    response = post_plan(client, cycle, {FY - 1: "130", FY: "999999"})
    assert response.status_code == 302
    db.session.expire_all()
    assert indicator.value_for(FY - 1).target == Decimal(130)
    assert indicator.value_for(FY).target == Decimal(100)
