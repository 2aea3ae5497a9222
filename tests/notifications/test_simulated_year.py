"""A fiscal year lived day by day, 1 April 2026 to 30 June 2027, against a real SMTP server.

The expected mail is written out by hand from the rules (DOMAIN.md's calendar, reminders
14/7/1/0 days before, escalations 3 and 10 business days after, weekly), not computed by the
code under test. Golden Week 2026 (3-6 May), Culture Day (3 Nov) and Labour Thanksgiving
(23 Nov) are the holidays that matter here: deadlines move back before them, escalations
forward after them.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from app.calendar import TOKYO
from app.models import (
    Grade,
    IndicatorValue,
    OutboxMessage,
    OutboxStatus,
    ProgressReport,
    ProgressStatus,
    Substitution,
)
from app.models.cycle import Direction
from notifications.jobs import tick
from workflows import operations as ops


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TOKYO)


def d(text: str) -> date:
    return date.fromisoformat(text)


EXPECTED = [
    # Item P (department A): plan late, escalated, then on time with the head deciding late.
    ("2026-04-16", "sA", "reminder", "P"),
    ("2026-04-23", "sA", "reminder", "P"),
    ("2026-04-28", "sA", "reminder", "P"),  # 1 day before 30 April: 29 April is a holiday
    ("2026-04-30", "sA", "reminder", "P"),
    ("2026-05-08", "hA", "escalation_head", "P"),  # 3 business days after 30 April (GW)
    ("2026-05-13", "hA", "transition_submitted", "P"),
    ("2026-05-15", "hA", "escalation_head", "P"),  # head's own clock from the submission
    ("2026-05-19", "sA", "transition_approved", "P"),
    ("2026-10-16", "sA", "reminder", "P"),  # mid-year due 31 Oct (Sat) -> 30 Oct
    ("2026-10-21", "hA", "transition_submitted", "P"),
    ("2026-10-23", "hA", "reminder", "P"),
    ("2026-10-29", "hA", "reminder", "P"),
    ("2026-10-30", "sA", "transition_approved", "P"),
    ("2027-05-17", "sA", "reminder", "P"),
    ("2027-05-24", "sA", "reminder", "P"),
    ("2027-05-26", "hA", "transition_submitted", "P"),
    ("2027-05-28", "hA", "reminder", "P"),  # 30 May is a Sunday
    ("2027-05-31", "hA", "reminder", "P"),
    ("2027-06-01", "sA", "transition_approved", "P"),
    ("2027-06-01", "sec", "transition_confirm_requested", "P"),
    ("2027-06-03", "sA", "transition_confirmed", "P"),
    ("2027-06-16", "sA", "reminder", "P"),
    ("2027-06-23", "sA", "reminder", "P"),
    ("2027-06-25", "hA", "transition_submitted", "P"),
    ("2027-06-29", "hA", "reminder", "P"),
    ("2027-06-30", "sA", "transition_approved", "P"),
    # Item Q (department B): the head takes a digest, sends back, a substitute approves,
    # the staff member turns reminders off, the mid-year report is very late, then abolished.
    ("2026-04-16", "sB", "reminder", "Q"),
    ("2026-04-23", "sB", "reminder", "Q"),
    ("2026-04-25", "hB", "transition_submitted", "Q"),
    ("2026-04-28", "hB", "digest", None),
    ("2026-04-30", "hB", "digest", None),
    ("2026-05-01", "sB", "transition_sent_back", "Q"),
    ("2026-05-08", "hB", "escalation_head", "Q"),  # the department's clock from 30 April
    ("2026-05-12", "hB", "transition_submitted", "Q"),
    ("2026-05-14", "hB", "escalation_head", "Q"),  # head's clock from 11 May
    ("2026-05-14", "subB", "escalation_head", "Q"),  # the running substitute too
    ("2026-05-16", "sB", "transition_approved", "Q"),
    ("2026-11-05", "hB", "escalation_head", "Q"),  # 3 business days after 30 Oct (3 Nov)
    ("2026-11-12", "hB", "escalation_head", "Q"),
    ("2026-11-16", "sec", "escalation_secretariat", "Q"),  # 10 business days after 30 Oct
    ("2026-11-19", "hB", "escalation_head", "Q"),
    # The weekly repeat falls on Labour Thanksgiving (23 Nov): no escalation goes out on a
    # day the city hall is closed, so it goes out on the next business day.
    ("2026-11-24", "sec", "escalation_secretariat", "Q"),
    ("2026-11-25", "hB", "transition_submitted", "Q"),
    ("2026-11-27", "hB", "escalation_head", "Q"),
    ("2026-12-01", "sB", "transition_approved", "Q"),
    ("2027-01-16", "hB", "transition_abolished", "Q"),
]


def test_a_fiscal_year_sends_every_expected_mail_once_and_nothing_else(db, make, smtp):
    session = db.session
    org_a, org_b = make.org("企画"), make.org("市民")
    sec = make.user("sec", roles=["secretariat"], name="事務局 一郎")
    sub_b = make.user("subB", name="代理 次郎")
    org_b.head.wants_digest = True
    item_p = make.item(org_a, number="1-1", title="行政手続のオンライン化")
    item_q = make.item(org_b, number="4-2", title="窓口業務の委託")
    session.add(
        Substitution(
            post=org_b.head_post,
            substitute=sub_b,
            starts_on=d("2026-05-13"),
            ends_on=d("2026-05-22"),
            reason="出張",
            created_by=sec,
        )
    )
    session.commit()
    alias = {
        org_a.staff.email: "sA",
        org_a.head.email: "hA",
        org_b.staff.email: "sB",
        org_b.head.email: "hB",
        sec.email: "sec",
        sub_b.email: "subB",
    }
    users = {
        "sA": org_a.staff,
        "hA": org_a.head,
        "sB": org_b.staff,
        "hB": org_b.head,
        "sec": sec,
        "subB": sub_b,
    }
    items = {"P": item_p, "Q": item_q}

    def cycle(name: str):
        return ops.find_cycle(session, items[name], 2026)

    def submit(name, who, prepare=None):
        def action(now):
            c = cycle(name)
            if prepare:
                prepare(c, now)
            ops.submit(c, by=users[who], now=now)

        return action

    def decide(operation, name, who, **kwargs):
        return lambda now: operation(cycle(name), by=users[who], now=now, **kwargs)

    def plan(c, now):
        c.goal = "オンライン申請の拡大"

    def midyear(c, now):
        session.add(
            ProgressReport(
                cycle=c,
                kind="midyear",
                as_of=now.date(),
                body="順調",
                created_by=users["sA"],
            )
        )

    def check(c, now):
        c.grade, c.progress_status = Grade.A, ProgressStatus.DONE
        for value in session.scalars(
            select(IndicatorValue).where(IndicatorValue.fiscal_year == 2026)
        ):
            value.actual = Decimal(150)

    def act(c, now):
        c.direction, c.improvement = Direction.CONTINUE, "対象手続を拡大する"

    def reminders_off(now):
        users["sB"].reminders_enabled = False

    actions = {
        "2026-04-24": [submit("Q", "sB", plan)],
        "2026-04-30": [decide(ops.send_back, "Q", "hB", reason="目標値を見直してください")],
        "2026-05-11": [submit("Q", "sB")],
        "2026-05-12": [submit("P", "sA", plan)],
        "2026-05-15": [decide(ops.approve, "Q", "subB")],
        "2026-05-18": [decide(ops.approve, "P", "hA")],
        "2026-06-01": [reminders_off],
        "2026-10-20": [submit("P", "sA", midyear)],
        "2026-10-29": [decide(ops.approve, "P", "hA")],
        "2026-11-24": [submit("Q", "sB", midyear)],
        "2026-11-30": [decide(ops.approve, "Q", "hB")],
        "2027-01-15": [decide(ops.abolish, "Q", "sec", reason="事業終了のため")],
        "2027-05-25": [submit("P", "sA", check)],
        "2027-05-31": [decide(ops.approve, "P", "hA")],
        "2027-06-02": [decide(ops.confirm, "P", "sec")],
        "2027-06-24": [submit("P", "sA", act)],
        "2027-06-29": [decide(ops.approve, "P", "hA")],
    }
    settings = smtp.settings(downtime_threshold=timedelta(days=2))
    cycle_item: dict[str, str] = {}
    received = []
    day = d("2026-04-01")
    while day <= d("2027-06-30"):
        before = len(smtp.messages)
        report = tick(session, at(day), settings)
        assert not report.errors, (day, report.errors)
        if day == d("2026-04-01"):
            assert report.cycles_opened == 2
            cycle_item = {str(cycle(n).id): n for n in items}
        for message in smtp.messages[before:]:
            received.append(
                (
                    day.isoformat(),
                    alias[message["To"].addresses[0].addr_spec],
                    message["X-Kaikaku-Kind"],
                    cycle_item.get(message["X-Kaikaku-Cycle"] or ""),
                )
            )
        for action in actions.get(day.isoformat(), []):
            action(at(day, 10))
            session.commit()
        day += timedelta(days=1)

    assert Counter(received) == Counter(EXPECTED)
    assert all(n == 1 for n in smtp.message_ids().values())

    # Another pass on the last day sends nothing more; the outbox is empty and nothing failed.
    again = tick(session, at(d("2027-06-30"), 18), settings)
    assert (again.reminders, again.escalations, again.digests, again.sent) == (0, 0, 0, 0)
    statuses = Counter(session.scalars(select(OutboxMessage.status)))
    assert statuses == {OutboxStatus.SENT: len(EXPECTED)}

    # The Japanese arrives intact, as the recipient reads it.
    first = next(m for m in smtp.messages if m["X-Kaikaku-Kind"] == "reminder")
    assert str(first["Subject"]) == "【期限まで14日】1-1 行政手続のオンライン化（計画）"
    body = first.get_body(("plain",)).get_content()
    assert "令和8年度" in body and "令和8年4月30日（木）" in body
    assert "https://kaikaku.example.jp/items/" in body
    assert first.get_body(("html",)) is not None
    digest = next(m for m in smtp.messages if m["X-Kaikaku-Kind"] == "digest")
    assert "4-2 窓口業務の委託" in digest.get_body(("plain",)).get_content()
    escalation = next(m for m in smtp.messages if m["X-Kaikaku-Kind"] == "escalation_head")
    assert "【期限超過・督促】1-1" in str(escalation["Subject"])
    assert "期限を3営業日過ぎています" in escalation.get_body(("plain",)).get_content()
