"""The iCalendar feed, and the mailbox page switched off outside development."""

from __future__ import annotations

from notifications.ical import feed_token, fold


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_the_feed_lists_the_deadlines_of_ones_items_behind_a_secret_address(
    client, make, db, login_as
):
    org, other = make.org("企画"), make.org("福祉")
    item = make.item(
        org, number="1-1", title="行政手続のオンライン化,窓口の「書かない」化;手数料の見直し"
    )
    make.cycle(item, fiscal_year=2026, state="plan_draft")
    make.cycle(make.item(other, number="9-9", title="他部の項目"), fiscal_year=2026)
    token = feed_token(db.session, org.staff)
    db.session.commit()

    response = client.get(f"/ical/{token}.ics")

    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    raw = response.get_data()
    text = raw.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    lines = _unfold(text)
    assert "DTSTART;VALUE=DATE:20260430" in lines and "DTEND;VALUE=DATE:20260501" in lines
    assert (
        "SUMMARY:【期限】1-1 行政手続のオンライン化\\,窓口の「書かない」化\\;手数料の見直し（計画）"
        in lines
    )
    assert not any("9-9" in line for line in lines)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR"

    assert client.get("/ical/not-a-token.ics").status_code == 404
    # Reissuing the address kills the old one.
    login_as(org.staff)
    assert f"/ical/{token}.ics" in client.get("/settings/notifications").get_data(as_text=True)
    client.post("/settings/notifications/calendar")
    assert client.get(f"/ical/{token}.ics").status_code == 404


def test_the_department_head_sees_the_departments_deadlines(client, make, db):
    org = make.org()
    item = make.item(org, number="2-1")
    cycle = make.cycle(item, fiscal_year=2026, state="plan_submitted")
    token = feed_token(db.session, org.head)
    db.session.commit()
    lines = _unfold(client.get(f"/ical/{token}.ics").get_data(as_text=True))
    assert f"UID:kaikaku-cycle-{cycle.id}-plan@127.0.0.1:5000" in lines


def test_folding_never_splits_a_character():
    line = "SUMMARY:" + "改革" * 60
    folded = fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts)
    assert folded.replace("\r\n ", "") == line


def test_the_settings_page_needs_a_login(client):
    assert client.get("/settings/notifications").status_code == 302
    assert client.post("/settings/notifications").status_code == 302


def test_a_user_chooses_the_digest_or_no_reminders(client, make, db, login_as):
    user = make.user()
    db.session.commit()
    login_as(user)
    page = client.get("/settings/notifications").get_data(as_text=True)
    assert (
        "督促" in page
        and 'id="reminders_enabled" name="reminders_enabled" value="1" checked' in page
    )

    client.post("/settings/notifications", data={"wants_digest": "1"})
    db.session.refresh(user)
    assert (user.wants_digest, user.reminders_enabled) == (True, False)

    client.post("/settings/notifications", data={"reminders_enabled": "1"})
    db.session.refresh(user)
    assert (user.wants_digest, user.reminders_enabled) == (False, True)


def test_the_mailbox_page_does_not_exist_without_the_catcher(client, make, login_as):
    login_as(make.user("sec", roles=["secretariat"]))
    assert client.get("/dev/mailbox/").status_code == 404
