"""Writes through the engine: If-Match (428/412), 409, 403, 422 problems in ja and en,
the audit log, the same checks as the pages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import AuditEntry


def submitted(world, db, state="plan_submitted"):
    cycle = world.cycle(state, submitted_by_id=world.org.staff.id)
    db.session.commit()
    return cycle


def test_the_head_approves_with_the_version_and_it_is_audited(world, api, db):
    cycle = submitted(world, db)
    version = cycle.version
    response = api(world.org.head).post(
        f"/cycles/{cycle.id}/approve",
        json={"comment": "承認します"},
        headers={"If-Match": f'"{version}"'},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["state"]["code"] == "doing" and body["version"] == version + 1
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "approve_plan"))
    assert entry.actor_id == world.org.head.id and entry.comment == "承認します"


def test_the_etag_of_a_get_works_as_if_match(world, api, db):
    cycle = submitted(world, db)
    head = api(world.org.head)
    tag = head.get(f"/cycles/{cycle.id}").headers["ETag"]
    assert head.post(f"/cycles/{cycle.id}/approve", headers={"If-Match": tag}).status_code == 200


def test_without_if_match_428_and_with_a_stale_version_412(world, api, db):
    cycle = submitted(world, db)
    head = api(world.org.head)
    missing = head.post(f"/cycles/{cycle.id}/approve")
    assert missing.status_code == 428 and missing.mimetype == "application/problem+json"
    stale = head.post(f"/cycles/{cycle.id}/approve", headers={"If-Match": str(cycle.version - 1)})
    assert stale.status_code == 412
    assert stale.headers["ETag"] == f'"{cycle.version}"'
    db.session.refresh(cycle)
    assert cycle.state == "plan_submitted"


def test_the_second_decision_is_a_409_conflict(world, api, db):
    cycle = submitted(world, db)
    version = cycle.version
    head = api(world.org.head)
    assert (
        head.post(f"/cycles/{cycle.id}/approve", headers={"If-Match": str(version)}).status_code
        == 200
    )
    # The other decider read the same version: now the state does not allow it.
    again = head.post(
        f"/cycles/{cycle.id}/send-back",
        json={"reason": "遅い"},
        headers={"If-Match": str(version + 1)},
    )
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    assert again.get_json()["code"] == "invalid_transition"


def test_a_concurrent_change_inside_the_engine_is_a_409(world, api, db, monkeypatch):
    from workflows import errors, operations

    cycle = submitted(world, db)

    def someone_first(*args, **kwargs):
        raise errors.ConflictError()

    monkeypatch.setattr(operations, "approve", someone_first)
    response = api(world.org.head).post(
        f"/cycles/{cycle.id}/approve", headers={"If-Match": str(cycle.version)}
    )
    assert response.status_code == 409 and response.get_json()["code"] == "conflict"
    assert "先に判断" in response.get_json()["messages"]["ja"]["detail"]


def test_send_back_without_a_reason_is_a_422_in_japanese_and_english(world, api, db):
    cycle = submitted(world, db)
    response = api(world.org.head, language="en").post(
        f"/cycles/{cycle.id}/send-back", json={"reason": " "}, headers={"If-Match": "1"}
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["errors"][0]["field"] == "reason"
    assert body["errors"][0]["messages"]["ja"] == "理由を入力してください。"
    assert body["errors"][0]["messages"]["en"] != "理由を入力してください。"
    assert body["detail"] == body["messages"]["en"]["detail"]
    assert body["messages"]["ja"]["title"] == "入力内容に誤りがあります。"
    assert response.headers["Content-Language"] == "en"
    db.session.refresh(cycle)
    assert cycle.state == "plan_submitted"
    sent = api(world.org.head).post(
        f"/cycles/{cycle.id}/send-back",
        json={"reason": "目標値の根拠を追記してください"},
        headers={"If-Match": "1"},
    )
    assert sent.status_code == 200 and sent.get_json()["state"]["code"] == "plan_draft"


def test_without_the_right_403_and_nothing_changes(world, api, db, make):
    cycle = submitted(world, db)
    for user in (world.org.staff, world.other.head, world.committee):
        response = api(user).post(
            f"/cycles/{cycle.id}/approve", headers={"If-Match": str(cycle.version)}
        )
        assert response.status_code == 403, user.login
    db.session.refresh(cycle)
    assert cycle.state == "plan_submitted"


def test_staff_save_a_draft_and_submit_it_the_head_decides(world, api, db):
    cycle = world.cycle("plan_draft")
    db.session.commit()
    indicator = cycle.item.indicators[0]
    staff = api(world.org.staff)
    body = {
        "goal": "申請の8割をオンラインに",
        "schedule_q1": "対象手続の洗い出し",
        "indicators": [
            {"id": indicator.id, "targets": [{"fiscal_year": cycle.fiscal_year, "target": 150}]}
        ],
    }
    saved = staff.patch(f"/cycles/{cycle.id}/draft", json=body, headers={"If-Match": "1"})
    assert saved.status_code == 200, saved.get_json()
    after = saved.get_json()
    assert after["plan"]["goal"] == "申請の8割をオンラインに"
    assert after["check"]["actuals"][0]["target"] == 150
    assert after["version"] == 2  # a save moves the version
    # The old version is stale now.
    stale = staff.patch(f"/cycles/{cycle.id}/draft", json={"goal": "x"}, headers={"If-Match": "1"})
    assert stale.status_code == 412
    submitted = staff.post(f"/cycles/{cycle.id}/submit", headers={"If-Match": "2"})
    assert submitted.status_code == 200, submitted.get_json()
    assert submitted.get_json()["state"]["code"] == "plan_submitted"
    actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert "save_draft" in actions and "submit_plan" in actions
    # Withdraw before the decision.
    withdrawn = staff.post(
        f"/cycles/{cycle.id}/withdraw", headers={"If-Match": str(submitted.get_json()["version"])}
    )
    assert withdrawn.status_code == 200 and withdrawn.get_json()["state"]["code"] == "plan_draft"


def test_a_draft_with_a_wrong_value_is_refused_by_the_page_rules(world, api, db):
    cycle = world.cycle("check_draft")
    db.session.commit()
    indicator = cycle.item.indicators[0]
    refused = api(world.org.staff).patch(
        f"/cycles/{cycle.id}/draft",
        json={"actuals": [{"indicator_id": indicator.id, "actual": "1e400"}], "grade": "A"},
        headers={"If-Match": "1"},
    )
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"
    # A field of another stage's form.
    other = api(world.org.staff).patch(
        f"/cycles/{cycle.id}/draft", json={"goal": "x"}, headers={"If-Match": "1"}
    )
    assert other.status_code == 422 and other.get_json()["errors"][0]["field"] == "goal"
    db.session.refresh(cycle)
    assert cycle.grade is None and cycle.version == 1


def test_the_finance_system_writes_the_effect_amount(world, api, db):
    cycle = world.cycle("check_draft")
    db.session.commit()
    saved = api(world.org.staff).patch(
        f"/cycles/{cycle.id}/draft", json={"effect_amount": 1200000}, headers={"If-Match": "1"}
    )
    assert saved.status_code == 200
    assert saved.get_json()["check"]["effect_amount"] == 1200000
    assert saved.get_json()["check"]["effect_kind"] is None  # 未分類 until it is stated
    data = {"effect_kind": "saving", "effect_basis": "郵送料の削減", "achievements": "80手続"}
    saved = api(world.org.staff).patch(
        f"/cycles/{cycle.id}/draft", json=data, headers={"If-Match": saved.headers["ETag"]}
    )
    assert saved.status_code == 200, saved.get_json()
    check = saved.get_json()["check"]
    assert (check["effect_kind"], check["effect_basis"], check["achievements"]) == (
        "saving",
        "郵送料の削減",
        "80手続",
    )


def test_submitting_an_incomplete_plan_is_a_422_with_the_fields(world, api, db):
    cycle = world.cycle("plan_draft")
    db.session.commit()
    refused = api(world.org.staff).post(f"/cycles/{cycle.id}/submit", headers={"If-Match": "1"})
    assert refused.status_code == 422
    fields = {e["field"] for e in refused.get_json()["errors"]}
    assert "goal" in fields
    db.session.refresh(cycle)
    assert cycle.state == "plan_draft"


def test_the_head_cannot_edit_the_staff_draft(world, api, db):
    cycle = world.cycle("plan_draft")
    db.session.commit()
    response = api(world.other.staff).patch(
        f"/cycles/{cycle.id}/draft", json={"goal": "x"}, headers={"If-Match": "1"}
    )
    assert response.status_code == 403


def test_a_body_of_the_wrong_shape_is_a_422_naming_the_field_in_both_languages(world, api, db):
    cycle = world.cycle("check_draft")
    db.session.commit()
    refused = api(world.org.staff).patch(
        f"/cycles/{cycle.id}/draft", json={"effect_amount": "たくさん"}, headers={"If-Match": "1"}
    )
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    error = refused.get_json()["errors"][0]
    assert error["field"] == "effect_amount"
    assert error["messages"] == {"ja": "値の型が正しくありません。", "en": "Not a valid integer."}


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_the_api_needs_no_csrf_token_its_bearer_token_is_enough(world, api, db, app_overrides):
    cycle = submitted(world, db)
    response = api(world.org.head).post(
        f"/cycles/{cycle.id}/approve", headers={"If-Match": str(cycle.version)}
    )
    assert response.status_code == 200
