"""Stage forms: drafts are saved, wrong input is explained in Japanese and kept."""

from __future__ import annotations

from decimal import Decimal

from app.models import AuditEntry

from .conftest import FY


def plan_url(cycle, form="plan"):
    return f"/items/{cycle.item_id}/cycles/{cycle.fiscal_year}/{form}"


def test_plan_draft_is_saved_and_recorded(client, world, login_as, db):
    cycle = world.cycle("plan_draft")
    indicator = cycle.item.indicators[0]
    db.session.commit()
    login_as(world.org.staff)
    response = client.post(
        plan_url(cycle),
        data={
            "action": "save",
            "goal": "申請の半分をオンラインにする",
            "schedule_q1": "対象手続の洗い出し",
            f"ind-{indicator.id}-name": indicator.name,
            f"ind-{indicator.id}-target-{FY}": "１２０",
        },
    )
    assert response.status_code == 302
    db.session.refresh(cycle)
    assert cycle.goal == "申請の半分をオンラインにする"
    assert indicator.value_for(FY).target == Decimal(120)
    assert cycle.state == "plan_draft"
    actions = [e.action for e in db.session.scalars(db.select(AuditEntry))]
    assert "save_draft" in actions


def test_wrong_numbers_are_explained_and_nothing_typed_is_lost(client, world, login_as, db):
    cycle = world.cycle("plan_draft")
    indicator = cycle.item.indicators[0]
    db.session.commit()
    login_as(world.org.staff)
    response = client.post(
        plan_url(cycle),
        data={
            "action": "save",
            "goal": "長い目標の文章",
            "schedule_q2": "システム改修",
            f"ind-{indicator.id}-name": indicator.name,
            f"ind-{indicator.id}-target-{FY}": "たくさん",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "の目標値は数値で入力してください。" in page and indicator.name in page
    assert "長い目標の文章" in page and "システム改修" in page and 'value="たくさん"' in page
    assert 'aria-invalid="true"' in page and 'id="error-summary"' in page
    db.session.refresh(cycle)
    assert cycle.goal == ""


def test_submitting_without_a_goal_is_refused(client, world, login_as, db):
    cycle = world.cycle("plan_draft")
    db.session.commit()
    login_as(world.org.staff)
    response = client.post(plan_url(cycle), data={"action": "submit", "goal": ""})
    assert response.status_code == 422
    assert "今年度の目標を入力してください。" in response.get_data(as_text=True)
    db.session.refresh(cycle)
    assert cycle.state == "plan_draft"


def test_submitting_the_plan_moves_it_to_the_head(client, world, login_as, db):
    cycle = world.cycle("plan_draft")
    indicator = cycle.item.indicators[0]
    db.session.commit()
    login_as(world.org.staff)
    response = client.post(
        plan_url(cycle),
        data={
            "action": "submit",
            "goal": "目標",
            "schedule_q1": "準備",
            f"ind-{indicator.id}-name": indicator.name,
            f"ind-{indicator.id}-target-{FY}": "100",
        },
    )
    assert response.status_code == 302
    db.session.refresh(cycle)
    assert cycle.state == "plan_submitted"
    assert cycle.submitted_by_id == world.org.staff.id


def test_a_new_indicator_can_be_added(client, world, login_as, db):
    cycle = world.cycle("plan_draft")
    existing = cycle.item.indicators[0]
    db.session.commit()
    login_as(world.org.staff)
    client.post(
        plan_url(cycle),
        data={
            "action": "save",
            f"ind-{existing.id}-name": existing.name,
            "ind-new-name": "窓口待ち時間",
            "ind-new-unit": "分",
            "ind-new-baseline": "30",
            "ind-new-baseline_fy": "2021",
            f"ind-new-target-{FY}": "15",
        },
    )
    names = [i.name for i in cycle.item.indicators]
    assert "窓口待ち時間" in names


def test_midyear_report_then_submission(client, world, login_as, db):
    cycle = world.cycle("doing")
    indicator = cycle.item.indicators[0]
    db.session.commit()
    login_as(world.org.staff)
    url = plan_url(cycle, "report")
    response = client.post(
        url, data={"action": "submit", "kind": "midyear", "as_of": "", "body": "順調"}
    )
    assert response.status_code == 422
    assert "時点を入力してください。" in response.get_data(as_text=True)
    response = client.post(
        url,
        data={
            "action": "submit",
            "kind": "midyear",
            "as_of": f"{FY}-09-30",
            "body": "順調",
            f"value-{indicator.id}": "55",
        },
    )
    assert response.status_code == 302
    db.session.refresh(cycle)
    assert cycle.state == "midyear_submitted"
    assert [r.kind for r in cycle.reports] == ["midyear"]


def test_check_requires_grade_and_shows_the_definitions(client, world, login_as, db):
    cycle = world.cycle("check_draft")
    indicator = cycle.item.indicators[0]
    db.session.commit()
    login_as(world.org.staff)
    url = plan_url(cycle, "check")
    page = client.get(url).get_data(as_text=True)
    assert "目標をおおむね達成した" in page
    response = client.post(
        url,
        data={
            "action": "submit",
            "analysis": "分析",
            f"actual-{indicator.id}": "90",
            "effect_amount": "12.5",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "達成度を選んでください。" in page and "効果額は整数で入力してください。" in page
    assert "取組実績を入力してください。" in page
    assert 'value="90"' in page
    # An amount without its kind and basis is refused, and nothing is saved.
    data = {
        "action": "submit",
        "achievements": "電子申請の対象を80手続に広げた",
        "analysis": "分析",
        "grade": "B",
        "progress_status": "done",
        "effect_amount": "1,200,000",
        f"actual-{indicator.id}": "90",
    }
    response = client.post(url, data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "その種類（歳入確保・歳出削減・その他）を選んでください。" in page
    assert "効果額を入力したときは、その算定根拠を入力してください。" in page
    db.session.refresh(cycle)
    assert cycle.effect_amount is None and cycle.achievements == ""
    data.update(effect_kind="saving", effect_basis="郵送料 年1,200,000円の削減")
    response = client.post(url, data=data)
    assert response.status_code == 302
    db.session.refresh(cycle)
    assert cycle.state == "check_submitted" and cycle.effect_amount == 1200000
    assert cycle.effect_kind.value == "saving"
    assert cycle.effect_basis == "郵送料 年1,200,000円の削減"
    assert cycle.achievements == "電子申請の対象を80手続に広げた"


def test_act_direction_is_saved(client, world, login_as, db):
    cycle = world.cycle("act_draft")
    db.session.commit()
    login_as(world.org.staff)
    url = plan_url(cycle, "act")
    response = client.post(
        url, data={"action": "save", "improvement": "対象を拡大", "direction": "nonsense"}
    )
    assert "今後の方向性の選択肢が正しくありません。" in response.get_data(as_text=True)
    client.post(url, data={"action": "save", "improvement": "対象を拡大", "direction": "expand"})
    db.session.refresh(cycle)
    assert cycle.direction.value == "expand" and cycle.improvement == "対象を拡大"


def test_a_draft_saved_by_someone_else_meanwhile_keeps_what_was_typed(client, world, login_as, db):
    cycle = world.cycle("act_draft")
    db.session.commit()
    opened_version = cycle.version
    login_as(world.org.staff)
    url = plan_url(cycle, "act")
    client.post(
        url,
        data={
            "action": "save",
            "improvement": "先に保存した内容",
            "expected_version": opened_version,
        },
    )
    later_save_is_refused_keeping_what_was_typed(client, cycle, opened_version)
    db.session.refresh(cycle)
    assert cycle.improvement == "先に保存した内容"


def later_save_is_refused_keeping_what_was_typed(client, cycle, opened_version: int) -> None:
    """A save made from a page opened at `opened_version`: the 409 page, with the text."""
    page = refused_later_save(client, cycle, opened_version)
    assert "別の人が保存しました" in page and "後から書いた内容" in page


def refused_later_save(client, cycle, opened_version: int) -> str:
    """The page answering a save made from a page opened at `opened_version` (a 409)."""
    response = client.post(
        plan_url(cycle, "act"),
        data={
            "action": "save",
            "improvement": "後から書いた内容",
            "expected_version": opened_version,
        },
    )
    assert response.status_code == 409
    return response.get_data(as_text=True)


def test_the_item_page_carries_the_current_stage_form_for_its_staff(client, world, login_as, db):
    cycle = world.cycle("plan_draft")
    cycle.goal = "保存済みの目標"
    db.session.commit()
    login_as(world.org.staff)
    page = client.get(f"/items/{cycle.item.id}").get_data(as_text=True)
    assert 'id="h-form"' in page and "保存済みの目標" in page
    assert f'action="{plan_url(cycle)}"' in page
    client.post("/logout")
    login_as(world.org.head)
    assert 'id="h-form"' not in client.get(f"/items/{cycle.item.id}").get_data(as_text=True)


def test_a_draft_saved_by_someone_else_during_the_save_is_a_conflict_not_an_error(
    client, world, login_as, db, monkeypatch
):
    """Two people press 保存 at the same moment: both pass the version check, the second
    one's write finds the version moved. It gets the conflict page, never a server error."""
    from sqlalchemy import text

    from app.items import service

    cycle = world.cycle("act_draft", improvement="もとの内容")
    db.session.commit()
    opened_version = cycle.version
    saver = service.SAVERS["act"]

    def saved_by_someone_else_meanwhile(session, cycle, *args, **kwargs):
        session.execute(
            text("UPDATE cycle SET version = version + 1 WHERE id = :id"), {"id": cycle.id}
        )
        return saver(session, cycle, *args, **kwargs)

    monkeypatch.setitem(service.SAVERS, "act", saved_by_someone_else_meanwhile)
    login_as(world.org.staff)
    later_save_is_refused_keeping_what_was_typed(client, cycle, opened_version)
    db.session.expire_all()
    assert db.session.get(type(cycle), cycle.id).improvement == "もとの内容"


def test_a_draft_submitted_by_someone_else_during_the_save_says_it_moved_on(
    client, world, login_as, db, monkeypatch
):
    """The other write was a submission: the draft is no longer editable, and the page says
    where the item is now instead of offering the form again."""
    from sqlalchemy import text
    from sqlalchemy.orm.attributes import set_committed_value

    from app.items import service

    cycle = world.cycle("act_draft", improvement="もとの内容")
    db.session.commit()
    opened_version = cycle.version
    saver = service.SAVERS["act"]

    def submitted_by_someone_else_meanwhile(session, cycle, *args, **kwargs):
        read = {"version": cycle.version, "state": cycle.state}
        session.execute(
            text("UPDATE cycle SET version = version + 1, state = 'act_submitted' WHERE id = :id"),
            {"id": cycle.id},
        )
        session.commit()  # the other person's submission, committed
        for key, value in read.items():  # while this request still holds what it read
            set_committed_value(cycle, key, value)
        return saver(session, cycle, *args, **kwargs)

    monkeypatch.setitem(service.SAVERS, "act", submitted_by_someone_else_meanwhile)
    login_as(world.org.staff)
    page = refused_later_save(client, cycle, opened_version)
    assert "あなたの操作を待っていません" in page and "別の人が保存しました" not in page
