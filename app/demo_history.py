"""The demo's history: every item's PDCA years, played through the real workflow operations.

All events of all items are put on one timeline and played in date order (the 1 April
rollover included), each by the person who held the post on that day. Where an item stops
in the current fiscal year (and in the previous one) is chosen so that the demo shows
every state: overdue drafts, send-backs, decisions waiting for a head or for the
secretariat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.calendar import TOKYO, fiscal_year_of, previous_business_day
from app.models import (
    CommitteeOpinion,
    CommitteeQuestion,
    Cycle,
    Direction,
    ExecutionPlan,
    Grade,
    OutboxMessage,
    OutboxStatus,
    Post,
    ProgressReport,
    ProgressStatus,
    ProgressValue,
    ReformItem,
    ReportKind,
    User,
)
from app.public.service import publish
from app.secretariat.actions import snapshot_overdue
from workflows import operations

# The normal year: (step, month, day, year offset from the cycle's fiscal year).
NORMAL_YEAR = [
    ("submit_plan", 4, 10, 0),
    ("approve_plan", 4, 20, 0),
    ("progress_report", 7, 15, 0),
    ("submit_midyear", 10, 6, 0),
    ("approve_midyear", 10, 20, 0),
    ("start_check", 4, 8, 1),
    ("submit_check", 5, 11, 1),
    ("approve_check", 5, 19, 1),
    ("confirm_check", 5, 26, 1),
    ("submit_act", 6, 9, 1),
    ("approve_act", 6, 18, 1),
]
STEP_NAMES = [name for name, *_ in NORMAL_YEAR]

# Where the current fiscal year's cycle stops, by item number (the rest: mid-year approved).
CURRENT_YEAR_STOPS = {
    "1-2": "open",
    "4-5": "send_back_plan",
    "3-3": "submit_plan_late",
    "2-1": "approve_plan",
    "4-6": "approve_plan",
    "5-4": "send_back_midyear",
    "1-4": "submit_midyear",
    "1-5": "submit_midyear",
    "3-4": "submit_midyear",
    "4-7": "submit_midyear",
}
# Where the previous fiscal year's cycle stops (the rest: closed).
PREVIOUS_YEAR_STOPS = {
    "2-4": "approve_check",
    "4-3": "approve_check",
    "5-5": "confirm_check",
    "1-3": "submit_act",
}
SEND_BACK_REASONS = {
    "plan": "目標値の根拠が不明確です。前年度の実績を踏まえて再設定してください。",
    "midyear": "指標の実績値（9月末時点）が記入されていません。追記のうえ再提出してください。",
}
# Achievement of the targets, by the last digit of the item number, over the years.
ACHIEVEMENT = {
    "1": [1.05, 1.02, 0.98, 1.01],
    "2": [0.95, 0.92, 0.96, 0.99],
    "3": [1.10, 1.08, 1.04, 1.02],
    "4": [0.80, 0.88, 0.91, 0.94],
    "5": [0.55, 0.70, 0.86, 0.97],
    "6": [1.00, 1.00, 1.03, 1.00],
    "7": [0.97, 0.99, 0.93, 1.01],
}


@dataclass(order=True)
class Event:
    when: datetime
    order: int
    item_number: str
    fiscal_year: int
    step: str


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TOKYO).astimezone(UTC)


def holder(post: Post, day: date) -> User:
    holders = post.holders(day)
    if not holders:
        raise LookupError(f"nobody holds {post.name} on {day}")
    return holders[0]


class History:
    def __init__(self, session: Session, plan: ExecutionPlan, items, org, today: date):
        self.session = session
        self.plan = plan
        self.items = {item.number: (item, raw) for item, raw in items}
        self.org = org
        self.today = today
        self.current_fy = fiscal_year_of(today)
        self.secretariat = org.users["jimukyoku"]

    # -- who acts --------------------------------------------------------------------
    def staff(self, item: ReformItem, day: date) -> User:
        return holder(self.org.staff_posts[item.owning_section.code], day)

    def head(self, item: ReformItem, day: date) -> User:
        return holder(self.org.head_posts[item.owning_section.department.code], day)

    # -- the timeline ----------------------------------------------------------------
    def steps_for(self, number: str, raw: dict, fy: int) -> list[str]:
        end = raw.get("end")
        if end and fy > end[0]:
            return []
        if fy == self.current_fy:
            stop = CURRENT_YEAR_STOPS.get(number, "approve_midyear")
        elif fy == self.current_fy - 1:
            stop = PREVIOUS_YEAR_STOPS.get(number, "approve_act")
        else:
            stop = "approve_act"
        if stop == "open":
            return []
        if stop == "send_back_plan":
            return ["submit_plan", "send_back_plan"]
        if stop == "submit_plan_late":
            return ["submit_plan_late"]
        if stop == "send_back_midyear":
            return [*STEP_NAMES[: STEP_NAMES.index("submit_midyear") + 1], "send_back_midyear"]
        return STEP_NAMES[: STEP_NAMES.index(stop) + 1]

    def timeline(self) -> list[Event]:
        events: list[Event] = []
        for fy in range(self.plan.start_fy, self.current_fy + 1):
            events.append(Event(at(date(fy, 4, 1), 6), 0, "", fy, "rollover"))
        # The secretariat's weekly overdue count, taken as the year went (for its chart).
        monday = date(self.current_fy - 1, 4, 1)
        monday += timedelta(days=(7 - monday.weekday()) % 7)
        while monday < self.today:
            events.append(Event(at(monday, 7), 0, "", fiscal_year_of(monday), "snapshot"))
            monday += timedelta(days=7)
        for index, (number, (_item, raw)) in enumerate(sorted(self.items.items())):
            jitter = index % 5
            for fy in range(self.plan.start_fy, self.current_fy + 1):
                dates = {name: date(fy + off, m, d) for name, m, d, off in NORMAL_YEAR}
                dates["send_back_plan"] = dates["submit_plan"] + timedelta(days=5)
                dates["submit_plan_late"] = date(fy, 5, 12)
                dates["send_back_midyear"] = dates["submit_midyear"] + timedelta(days=8)
                for order, step in enumerate(self.steps_for(number, raw, fy), start=1):
                    day = previous_business_day(dates[step] + timedelta(days=jitter))
                    events.append(Event(at(day, 9 + order % 8), order, number, fy, step))
        return sorted(e for e in events if e.when.astimezone(TOKYO).date() < self.today)

    def play(self) -> None:
        for event in self.timeline():
            if event.step == "rollover":
                operations.open_next_cycles(self.session, event.fiscal_year, now=event.when)
                continue
            if event.step == "snapshot":
                self.session.flush()
                snapshot_overdue(self.session, event.when.astimezone(TOKYO).date())
                continue
            item, raw = self.items[event.item_number]
            cycle = next(c for c in item.cycles if c.fiscal_year == event.fiscal_year)
            handler = getattr(self, f"do_{event.step}", None)
            if handler is not None:
                handler(cycle, item, raw, event.when)
            else:
                self.fire_step(cycle, item, event.step, event.when)
        self.session.flush()

    # -- steps -----------------------------------------------------------------------
    def actor_for(self, step: str, item: ReformItem, day: date) -> User:
        if step.startswith(("approve", "send_back")):
            return self.head(item, day)
        if step == "confirm_check":
            return self.secretariat
        return self.staff(item, day)

    def fire_step(
        self, cycle: Cycle, item: ReformItem, trigger: str, now: datetime, comment: str = ""
    ) -> None:
        day = now.astimezone(TOKYO).date()
        operations.fire(
            cycle, trigger, by=self.actor_for(trigger, item, day), now=now, comment=comment
        )

    def do_submit_plan(self, cycle, item, raw, now) -> None:
        fy = cycle.fiscal_year
        if not cycle.goal:
            cycle.goal = f"{item.title}を計画どおり進め、{fy}年度の目標値を達成する。"
            cycle.schedule_q1 = "前年度の評価を踏まえた実施方針の決定、関係課との調整"
            cycle.schedule_q2 = "事業の実施、上半期の進捗確認"
            cycle.schedule_q3 = "事業の実施、中間報告を踏まえた見直し"
            cycle.schedule_q4 = "実績の取りまとめ、次年度に向けた課題整理"
        self.fire_step(cycle, item, "submit_plan", now)

    def do_submit_plan_late(self, cycle, item, raw, now) -> None:
        self.do_submit_plan(cycle, item, raw, now)

    def do_send_back_plan(self, cycle, item, raw, now) -> None:
        self.fire_step(cycle, item, "send_back_plan", now, SEND_BACK_REASONS["plan"])

    def do_send_back_midyear(self, cycle, item, raw, now) -> None:
        self.fire_step(cycle, item, "send_back_midyear", now, SEND_BACK_REASONS["midyear"])

    def actual(self, item: ReformItem, indicator, fy: int, fraction: float = 1.0) -> Decimal:
        """A plausible actual: the year's target times the item's achievement so far."""
        pattern = ACHIEVEMENT[item.number[-1]]
        ratio = pattern[(fy - self.plan.start_fy) % len(pattern)]
        value = indicator.value_for(fy)
        target = value.target if value and value.target is not None else Decimal(0)
        base = indicator.baseline_value or Decimal(0)
        if not indicator.higher_is_better:
            ratio = 2 - ratio
        reached = base + (target - base) * Decimal(str(ratio)) * Decimal(str(fraction))
        return reached.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    def report(
        self,
        cycle: Cycle,
        item: ReformItem,
        kind: ReportKind,
        now: datetime,
        fraction: float,
        body: str,
    ) -> None:
        day = now.astimezone(TOKYO).date()
        report = ProgressReport(
            cycle=cycle,
            kind=kind,
            as_of=day,
            body=body,
            created_by=self.staff(item, day),
            created_at=now,
        )
        report.values = [
            ProgressValue(indicator=ind, value=self.actual(item, ind, cycle.fiscal_year, fraction))
            for ind in item.indicators
        ]
        self.session.add(report)

    def do_progress_report(self, cycle, item, raw, now) -> None:
        self.report(
            cycle, item, ReportKind.PROGRESS, now, 0.3, "第1四半期の取組を計画どおり実施した。"
        )

    def do_submit_midyear(self, cycle, item, raw, now) -> None:
        self.report(
            cycle,
            item,
            ReportKind.MIDYEAR,
            now,
            0.55,
            "上半期は概ね計画どおり進捗している。下半期に向けて関係課と課題を共有した。",
        )
        self.session.flush()
        self.fire_step(cycle, item, "submit_midyear", now)

    def do_start_check(self, cycle, item, raw, now) -> None:
        self.fire_step(cycle, item, "start_check", now)
        ratios = []
        for indicator in item.indicators:
            value = indicator.value_for(cycle.fiscal_year)
            value.actual = self.actual(item, indicator, cycle.fiscal_year)
            base = indicator.baseline_value or Decimal(0)
            if value.target is not None and value.target != base:
                ratios.append(float((value.actual - base) / (value.target - base)))
        ratio = min(ratios) if ratios else 1.0
        cycle.grade = (
            Grade.A
            if ratio >= 1
            else Grade.B
            if ratio >= 0.9
            else Grade.C
            if ratio >= 0.6
            else Grade.D
        )
        cycle.progress_status = (
            ProgressStatus.DONE if cycle.grade in (Grade.A, Grade.B) else ProgressStatus.PARTIAL
        )
        cycle.analysis = {
            Grade.A: "計画どおり取組を実施し、目標値を達成した。",
            Grade.B: "目標値にはわずかに届かなかったが、取組は概ね計画どおり進んだ。",
            Grade.C: "関係機関との調整に時間を要し、目標値の一部が未達成となった。",
            Grade.D: "事業開始が遅れ、目標値を大きく下回った。",
        }[cycle.grade]
        cycle.issues = "取組の効果を市民にわかりやすく示す指標の検討が必要である。"
        if item.number in ("2-5", "4-4", "5-2", "5-3"):
            cycle.effect_amount = 1_000_000 * (int(item.number[-1]) + cycle.fiscal_year % 7)

    def do_submit_act(self, cycle, item, raw, now) -> None:
        end = raw.get("end")
        if end and end[0] == cycle.fiscal_year:
            cycle.direction = Direction(end[1])
            cycle.improvement = (
                "所期の目的を達成したため、本年度をもって取組を完了する。"
                if cycle.direction is Direction.COMPLETE
                else "費用対効果の検証の結果、本取組は廃止し、窓口のデジタル化で対応する。"
            )
        else:
            cycle.direction = {
                Grade.A: Direction.EXPAND,
                Grade.B: Direction.CONTINUE,
                Grade.C: Direction.REVISE,
                Grade.D: Direction.REVISE,
            }[cycle.grade or Grade.B]
            cycle.improvement = (
                "評価で明らかになった課題を踏まえ、次年度の実施方法を見直して継続する。"
            )
        self.fire_step(cycle, item, "submit_act", now)


COMMITTEE_REVIEW = [
    # (item number, member login, opinion, department's reply)
    (
        "1-1",
        "iin_sato",
        "オンライン化した手続の利用率も指標に加え、実際に使われているかを確かめてください。",
        "次年度から、オンライン申請の利用率を指標に追加します。",
    ),
    (
        "4-1",
        "iin_kato",
        "収納率の向上に加え、滞納繰越分の縮減目標も示すべきです。",
        "滞納繰越分の縮減について、次年度計画で目標値を設定します。",
    ),
    (
        "5-2",
        "iin_mori",
        "時間外勤務の縮減が、窓口サービスの低下につながらないよう配慮してください。",
        "窓口の待ち時間を併せて確認し、サービス水準を維持します。",
    ),
]
QUESTIONS = [
    (
        "2-1",
        "iin_kato",
        "延床面積の削減が計画より遅れている要因は何ですか。",
        "地域との合意形成に時間を要した施設があるためです。",
    ),
]


def review_and_publish(session: Session, history: History) -> None:
    """The committee's opinions on last year's results and the yearly publications."""
    year = history.current_fy - 1
    members = history.org.users
    confirmed = ("act_draft", "act_submitted", "closed")
    asked_on, replied_on = at(date(year + 1, 7, 14)), at(date(year + 1, 8, 4))
    if asked_on.astimezone(TOKYO).date() < history.today:
        for rows, model in ((COMMITTEE_REVIEW, CommitteeOpinion), (QUESTIONS, CommitteeQuestion)):
            for number, login, text, reply in rows:
                item, _raw = history.items[number]
                cycle = next((c for c in item.cycles if c.fiscal_year == year), None)
                if cycle is None or cycle.state not in confirmed:
                    continue
                answered = replied_on.astimezone(TOKYO).date() < history.today
                by = history.staff(item, replied_on.astimezone(TOKYO).date())
                if model is CommitteeOpinion:
                    session.add(
                        CommitteeOpinion(
                            cycle=cycle,
                            member=members[login],
                            body=text,
                            created_at=asked_on,
                            reply_body=reply if answered else "",
                            reply_by=by if answered else None,
                            reply_at=replied_on if answered else None,
                        )
                    )
                else:
                    session.add(
                        CommitteeQuestion(
                            cycle=cycle,
                            member=members[login],
                            question=text,
                            asked_at=asked_on,
                            answer=reply if answered else "",
                            answered_by=by if answered else None,
                            answered_at=replied_on if answered else None,
                        )
                    )
    session.flush()
    for fiscal_year in range(history.plan.start_fy, history.current_fy):
        published_on = at(date(fiscal_year + 1, 9, 30))
        if published_on.astimezone(TOKYO).date() < history.today:
            publish(session, fiscal_year, by=history.secretariat, now=published_on)


def play_history(session: Session, *, plan: ExecutionPlan, items, org, today: date) -> None:
    history = History(session, plan, items, org, today)
    history.play()
    review_and_publish(session, history)
    # Mail for events before today went out when they happened.
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.created_at < at(today, 0))
        .values(status=OutboxStatus.SENT, sent_at=OutboxMessage.created_at)
    )
