"""The item page shows drafts and the history: only to those who work on or decide the item."""

from __future__ import annotations

import pytest

DRAFT = "未公表の下書き目標XYZ"


def viewer(world, make, who):
    return {
        "staff": lambda: world.org.staff,
        "head": lambda: world.org.head,
        "related staff": lambda: world.other.staff,
        "secretariat": lambda: make.user("jimu", roles=["secretariat"]),
        "committee": lambda: world.committee,
        "other staff": lambda: world.other.staff,
        "other head": lambda: world.other.head,
    }[who]()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("staff", 200),
        ("head", 200),
        ("related staff", 200),
        ("secretariat", 200),
        ("committee", 403),
        ("other staff", 403),
        ("other head", 403),
    ],
)
def test_who_may_read_an_items_draft(client, world, login_as, db, make, who, status):
    cycle = world.cycle("plan_draft", goal=DRAFT)
    if who == "related staff":
        cycle.item.related_sections.append(world.other.section)
    user = viewer(world, make, who)
    db.session.commit()
    login_as(user)
    response = client.get(f"/items/{cycle.item_id}")
    assert response.status_code == status
    assert (DRAFT in response.get_data(as_text=True)) == (status == 200)
