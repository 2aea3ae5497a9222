"""The committee's review: opinions, replies, questions and the 意見一覧表."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.committee import service
from app.extensions import db as _db
from app.models import AuditEntry, CommitteeOpinion, CommitteeQuestion, Grade
from app.text import ActionError
from tests.secretariat.helpers import at
from workflows import operations

FY = 2024  # results of FY2024 are reviewed in July-August 2025


@pytest.fixture
def setting(make):
    owner, other = make.org("市民"), make.org("建設")
    member = make.user("iin", roles=["committee"], name="推進 委員")
    confirmed = make.cycle(
        make.item(owner, title="窓口のオンライン化"),
        FY,
        "act_draft",
        grade=Grade.B,
        analysis="概ね達成",
    )
    draft = make.cycle(make.item(owner, title="評価中の項目"), FY, "check_draft")
    _db.session.commit()
    return owner, other, member, confirmed, draft


def test_members_record_opinions_and_the_department_replies(db, setting):
    owner, other, member, confirmed, _draft = setting
    opinion = service.add_opinion(
        db.session, confirmed, by=member, now=at(date(2025, 7, 10)), body="指標の見直しを"
    )
    with pytest.raises(ActionError, match="所管部"):
        service.reply(
            db.session, opinion, by=other.staff, now=at(date(2025, 7, 11)), body="対応します"
        )
    service.reply(
        db.session, opinion, by=owner.head, now=at(date(2025, 7, 11)), body="次年度に見直します"
    )
    assert opinion.reply_by_id == owner.head.id
    actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["committee_opinion", "committee_reply"]


def test_only_confirmed_evaluations_take_opinions(db, setting):
    _owner, _other, member, _confirmed, draft = setting
    with pytest.raises(ActionError, match="確認が済んだ"):
        service.add_opinion(db.session, draft, by=member, now=at(date(2025, 7, 10)), body="意見")


def test_questions_close_when_the_committee_meets(db, make, setting):
    _owner, _other, member, confirmed, _draft = setting
    make.schedule(FY)  # committee from 1 July 2025
    service.ask(db.session, confirmed, by=member, now=at(date(2025, 6, 30)), question="根拠は？")
    with pytest.raises(ActionError, match="受付は終了"):
        service.ask(db.session, confirmed, by=member, now=at(date(2025, 7, 1)), question="追加")


def test_pages_opinion_reply_and_export(client, login_as, setting):
    owner, other, member, confirmed, draft = setting
    login_as(member)
    index = client.get(f"/committee/?fy={FY}").get_data(as_text=True)
    assert "窓口のオンライン化" in index and "評価中の項目" not in index
    assert client.get(f"/committee/cycles/{draft.id}").status_code == 404
    response = client.post(
        f"/committee/cycles/{confirmed.id}/opinions",
        data={"body": "市民への周知が必要"},
        follow_redirects=True,
    )
    assert "意見を登録しました" in response.get_data(as_text=True)
    response = client.post(
        f"/committee/cycles/{confirmed.id}/opinions", data={"body": " "}, follow_redirects=True
    )
    assert "意見を入力してください" in response.get_data(as_text=True)
    opinion = _db.session.scalar(select(CommitteeOpinion))
    client.post("/logout")

    login_as(other.staff)
    assert client.get(f"/committee/cycles/{confirmed.id}").status_code == 403
    assert (
        client.post(f"/committee/opinions/{opinion.id}/reply", data={"body": "x"}).status_code
        == 403
    )
    client.post("/logout")

    login_as(owner.staff)
    page = client.get(f"/committee/cycles/{confirmed.id}").get_data(as_text=True)
    assert "市民への周知が必要" in page and "対応を登録する" in page
    client.post(f"/committee/opinions/{opinion.id}/reply", data={"body": "広報紙で周知します"})
    assert client.get(f"/committee/opinions?fy={FY}").status_code == 403
    client.post("/logout")

    login_as(member)
    sheet = client.get(f"/committee/opinions?fy={FY}&format=xlsx")
    rows = list(load_workbook(io.BytesIO(sheet.data)).active.values)
    assert rows[0][0].startswith("意見一覧表")  # the title row, then the header row
    assert rows[1][:3] == ("番号", "改革項目", "所管部")
    assert rows[2][1] == "窓口のオンライン化"
    assert rows[2][6] == "市民への周知が必要" and rows[2][8] == "広報紙で周知します"
    csv = client.get(f"/committee/opinions?fy={FY}&format=csv").data
    assert csv.startswith(b"\xef\xbb\xbf") and "広報紙で周知します".encode() in csv


@pytest.mark.parametrize("department", ["owning", "other"])
def test_staff_cannot_give_opinions_or_ask_and_nothing_is_recorded(
    client, login_as, setting, department
):
    owner, other, _member, confirmed, _draft = setting
    staff = owner.staff if department == "owning" else other.staff
    login_as(staff)
    opinion = client.post(f"/committee/cycles/{confirmed.id}/opinions", data={"body": "x"})
    question = client.post(f"/committee/cycles/{confirmed.id}/questions", data={"question": "x"})
    assert (opinion.status_code, question.status_code) == (403, 403)
    page = client.get(f"/committee/cycles/{confirmed.id}").status_code
    # The owning department reads its evaluation; another department does not see it at all.
    assert page == (200 if department == "owning" else 403)
    for model in (CommitteeOpinion, CommitteeQuestion, AuditEntry):
        assert _db.session.scalar(select(func.count()).select_from(model)) == 0


def test_questions_are_answered_by_the_department_through_the_pages(
    client, login_as, make, setting
):
    owner, _other, member, confirmed, _draft = setting
    make.schedule(FY, committee_from=date(2099, 7, 1))
    _db.session.commit()
    login_as(member)
    client.post(f"/committee/cycles/{confirmed.id}/questions", data={"question": "費用は？"})
    client.post("/logout")
    login_as(owner.head)
    page = client.get(f"/committee/cycles/{confirmed.id}").get_data(as_text=True)
    assert "費用は？" in page and "回答を登録する" in page
    question = _db.session.scalar(select(CommitteeQuestion))
    response = client.post(
        f"/committee/questions/{question.id}/answer",
        data={"body": "年間120万円です"},
        follow_redirects=True,
    )
    assert "回答を登録しました" in response.get_data(as_text=True)
    assert question.answered_by_id == owner.head.id and question.answer == "年間120万円です"


def test_the_review_list_exports(client, login_as, setting):
    _owner, _other, member, _confirmed, _draft = setting
    login_as(member)
    csv = client.get(f"/committee/?fy={FY}&format=csv").data.decode("utf-8-sig")
    assert csv.split("\r\n")[1].split(",")[1:4] == ["窓口のオンライン化", "市民部", "B 概ね達成"]


def _stopped(make, owner, jimu, title: str, *, confirm: bool, reopen: bool = False, how="abolish"):
    """A cycle with a grade, taken by the secretariat through the engine and then stopped."""
    cycle = make.cycle(
        make.item(owner, title=title),
        FY,
        "check_confirming",
        grade=Grade.D,
        analysis=f"{title}の自己評価",
    )
    now = at(date(2025, 5, 20))
    if confirm:
        operations.fire(cycle, "confirm_check", by=jimu, now=now)
        if reopen:
            operations.fire(cycle, "reopen", by=jimu, now=now, comment="評価の見直し")
    operations.fire(cycle, how, by=jimu, now=now, comment="事業の終了")
    return cycle


def test_only_evaluations_confirmed_before_a_cycle_stopped_reach_the_committee(
    client, login_as, make, setting
):
    owner, _other, member, confirmed, _draft = setting
    jimu = make.user("jimu", roles=["secretariat"])
    unconfirmed = _stopped(make, owner, jimu, "未確認で廃止", confirm=False)
    undone = _stopped(make, owner, jimu, "確認後に差戻して廃止", confirm=True, reopen=True)
    abolished = _stopped(make, owner, jimu, "確認後に廃止", confirm=True)
    suspended = _stopped(make, owner, jimu, "確認後に休止", confirm=True, how="suspend")
    _db.session.commit()
    assert unconfirmed.grade is not None and unconfirmed.state == "abolished"

    login_as(member)
    index = client.get(f"/committee/?fy={FY}").get_data(as_text=True)
    assert "未確認で廃止" not in index and "確認後に差戻して廃止" not in index
    assert "確認後に廃止" in index and "確認後に休止" in index and "窓口のオンライン化" in index
    for cycle in (unconfirmed, undone):
        response = client.get(f"/committee/cycles/{cycle.id}")
        assert response.status_code == 404
        assert "の自己評価" not in response.get_data(as_text=True)
        refused = client.post(f"/committee/cycles/{cycle.id}/opinions", data={"body": "意見"})
        assert refused.status_code == 404
    for cycle in (abolished, suspended):
        page = client.get(f"/committee/cycles/{cycle.id}").get_data(as_text=True)
        assert f"{cycle.item.title}の自己評価" in page
    assert _db.session.scalar(select(func.count()).select_from(CommitteeOpinion)) == 0


def test_a_refused_opinion_is_shown_again_with_what_was_typed(client, login_as, make, setting):
    _owner, _other, member, confirmed, _draft = setting
    login_as(member)
    too_long = "市民への周知を強化すべき。" * 400  # 5,200 characters
    refused = client.post(f"/committee/cycles/{confirmed.id}/opinions", data={"body": too_long})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "4000文字以内" in page and too_long in page

    locked = make.schedule(FY)
    locked.locked_at = at(date(2025, 9, 1))
    _db.session.commit()
    refused = client.post(
        f"/committee/cycles/{confirmed.id}/opinions", data={"body": "指標の見直しを求める"}
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "ロック" in page and "指標の見直しを求める</textarea>" in page
    assert _db.session.scalar(select(func.count()).select_from(CommitteeOpinion)) == 0


def test_the_review_page_shows_numbers_as_people_write_them(client, login_as, setting):
    """「140.000 時間」 was the stored decimal; people read 140 時間 and 12,000 人."""
    from decimal import Decimal

    _owner, _other, member, confirmed, _draft = setting
    indicator = confirmed.item.indicators[0]
    indicator.unit = "時間"
    value = indicator.value_for(FY)
    value.target, value.actual = Decimal("140.000"), Decimal("12000.500")
    _db.session.commit()
    login_as(member)
    page = client.get(f"/committee/cycles/{confirmed.id}").get_data(as_text=True)
    assert "140 時間" in page and "12,000.5 時間" in page
    assert "140.000" not in page


def test_a_member_starts_on_the_committee_page_with_a_menu_that_applies(client, login_as, setting):
    """No empty 「あなたの対応待ち」 and no 承認待ち for someone who never has either."""
    owner, _other, member, _confirmed, _draft = setting
    login_as(member)
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/committee/")
    page = client.get("/committee/").get_data(as_text=True)
    menu = page[page.index('aria-label="メインメニュー"') :]
    assert "推進委員会" in menu
    assert "あなたの対応待ち" not in menu and "承認待ち" not in menu
    client.post("/logout")
    login_as(owner.staff)  # staff keep their tasks page
    assert client.get("/").status_code == 200
