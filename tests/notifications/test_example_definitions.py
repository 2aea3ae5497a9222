"""The example definitions live a whole fiscal year against a real SMTP server.

A city adds a step by changing its definition only: a secretariat hearing (hearing.yaml)
or a 副市長 approval (deputy-mayor.yaml). Each year below runs 1 April 2026 to 30 June 2027,
one tick a day; the expected mail is written out by hand from the rules (reminders 14/7/1/0
days before the stage's deadline to whoever must act, escalations at the levels the state
allows, 3 and 10 business days after), not computed by the code under test.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.calendar import TOKYO
from app.models import (
    Direction,
    Grade,
    IndicatorValue,
    Post,
    PostKind,
    ProgressReport,
    ProgressStatus,
)
from notifications.jobs import tick
from workflows import operations as ops
from workflows.errors import PermissionDenied
from workflows.registry import DEFINITIONS

EXAMPLES = DEFINITIONS / "examples"


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TOKYO)


def d(text: str) -> date:
    return date.fromisoformat(text)


class Year:
    """One item of one department lived day by day; what each person receives."""

    def __init__(self, db, make, smtp):
        self.session = db.session
        self.make = make
        self.smtp = smtp
        self.org = make.org("企画")
        self.users = {
            "sA": self.org.staff,
            "hA": self.org.head,
            "sec": make.user("sec", roles=["secretariat"], name="事務局 一郎"),
        }
        self.item = make.item(self.org, number="1-1", title="行政手続のオンライン化")

    def cycle(self):
        return self.item.cycles[0]

    def submit(self, who: str, fill=None):
        def action(now):
            if fill:
                fill(self.cycle(), now)
            ops.submit(self.cycle(), by=self.users[who], now=now)

        return action

    def fire(self, trigger: str, who: str, **kwargs):
        return lambda now: ops.fire(self.cycle(), trigger, by=self.users[who], now=now, **kwargs)

    def plan(self, c, now):
        c.goal = "オンライン申請の拡大"

    def midyear(self, c, now):
        self.session.add(
            ProgressReport(
                cycle=c, kind="midyear", as_of=now.date(), body="順調", created_by=self.users["sA"]
            )
        )

    def check(self, c, now):
        c.grade, c.progress_status = Grade.A, ProgressStatus.DONE
        for value in self.session.scalars(
            select(IndicatorValue).where(IndicatorValue.fiscal_year == 2026)
        ):
            value.actual = Decimal(150)

    def act(self, c, now):
        c.direction, c.improvement = Direction.CONTINUE, "対象手続を拡大する"

    def live(self, actions: dict[str, list]) -> list[tuple[str, str, str]]:
        self.session.commit()
        alias = {u.email: name for name, u in self.users.items()}
        settings = self.smtp.settings(downtime_threshold=timedelta(days=2))
        received = []
        day = d("2026-04-01")
        while day <= d("2027-06-30"):
            before = len(self.smtp.messages)
            report = tick(self.session, at(day), settings)
            assert not report.errors, (day, report.errors)
            for message in self.smtp.messages[before:]:
                to = alias[message["To"].addresses[0].addr_spec]
                received.append((day.isoformat(), to, message["X-Kaikaku-Kind"]))
            for action in actions.get(day.isoformat(), []):
                action(at(day, 10))
                self.session.commit()
            day += timedelta(days=1)
        assert all(n == 1 for n in self.smtp.message_ids().values())
        return received


@pytest.fixture
def app_overrides(request):
    return {"WORKFLOW_DEFINITION": str(EXAMPLES / request.param)}


HEARING = [
    ("2026-04-11", "hA", "transition_submitted"),
    ("2026-04-15", "sA", "transition_approved"),
    ("2026-10-16", "sA", "reminder"),  # mid-year due 31 Oct (Sat) -> 30 Oct
    ("2026-10-21", "hA", "transition_submitted"),
    ("2026-10-23", "hA", "reminder"),
    ("2026-10-28", "sA", "transition_approved"),
    ("2027-05-17", "sA", "reminder"),
    ("2027-05-24", "sA", "reminder"),
    ("2027-05-26", "hA", "transition_submitted"),
    ("2027-05-28", "hA", "reminder"),  # 30 May is a Sunday
    ("2027-05-29", "sA", "transition_approved"),
    ("2027-05-29", "sec", "transition_confirm_requested"),  # the hearing waits for them
    # The 1-day step (28 May) found them acting that day, after its tick: sent next tick.
    ("2027-05-29", "sec", "reminder"),
    ("2027-05-31", "sec", "reminder"),  # the hearing is due with the evaluation
    # Hearing held on 3 June, late; the confirmation is later still: only the second
    # level (the secretariat) is escalated to, 10 business days after it began waiting.
    ("2027-06-17", "sec", "escalation_secretariat"),
    ("2027-06-19", "sA", "transition_confirmed"),
    ("2027-06-23", "sA", "reminder"),
    ("2027-06-25", "hA", "transition_submitted"),
    ("2027-06-29", "hA", "reminder"),
    ("2027-06-30", "sA", "transition_approved"),
]


@pytest.mark.parametrize("app_overrides", ["hearing.yaml"], indirect=True)
def test_the_hearing_example_runs_a_year_with_its_hearing_step(db, make, smtp):
    year = Year(db, make, smtp)
    received = year.live(
        {
            "2026-04-10": [year.submit("sA", year.plan)],
            "2026-04-14": [year.fire("approve_plan", "hA")],
            "2026-10-20": [year.submit("sA", year.midyear)],
            "2026-10-27": [year.fire("approve_midyear", "hA")],
            "2027-05-25": [year.submit("sA", year.check)],
            "2027-05-28": [year.fire("approve_check", "hA")],
            "2027-06-03": [year.fire("hold_hearing", "sec")],
            "2027-06-18": [year.fire("confirm_check", "sec")],
            "2027-06-24": [year.submit("sA", year.act)],
            "2027-06-29": [year.fire("approve_act", "hA")],
        }
    )
    assert Counter(received) == Counter(HEARING)
    cycle = year.cycle()
    assert cycle.definition_version == "2026.1-hearing" and cycle.state == "closed"
    assert cycle.confirmed_at is not None
    hearing = next(m for m in smtp.messages if m["X-Kaikaku-Kind"] == "escalation_secretariat")
    assert "事務局の判断" in hearing.get_body(("plain",)).get_content()


DEPUTY = [
    ("2026-04-11", "hA", "transition_submitted"),
    ("2026-04-15", "sA", "transition_approved"),
    ("2026-04-15", "dm", "transition_decision_requested"),
    ("2026-04-16", "dm", "reminder"),
    ("2026-04-23", "dm", "reminder"),
    ("2026-04-28", "dm", "reminder"),  # 29 April is a holiday
    ("2026-04-30", "dm", "reminder"),
    # The 副市長 is late: no escalation to the head below, the secretariat after 10
    # business days (Golden Week 3-6 May).
    ("2026-05-19", "sec", "escalation_secretariat"),
    ("2026-05-21", "sA", "transition_approved"),
    ("2026-10-16", "sA", "reminder"),
    ("2026-10-21", "hA", "transition_submitted"),
    ("2026-10-23", "hA", "reminder"),
    ("2026-10-28", "sA", "transition_approved"),
    ("2027-05-17", "sA", "reminder"),
    ("2027-05-24", "sA", "reminder"),
    ("2027-05-26", "hA", "transition_submitted"),
    ("2027-05-28", "hA", "reminder"),
    ("2027-05-31", "hA", "reminder"),  # the day's tick comes before the approval
    ("2027-06-01", "sA", "transition_approved"),
    ("2027-06-01", "sec", "transition_confirm_requested"),
    ("2027-06-03", "sA", "transition_confirmed"),
    ("2027-06-16", "sA", "reminder"),
    ("2027-06-23", "sA", "reminder"),
    ("2027-06-25", "hA", "transition_submitted"),
    ("2027-06-29", "hA", "reminder"),
    ("2027-06-30", "sA", "transition_approved"),
    ("2027-06-30", "dm", "transition_decision_requested"),
    ("2027-06-30", "dm", "reminder"),
]


@pytest.mark.parametrize("app_overrides", ["deputy-mayor.yaml"], indirect=True)
def test_the_deputy_mayor_example_runs_a_year_with_a_second_approval(db, make, smtp):
    year = Year(db, make, smtp)
    PostKind.ensure(db.session, "deputy_mayor", "副市長", "Deputy mayor")
    post = Post(code="DEPUTY-MAYOR", name="副市長", kind_code="deputy_mayor")
    db.session.add(post)
    year.users["dm"] = make.user("dm", name="副市長 正和")
    make.assign(year.users["dm"], post)
    received = year.live(
        {
            "2026-04-10": [year.submit("sA", year.plan)],
            "2026-04-14": [year.fire("approve_plan", "hA")],
            "2026-05-20": [year.fire("approve_plan_deputy", "dm")],
            "2026-10-20": [year.submit("sA", year.midyear)],
            "2026-10-27": [year.fire("approve_midyear", "hA")],
            "2027-05-25": [year.submit("sA", year.check)],
            "2027-05-31": [year.fire("approve_check", "hA")],
            "2027-06-02": [year.fire("confirm_check", "sec")],
            "2027-06-24": [year.submit("sA", year.act)],
            "2027-06-29": [year.fire("approve_act", "hA")],
        }
    )
    assert Counter(received) == Counter(DEPUTY)
    cycle = year.cycle()
    assert cycle.definition_version == "2026.1-deputy" and cycle.state == "act_deputy"
    asked = next(m for m in smtp.messages if m["X-Kaikaku-Kind"] == "transition_decision_requested")
    body = asked.get_body(("plain",)).get_content()
    assert "の計画が承認されました" in body and "あなたの判断（承認または差戻し）" in body
    # The head cannot take the 副市長's decision.
    with pytest.raises(PermissionDenied):
        ops.fire(cycle, "approve_act_deputy", by=year.users["hA"], now=at(d("2027-06-30"), 11))
    assert cycle.state == "act_deputy"
