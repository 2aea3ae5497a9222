"""My tasks: what waits for staff and heads, sent-back reasons, header counts."""

from __future__ import annotations

import re

from flask import session
from flask_babel import refresh
from sqlalchemy import event

from .conftest import FY


def sent_back_plan(client, world, login_as, db, reason: str):
    """A submitted plan that the head sends back with `reason`, through the decision page."""
    cycle = world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    db.session.commit()
    login_as(world.org.head)
    client.post(
        f"/cycles/{cycle.id}/decide",
        data={"trigger": "send_back_plan", "comment": reason, "expected_version": cycle.version},
    )
    return cycle


def test_staff_sees_a_sent_back_item_with_its_reason(client, world, login_as, db):
    sent_back_plan(client, world, login_as, db, "指標の根拠を書いてください")
    client.post("/logout")
    login_as(world.org.staff)
    page = client.get("/").get_data(as_text=True)
    assert "差し戻された項目" in page and "指標の根拠を書いてください" in page


def test_a_later_carry_over_does_not_hide_the_send_back_and_the_form_shows_why(
    client, world, login_as, db
):
    """Text carried over from last year's Act after a send-back leaves the plan sent back."""
    from datetime import UTC, datetime

    from workflows import audit

    cycle = sent_back_plan(client, world, login_as, db, "スケジュールを四半期ごとに書いてください")
    audit.record(
        db.session,
        scope=audit.cycle_scope(cycle),
        action="carry_over",
        now=datetime.now(UTC),
        actor=world.org.head,
        cycle=cycle,
        comment="前年度の改善策",
    )
    db.session.commit()
    client.post("/logout")
    login_as(world.org.staff)
    page = client.get("/").get_data(as_text=True)
    assert "スケジュールを四半期ごとに書いてください" in page
    assert 'summary-card--alert"><span class="summary-card__num">1</span>' in page
    form = client.get(f"/items/{cycle.item_id}").get_data(as_text=True)
    assert "差戻しの理由" in form and "スケジュールを四半期ごとに書いてください" in form


def test_head_sees_submissions_and_the_header_counts(client, world, login_as, db):
    world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    world.cycle("midyear_submitted", submitted_by_id=world.org.staff.id)
    world.cycle("plan_submitted", org=world.other, submitted_by_id=world.other.staff.id)
    db.session.commit()
    login_as(world.org.head)
    page = client.get("/").get_data(as_text=True)
    assert "あなたの判断を待っている提出" in page
    assert 'aria-label="2件"' in page


COUNT = re.compile(r'<span class="count" aria-label="([^"]+)">(\d+)</span>')


def test_the_header_counts_are_the_same_on_my_tasks_as_on_every_other_page(
    client, world, login_as, db
):
    """My tasks takes its header counts from its own lists; they must agree with the count
    every other page asks for."""
    world.cycle("plan_draft")
    world.cycle("check_draft")
    world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    world.cycle("midyear_submitted", submitted_by_id=world.org.staff.id)
    world.cycle("plan_submitted", org=world.other, submitted_by_id=world.other.staff.id)
    db.session.commit()
    for user in (world.org.staff, world.org.head, world.other.head):
        login_as(user)
        here = COUNT.findall(client.get("/").get_data(as_text=True))
        elsewhere = COUNT.findall(client.get("/plan").get_data(as_text=True))
        assert here and here == elsewhere, user.login


def test_the_number_of_queries_does_not_grow_with_the_items(app, client, world, login_as, db):
    def count_queries(n_items):
        for _ in range(n_items):
            world.cycle("plan_draft")
            world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
        db.session.commit()
        db.session.expire_all()
        seen = []
        listener = lambda *a, **k: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get("/").status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    login_as(world.org.staff)
    count_queries(0)  # the first request also loads what every request then shares
    few = count_queries(2)
    many = count_queries(10)
    assert many == few


def test_plan_list_moved_to_plan(client, world, login_as, db):
    world.cycle("plan_draft")
    db.session.commit()
    login_as(world.org.staff)
    assert FY and "実行計画" in client.get("/plan").get_data(as_text=True)


def test_the_english_switch(client, world, login_as, db):
    world.cycle("plan_draft")
    db.session.commit()
    login_as(world.org.staff)
    assert "あなたの対応待ち" in client.get("/").get_data(as_text=True)
    client.post("/locale/en", data={"next": "/"})
    refresh()  # the test's application context outlives the request that chose the locale
    page = client.get("/").get_data(as_text=True)
    assert "My tasks" in page and 'lang="en"' in page
    assert "FY" in page  # fiscal years in the Western calendar


def test_a_forced_language_shows_in_the_page_and_the_request_s_comes_back(app):
    """A mail or a report rendered in another language inside a request (force_locale)
    speaks that language; the page around it keeps the reader's."""
    from flask import render_template_string
    from flask_babel import force_locale

    def words() -> str:
        return render_template_string(
            "{{ _('あなたの対応待ち') }} {{ current_locale() }} {{ 2025|fy }}"
        )

    # Each block in an application context of its own, as each request on a server is.
    with app.app_context(), app.test_request_context("/"):
        assert words() == "あなたの対応待ち ja 令和7年度"
        with force_locale("en"):
            assert words() == "My tasks en FY2025"
        assert words() == "あなたの対応待ち ja 令和7年度"
    with app.app_context(), app.test_request_context("/"):
        with force_locale("en"):  # before the request's own language was looked up
            assert words() == "My tasks en FY2025"
        assert words() == "あなたの対応待ち ja 令和7年度"
    with app.app_context(), app.test_request_context("/"):
        assert words() == "あなたの対応待ち ja 令和7年度"
        session["locale"] = "en"  # the English switch, then Flask-Babel's refresh
        refresh()
        assert words() == "My tasks en FY2025"


def test_overdue_is_counted_in_business_days_as_on_the_secretariat_list(
    client, world, login_as, db
):
    from datetime import UTC, datetime

    from app.calendar import business_days_between, local_date
    from workflows.deadlines import due_date

    item = world.make.item(world.org, targets={fy: 100 for fy in range(2022, FY + 1)})
    cycle = world.make.cycle(item, fiscal_year=FY - 1, state="plan_draft")
    db.session.commit()
    today = local_date(datetime.now(UTC))
    due = due_date(db.session, cycle)
    assert due < today  # last year's plan was due on 30 April
    days = business_days_between(due, today)
    login_as(world.org.staff)
    page = client.get("/").get_data(as_text=True)
    assert f"期限超過 {days}営業日" in page
