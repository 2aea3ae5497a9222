"""An opinion or a question of the committee is the department's task: it is on the home
page and counted in the menu, a mail goes to the owning section's staff and the head, and
the department's reply closes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.extensions import db as _db
from app.models import CommitteeOpinion, CommitteeQuestion, Grade, OutboxMessage
from notifications.delivery import deliver_outbox
from tests.notifications.conftest import SmtpServer

FY = 2025


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def review(make):
    owner, other = make.org("市民"), make.org("建設")
    member = make.user("iin_sato", roles=["committee"], name="佐藤 委員")
    cycle = make.cycle(
        make.item(owner, title="窓口のオンライン化"),
        FY,
        "act_draft",
        grade=Grade.B,
        analysis="概ね達成",
    )
    make.schedule(FY, committee_from=None)  # questions taken until the meeting is set
    _db.session.commit()
    return owner, other, member, cycle


def _count_in_menu(page: str, label: str) -> str | None:
    """The count shown beside a menu entry, or None (also when the entry is absent)."""
    nav = page.split('class="site-nav"', 1)[1].split("</nav>", 1)[0]
    if label not in nav:
        return None
    entry = nav.split(label, 1)[1].split("</a>", 1)[0]
    if 'class="count"' not in entry:
        return None
    return entry.split('class="count"', 1)[1].split(">", 1)[1].split("<", 1)[0]


def test_an_opinion_is_the_departments_task_and_mail_until_it_is_answered(
    client, login_as, db, review, smtp
):
    owner, other, member, cycle = review
    login_as(member)
    client.post(f"/committee/cycles/{cycle.id}/opinions", data={"body": "利用率も指標に"})

    # The mail is queued in the same transaction, to the section's staff and the head.
    rows = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "committee_opinion")
    ).all()
    assert sorted(r.recipient_id for r in rows) == sorted([owner.staff.id, owner.head.id])
    report = deliver_outbox(db.session, datetime.now(UTC), smtp.settings())
    db.session.commit()
    assert report.sent == 2
    received = {m["To"].addresses[0].username: m for m in smtp.messages}
    mail = received[owner.staff.login]
    assert (
        mail["Subject"]
        == "【行政改革】推進委員会の意見：" + f"{cycle.item.number} 窓口のオンライン化"
    )
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "利用率も指標に" in body and "佐藤 委員" in body and "令和7年度" in body
    assert f"https://kaikaku.example.jp/committee/cycles/{cycle.id}" in body
    assert other.staff.login not in received

    # The home page lists it, the menu counts it, and the committee's page is in the menu.
    login_as(owner.staff)
    home = client.get("/").get_data(as_text=True)
    assert "推進委員会の意見・事前質問への対応" in home and "利用率も指標に" in home
    assert _count_in_menu(home, "推進委員会") == "1"
    assert _count_in_menu(home, "あなたの対応待ち") is not None
    total_before = int(_count_in_menu(home, "あなたの対応待ち"))
    # Another department has nothing to answer and no committee entry in the menu.
    login_as(other.staff)
    assert "推進委員会の意見・事前質問への対応" not in client.get("/").get_data(as_text=True)

    # The reply closes the task.
    login_as(owner.staff)
    opinion = db.session.scalar(select(CommitteeOpinion))
    client.post(f"/committee/opinions/{opinion.id}/reply", data={"body": "次年度から追加します"})
    home = client.get("/").get_data(as_text=True)
    assert "推進委員会の意見・事前質問への対応" not in home
    assert _count_in_menu(home, "推進委員会") is None
    after = _count_in_menu(home, "あなたの対応待ち")
    assert int(after or 0) == total_before - 1


def test_a_question_reaches_the_head_and_its_answer_closes_it(client, login_as, db, review):
    owner, _other, member, cycle = review
    login_as(member)
    client.post(f"/committee/cycles/{cycle.id}/questions", data={"question": "根拠は何ですか"})
    mails = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "committee_question")
    ).all()
    assert {m.recipient_id for m in mails} == {owner.staff.id, owner.head.id}
    assert all("事前質問" in m.subject for m in mails)

    login_as(owner.head)
    home = client.get("/").get_data(as_text=True)
    assert "根拠は何ですか" in home and "回答を登録する" in home
    question = db.session.scalar(select(CommitteeQuestion))
    client.post(f"/committee/questions/{question.id}/answer", data={"body": "算定表のとおりです"})
    assert "根拠は何ですか" not in client.get("/").get_data(as_text=True)


def test_the_item_page_and_the_act_form_show_the_opinions_and_replies(client, login_as, db, review):
    owner, _other, member, cycle = review
    login_as(member)
    client.post(f"/committee/cycles/{cycle.id}/opinions", data={"body": "周知方法を工夫して"})
    login_as(owner.staff)
    page = client.get(f"/items/{cycle.item.id}?fy={FY}").get_data(as_text=True)
    # On the page itself, in the act form open on it for the staff, and in the history.
    assert page.count("周知方法を工夫して") >= 2
    assert "未対応" in page
    form = client.get(f"/items/{cycle.item.id}/cycles/{FY}/act").get_data(as_text=True)
    opinions = form.split('id="act-opinions"', 1)[1].split("</section>", 1)[0]
    assert "周知方法を工夫して" in opinions and "佐藤 委員" in opinions
    opinion = db.session.scalar(select(CommitteeOpinion))
    client.post(f"/committee/opinions/{opinion.id}/reply", data={"body": "広報紙で周知します"})
    form = client.get(f"/items/{cycle.item.id}/cycles/{FY}/act").get_data(as_text=True)
    assert "広報紙で周知します" in form.split('id="act-opinions"', 1)[1].split("</section>", 1)[0]
