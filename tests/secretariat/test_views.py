"""The secretariat console through the test client."""

from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db as _db
from app.models import AuditEntry, FiscalYearSchedule, OutboxMessage
from workflows.deadlines import default_schedule

from .helpers import FUTURE_FY, PAST_FY, bulk_cycles


@pytest.fixture
def org(make):
    return make.org("税務")


@pytest.fixture
def secretariat(make):
    return make.user("jimu", roles=["secretariat"], name="事務局 一郎")


@pytest.fixture
def late(make, org):
    """Two cycles of a past year, both overdue, and one of a future year."""
    cycles = [
        make.cycle(make.item(org, title=f"遅延項目{i}"), PAST_FY, "plan_draft") for i in range(2)
    ]
    make.cycle(make.item(org, title="期限前の項目"), FUTURE_FY, "plan_draft")
    _db.session.commit()
    return cycles


def test_only_the_secretariat_and_admins_see_the_console(client, make, login_as, org):
    login_as(org.staff)
    assert client.get("/secretariat/").status_code == 403
    client.post("/logout")
    admin = make.user("kanri", roles=["admin"])
    _db.session.commit()
    login_as(admin)
    assert client.get("/secretariat/").status_code == 200
    assert client.post("/secretariat/nudge", data={"cycle_id": "1"}).status_code == 403


def test_the_menu_offers_only_pages_that_open(client, make, login_as, secretariat):
    """The administrator reads the console but may not publish: no link that answers 403."""
    admin = make.user("kanri", roles=["admin"])
    _db.session.commit()
    login_as(admin)
    page = client.get("/secretariat/").get_data(as_text=True)
    assert "/public/manage" not in page
    assert client.get("/public/manage").status_code == 403
    client.post("/logout")
    login_as(secretariat)
    assert "/public/manage" in client.get("/secretariat/").get_data(as_text=True)


def test_dashboard_numbers_link_to_the_items_behind_them(client, login_as, secretariat, late, org):
    login_as(secretariat)
    page = client.get(f"/secretariat/?fy={PAST_FY}").get_data(as_text=True)
    assert "税務部" in page
    link = (
        f"/secretariat/items?fy={PAST_FY}&amp;department={org.department.id}"
        "&amp;stage=plan&amp;overdue=1"
    )
    assert link in page
    listed = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert "遅延項目0" in listed and "遅延項目1" in listed
    assert "期限前の項目" not in listed
    assert org.staff.name in listed  # who must act now


def test_future_year_has_nothing_overdue(client, login_as, secretariat, late):
    login_as(secretariat)
    listed = client.get(f"/secretariat/items?fy={FUTURE_FY}&overdue=1").get_data(as_text=True)
    assert "該当する項目はありません" in listed


def test_bulk_nudge_queues_mail_and_is_audited(client, login_as, secretariat, late, org):
    login_as(secretariat)
    response = client.post(
        "/secretariat/nudge",
        data={
            "cycle_id": [str(c.id) for c in late],
            "message": "今週中にお願いします",
            "next": f"/secretariat/items?fy={PAST_FY}",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/secretariat/items?fy={PAST_FY}"
    mails = _db.session.scalars(select(OutboxMessage)).all()
    assert len(mails) == 2 and {m.recipient_id for m in mails} == {org.staff.id}
    assert (
        _db.session.scalar(select(sqlalchemy.func.count()).where(AuditEntry.action == "nudge")) == 2
    )


def test_nudge_without_selection_says_so(client, login_as, secretariat, late):
    login_as(secretariat)
    page = client.post("/secretariat/nudge", data={}, follow_redirects=True)
    assert "督促する項目を選んでください" in page.get_data(as_text=True)


def test_extend_from_the_cycle_page(client, login_as, secretariat, late):
    login_as(secretariat)
    cycle = late[0]
    page = client.get(f"/secretariat/cycles/{cycle.id}").get_data(as_text=True)
    assert "期限の延長" in page
    response = client.post(
        f"/secretariat/cycles/{cycle.id}/extend",
        data={"due_on": "2099-01-15", "reason": ""},
        follow_redirects=True,
    )
    assert "理由を入力してください" in response.get_data(as_text=True)
    response = client.post(
        f"/secretariat/cycles/{cycle.id}/extend",
        data={"due_on": "2099-01-15", "reason": "災害対応"},
        follow_redirects=True,
    )
    assert "期限を延長しました" in response.get_data(as_text=True)
    listed = client.get(f"/secretariat/items?fy={PAST_FY}&overdue=1").get_data(as_text=True)
    assert "遅延項目0" not in listed and "遅延項目1" in listed


def test_exports_open_in_excel(client, login_as, secretariat, late):
    login_as(secretariat)
    csv = client.get(f"/secretariat/items?fy={PAST_FY}&format=csv")
    assert csv.data.startswith(b"\xef\xbb\xbf")
    assert csv.headers["Content-Type"] == "text/csv; charset=utf-8"  # one charset, not two
    text = csv.data.decode("utf-8-sig")
    assert text.split("\r\n")[0].startswith("番号,改革項目,所管部")
    assert "\r\n" in text and "遅延項目0" in text
    xlsx = client.get(f"/secretariat/?fy={PAST_FY}&format=xlsx")
    assert "spreadsheetml" in xlsx.headers["Content-Type"]
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    rows = list(sheet.values)
    assert rows[0][0].startswith("所管部別進捗")  # the title row, then the header row
    assert rows[1][0] == "所管部" and rows[2][0] == "税務部"
    assert rows[2][1] == 2  # two cycles in Plan
    log = client.get("/secretariat/notifications?format=csv")
    assert log.data.startswith(b"\xef\xbb\xbf")


def test_schedule_settings_are_validated_previewed_and_saved(client, login_as, secretariat):
    login_as(secretariat)
    form = {
        "due-plan": "2031-05-03",
        "due-do": "2031-10-31",
        "due-check": "2032-05-31",
        "due-act": "2032-06-30",
        "committee_from": "2032-07-01",
        "committee_to": "2032-08-31",
        "publication_on": "2032-09-30",
        "reminder_days": "14, 7, 1",
        "escalate_head_after": "3",
        "escalate_secretariat_after": "10",
        "escalation_repeat_days": "7",
    }
    bad = client.post(
        "/secretariat/schedule/2031",
        data={**form, "due-act": "2032-05-01", "escalate_secretariat_after": "2", "action": "save"},
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "前の段階の期限より後" in text and "1段階目より後" in text
    assert _db.session.scalar(select(FiscalYearSchedule)) is None
    preview = client.post("/secretariat/schedule/2031", data={**form, "action": "preview"})
    text = preview.get_data(as_text=True)
    assert "憲法記念日のため繰上げ" in text  # 3 May 2031 moves to Friday 2 May
    assert "2031年5月2日" in text
    assert _db.session.scalar(select(FiscalYearSchedule)) is None
    saved = client.post("/secretariat/schedule/2031", data={**form, "action": "save"})
    assert saved.status_code == 302
    stored = _db.session.scalar(select(FiscalYearSchedule))
    assert stored.due_for("plan") == date(2031, 5, 3) and stored.reminder_days == [14, 7, 1]
    entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "schedule_change"))
    assert entry.scope == "fy:2031" and entry.data["after"]["due-plan"] == "2031-05-03"


def test_locking_a_year_needs_the_year_typed_and_blocks_changes(
    client, login_as, secretariat, late
):
    login_as(secretariat)
    client.post(f"/secretariat/years/{PAST_FY}/lock", data={"confirm_year": "1999"})
    assert _db.session.scalar(select(FiscalYearSchedule)) is None
    client.post(f"/secretariat/years/{PAST_FY}/lock", data={"confirm_year": str(PAST_FY)})
    page = client.get(f"/secretariat/schedule/{PAST_FY}").get_data(as_text=True)
    assert "ロック済み" in page
    response = client.post(
        f"/secretariat/cycles/{late[0].id}/extend",
        data={"due_on": "2099-01-15", "reason": "理由"},
        follow_redirects=True,
    )
    assert "ロック" in response.get_data(as_text=True)
    assert not late[0].extensions


def _count_queries(app, client, url: str) -> int:
    """Statements run by one request, in a fresh app context (new session, new `g`)."""
    statements = []
    _db.session.commit()

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sqlalchemy.event.listen(_db.engine, "before_cursor_execute", count)
    try:
        with app.app_context():
            assert client.get(url).status_code == 200
    finally:
        sqlalchemy.event.remove(_db.engine, "before_cursor_execute", count)
    return len(statements)


def test_dashboard_queries_do_not_grow_with_the_number_of_items(
    app, client, make, login_as, secretariat
):
    sections = [make.org(f"部署{i}").section.id for i in range(3)]
    plan = make.plan()
    plan_id, vp = plan.id, plan.outline.viewpoints[0].id
    for section_id in sections:
        bulk_cycles(
            _db.session, section_id, 17, fiscal_year=PAST_FY, plan_id=plan_id, viewpoint_id=vp
        )
    _db.session.commit()
    login_as(secretariat)
    url = f"/secretariat/?fy={PAST_FY}"
    small = _count_queries(app, client, url)
    for section_id in sections:
        bulk_cycles(
            _db.session, section_id, 1650, fiscal_year=PAST_FY, plan_id=plan_id, viewpoint_id=vp
        )
    _db.session.commit()
    large = _count_queries(app, client, url)
    page = client.get(url).get_data(as_text=True)
    assert "4,9" not in page and ">1667<" in page  # 17 + 1650 per department
    assert small == large


def test_a_refused_reason_or_message_is_shown_again_not_lost(client, login_as, secretariat, late):
    login_as(secretariat)
    cycle = late[0]
    refused = client.post(
        f"/secretariat/cycles/{cycle.id}/extend", data={"due_on": "2099-01-15", "reason": " "}
    )
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "理由を入力してください" in text and 'value="2099-01-15"' in text

    # The year is locked in another tab while a long reason is being typed.
    _db.session.add(default_schedule(PAST_FY))
    _db.session.commit()
    client.post(f"/secretariat/years/{PAST_FY}/lock", data={"confirm_year": str(PAST_FY)})
    refused = client.post(
        f"/secretariat/cycles/{cycle.id}/extend",
        data={"due_on": "2099-01-15", "reason": "災害対応のため、提出期限を延長する。"},
    )
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "ロック" in text and "災害対応のため、提出期限を延長する。" in text
    assert not cycle.extensions

    refused = client.post(
        "/secretariat/nudge",
        data={
            "cycle_id": [str(c.id) for c in late],
            "message": "至急ご対応ください",
            "next": f"/secretariat/items?fy={PAST_FY}",
        },
    )
    assert refused.status_code == 422
    assert "至急ご対応ください" in refused.get_data(as_text=True)
    assert _db.session.scalar(select(sqlalchemy.func.count()).select_from(OutboxMessage)) == 0

    wrong = client.post(f"/secretariat/years/{PAST_FY + 1}/lock", data={"confirm_year": "2012"})
    assert wrong.status_code == 422 and 'value="2012"' in wrong.get_data(as_text=True)


def test_a_reopen_refused_by_a_locked_year_keeps_its_reason(client, login_as, secretariat, late):
    login_as(secretariat)
    _db.session.add(default_schedule(PAST_FY))
    _db.session.commit()
    client.post(f"/secretariat/years/{PAST_FY}/lock", data={"confirm_year": str(PAST_FY)})
    refused = client.post(
        f"/secretariat/cycles/{late[0].id}/fire",
        data={"trigger": "reopen", "comment": "指標の誤りを直すため"},
    )
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "ロック" in text and "指標の誤りを直すため" in text
    refused = client.post(
        "/secretariat/nudge",
        data={
            "cycle_id": [str(late[0].id)],
            "message": "週内にお願いします",
            "next": f"/secretariat/cycles/{late[0].id}",
        },
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "遅延項目0" in page and "週内にお願いします" in page
