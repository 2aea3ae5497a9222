"""Every page refuses who may not use it: anonymous, other departments, the committee."""

from __future__ import annotations

import pytest

from .conftest import FY


@pytest.fixture
def urls(world, db):
    draft = world.cycle("plan_draft")
    submitted = world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    db.session.commit()
    return {
        "draft": draft,
        "submitted": submitted,
        "edit": f"/items/{draft.item_id}/cycles/{FY}/plan",
        "decide": f"/cycles/{submitted.id}/decide",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/inbox",
        "/plan",
        "/substitutes/",
        "/items/1",
        "/items/1/cycles/2026/plan",
        "/cycles/1/decide",
        "/links/x",
    ],
)
def test_anonymous_is_sent_to_the_login(client, world, urls, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_staff_of_another_department_cannot_edit(client, world, urls, login_as):
    login_as(world.other.staff)
    assert client.get(urls["edit"]).status_code == 403
    response = client.post(urls["edit"], data={"goal": "乗っ取り", "action": "save"})
    assert response.status_code == 403
    assert urls["draft"].goal == ""


def test_the_owning_staff_can_edit(client, world, urls, login_as):
    login_as(world.org.staff)
    response = client.get(urls["edit"])
    assert response.status_code == 200
    assert "今年度の目標" in response.get_data(as_text=True)


def test_a_form_of_another_stage_says_the_item_moved_on(client, world, urls, login_as):
    login_as(world.org.staff)
    path = f"/items/{urls['draft'].item_id}/cycles/{FY}/check"
    response = client.get(path)
    assert response.status_code == 409
    assert "計画作成中" in response.get_data(as_text=True)


def test_head_opening_a_decision_already_taken_is_told_so(client, world, urls, login_as):
    login_as(world.org.head)
    response = client.get(f"/cycles/{urls['draft'].id}/decide")
    assert response.status_code == 409
    assert "あなたの操作を待っていません" in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["committee", "other_head", "other_staff"])
def test_only_the_head_decides(client, world, urls, login_as, who, db):
    user = {
        "committee": world.committee,
        "other_head": world.other.head,
        "other_staff": world.other.staff,
    }[who]
    login_as(user)
    assert client.get(urls["decide"]).status_code == 403
    response = client.post(
        urls["decide"],
        data={"trigger": "approve_plan", "expected_version": urls["submitted"].version},
    )
    assert response.status_code == 403
    db.session.refresh(urls["submitted"])
    assert urls["submitted"].state == "plan_submitted"


def test_substitutes_page_is_for_heads_only(client, world, login_as):
    login_as(world.org.staff)
    assert client.get("/substitutes/").status_code == 403
    client.post("/logout")
    login_as(world.org.head)
    assert client.get("/substitutes/").status_code == 200


def test_error_pages_are_in_japanese(client, world, login_as):
    login_as(world.org.staff)
    response = client.get("/items/999999")
    assert response.status_code == 404
    assert "ページが見つかりません" in response.get_data(as_text=True)
