"""The demo's history: every item's years, played through the real workflow operations.

Whatever the workflow definition says, a year is played by walking its normal path (from
the first state to the one that closes the year, moving forward only) and firing each
transition as someone who plays its role on that day. Where an item stops in the current
fiscal year (and in the previous one) is said by meaning -- "waiting for a decision in the
plan stage", "after the evaluation was confirmed" -- so that a changed definition (a
hearing, a 副市長 approval) still loads, and the demo shows every kind of state: overdue
drafts, send-backs, decisions waiting for a head or for the secretariat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.calendar import TOKYO, fiscal_year_of, previous_business_day
from app.models import (
    PROGRESS_REPORT,
    CommitteeOpinion,
    CommitteeQuestion,
    Cycle,
    Direction,
    EffectKind,
    ExecutionPlan,
    Grade,
    OutboxMessage,
    OutboxStatus,
    ProgressReport,
    ProgressStatus,
    ProgressValue,
    ReformItem,
    User,
)
from app.public.service import publish
from notifications.snapshots import snapshot_overdue
from workflows import operations
from workflows.definition import Definition, Transition
from workflows.registry import definition_of, get_definition
from workflows.roles import people
from workflows.rules import evaluation_confirmed


@dataclass(frozen=True)
class Stop:
    """Where a year stops, said by meaning.

    kind: "open" (nothing done), "waiting" (a decision waits in `stage`), "after" (the
    year has moved past `stage`), "role" (waits for `role` in `stage`), "confirmed" (just
    after the evaluation was confirmed), "whole_year" (the year closed).
    then: "send_back" (the waiting decision sends it back) or "late" (submitted after the
    deadline).
    """

    kind: str
    stage: str | None = None
    role: str | None = None
    then: str | None = None


# Where the current fiscal year's cycle stops, by item number (the rest: after Do).
CURRENT_YEAR_STOPS = {
    "1-2": Stop("open"),
    "4-5": Stop("waiting", "plan", then="send_back"),
    "3-3": Stop("waiting", "plan", then="late"),
    "2-1": Stop("after", "plan"),
    "4-6": Stop("after", "plan"),
    "5-4": Stop("waiting", "do", then="send_back"),
    "1-4": Stop("waiting", "do"),
    "1-5": Stop("waiting", "do"),
    "3-4": Stop("waiting", "do"),
    "4-7": Stop("waiting", "do"),
}
CURRENT_DEFAULT = Stop("after", "do")
# Where the previous fiscal year's cycle stops (the rest: closed).
PREVIOUS_YEAR_STOPS = {
    "2-4": Stop("role", "check", role="secretariat"),
    "4-3": Stop("role", "check", role="secretariat"),
    "5-5": Stop("confirmed"),
    "1-3": Stop("waiting", "act"),
}
WHOLE_YEAR = Stop("whole_year")
SEND_BACK_REASONS = {
    "plan": "目標値の根拠が不明確です。前年度の実績を踏まえて再設定してください。",
    "do": "指標の実績値（9月末時点）が記入されていません。追記のうえ再提出してください。",
}
SEND_BACK_DEFAULT = "内容を確認し、修正のうえ再提出してください。"
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
# Days between the steps of one stage, counted back from its deadline.
STEP_GAP = 10


@dataclass(order=True)
class Event:
    when: datetime
    order: int
    item_number: str = ""
    fiscal_year: int = 0
    run: Callable[[datetime], None] | None = field(default=None, compare=False)


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=TOKYO).astimezone(UTC)


def stop_index(definition: Definition, path: list[Transition], stop: Stop) -> int:
    """How many transitions of the normal path to fire to reach `stop`."""
    states = [definition.initial] + [t.dest for t in path]
    order = list(definition.stages)

    def stage_rank(state: str) -> int:
        stage = definition.stage_of(state)
        return order.index(stage) if stage else len(order)

    for k, name in enumerate(states):
        state = definition.states[name]
        if stop.kind == "open":
            return 0
        if stop.kind == "waiting" and state.stage == stop.stage:
            if name in definition.deciding_states:
                return k
        elif stop.kind == "after" and stop.stage in order:
            if stage_rank(name) > order.index(stop.stage):
                return k
        elif stop.kind == "role" and state.stage == stop.stage and state.actor == stop.role:
            return k
        elif stop.kind == "confirmed" and k > 0 and path[k - 1].confirms:
            return k
    return len(path)


def schedule_path(definition: Definition, path: list[Transition], fiscal_year: int) -> list[date]:
    """A plausible day for each transition: a stage's steps spaced before its deadline, none
    before the previous stage's deadline (or the first days of April)."""
    by_stage: dict[str, list[int]] = {}
    for i, t in enumerate(path):
        by_stage.setdefault(definition.stage_of(t.sources[0]) or "", []).append(i)
    days: dict[int, date] = {}
    start = date(fiscal_year, 4, 3)
    for name, stage in definition.stages.items():
        due = stage.default_due(fiscal_year)
        indexes = by_stage.get(name, [])
        gap = min(STEP_GAP, max(1, (due - start).days // (len(indexes) + 1)))
        for j, i in enumerate(indexes):
            days[i] = due - timedelta(days=gap * (len(indexes) - j))
        start = due + timedelta(days=1)
    return [days.get(i, date(fiscal_year + 1, 3, 1)) for i in range(len(path))]


class History:
    def __init__(self, session: Session, plan: ExecutionPlan, items, org, today: date):
        self.session = session
        self.plan = plan
        self.items = {item.number: (item, raw) for item, raw in items}
        self.org = org
        self.today = today
        self.current_fy = fiscal_year_of(today)
        self.secretariat = org.users["jimukyoku"]
        self.definition = get_definition()
        self.path = self.definition.normal_path()

    # -- who acts --------------------------------------------------------------------
    def staff(self, item: ReformItem, day: date) -> User:
        return self.org.staff_posts[item.owning_section.code].holders(day)[0]

    def actor(self, cycle: Cycle, transition: Transition, day: date) -> User:
        """Someone who plays the transition's role on the day, the post holder first."""
        definition = definition_of(cycle)
        for role in transition.roles:
            found = [
                u
                for u in people(definition.roles[role], cycle.item, day, cycle.submitted_by)
                if not (transition.decides and u.id == cycle.submitted_by_id)
            ]
            if found:
                return found[0]
        raise LookupError(f"nobody may fire {transition.trigger} for {cycle.item.number} on {day}")

    # -- the timeline ----------------------------------------------------------------
    def stop_for(self, number: str, fy: int) -> Stop:
        if fy == self.current_fy:
            return CURRENT_YEAR_STOPS.get(number, CURRENT_DEFAULT)
        if fy == self.current_fy - 1:
            return PREVIOUS_YEAR_STOPS.get(number, WHOLE_YEAR)
        return WHOLE_YEAR

    def year_events(self, number: str, raw: dict, fy: int, jitter: int) -> list[Event]:
        end = raw.get("end")
        if end and fy > end[0]:
            return []
        stop = self.stop_for(number, fy)
        k = stop_index(self.definition, self.path, stop)
        days = schedule_path(self.definition, self.path, fy)
        events = []
        for i, transition in enumerate(self.path[:k]):
            day = days[i] + timedelta(days=jitter)
            if stop.then == "late" and i == k - 1:
                stage = self.definition.stage_of(transition.sources[0])
                day = self.definition.stages[stage].default_due(fy) + timedelta(days=12)
            day = previous_business_day(day)
            events.append(self._event(day, i + 1, number, fy, self._fire(number, fy, transition)))
            form = self.definition.states[transition.dest].form
            if form == "report" and i + 1 < len(self.path):
                # A progress report during Do, before the mid-year report.
                report_day = previous_business_day(date(fy, 7, 15) + timedelta(days=jitter))
                events.append(
                    self._event(report_day, i + 1, number, fy, self._progress(number, fy))
                )
        if stop.then == "send_back" and k:
            waiting = self.path[k - 1].dest
            back = self.definition.of_kind(waiting, "send_back")
            if back is not None:
                day = previous_business_day(days[k - 1] + timedelta(days=5 + jitter))
                events.append(self._event(day, k + 1, number, fy, self._fire(number, fy, back)))
        return events

    @staticmethod
    def _event(
        day: date, order: int, number: str, fy: int, run: Callable[[datetime], None]
    ) -> Event:
        return Event(at(day, 9 + order % 8), order, number, fy, run)

    def timeline(self) -> list[Event]:
        events: list[Event] = []
        for fy in range(self.plan.start_fy, self.current_fy + 1):
            events.append(Event(at(date(fy, 4, 1), 6), 0, "", fy, self._rollover(fy)))
        # The secretariat's weekly overdue count, taken as the year went (for its chart).
        monday = date(self.current_fy - 1, 4, 1)
        monday += timedelta(days=(7 - monday.weekday()) % 7)
        while monday < self.today:
            events.append(Event(at(monday, 7), 0, "", fiscal_year_of(monday), self._snapshot()))
            monday += timedelta(days=7)
        for index, (number, (_item, raw)) in enumerate(sorted(self.items.items())):
            for fy in range(self.plan.start_fy, self.current_fy + 1):
                events += self.year_events(number, raw, fy, index % 5)
        return sorted(e for e in events if e.when.astimezone(TOKYO).date() < self.today)

    def play(self) -> None:
        for event in self.timeline():
            event.run(event.when)
        self.session.flush()

    # -- what each event does ----------------------------------------------------------
    def _rollover(self, fy: int) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            operations.open_next_cycles(self.session, fy, now=now)

        return run

    def _snapshot(self) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            self.session.flush()
            snapshot_overdue(self.session, now.astimezone(TOKYO).date())

        return run

    def cycle(self, number: str, fy: int) -> Cycle:
        item, _raw = self.items[number]
        return next(c for c in item.cycles if c.fiscal_year == fy)

    def _fire(self, number: str, fy: int, transition: Transition) -> Callable[[datetime], None]:
        """Fill in what the submission needs, then fire the transition as its role."""

        def run(now: datetime) -> None:
            cycle = self.cycle(number, fy)
            day = now.astimezone(TOKYO).date()
            if transition.submits:
                self.fill(cycle, self.definition.states[cycle.state].form, day)
            if transition.report:
                self.report(
                    cycle,
                    transition.report,
                    now,
                    0.55,
                    "上半期は概ね計画どおり進捗している。下半期に向けて関係課と課題を共有した。",
                )
            comment = ""
            if transition.needs_reason:
                stage = self.definition.stage_of(cycle.state) or ""
                comment = SEND_BACK_REASONS.get(stage, SEND_BACK_DEFAULT)
            operations.fire(
                cycle,
                transition.trigger,
                by=self.actor(cycle, transition, day),
                now=now,
                comment=comment,
            )

        return run

    def _progress(self, number: str, fy: int) -> Callable[[datetime], None]:
        def run(now: datetime) -> None:
            self.report(
                self.cycle(number, fy),
                PROGRESS_REPORT,
                now,
                0.3,
                "第1四半期の取組を計画どおり実施した。",
            )

        return run

    # -- the contents staff write ------------------------------------------------------
    def fill(self, cycle: Cycle, form: str | None, day: date) -> None:
        item = cycle.item
        fy = cycle.fiscal_year
        raw = self.items[item.number][1]
        if form == "plan" and not cycle.goal:
            cycle.goal = f"{item.title}を計画どおり進め、{fy}年度の目標値を達成する。"
            cycle.schedule_q1 = "前年度の評価を踏まえた実施方針の決定、関係課との調整"
            cycle.schedule_q2 = "事業の実施、上半期の進捗確認"
            cycle.schedule_q3 = "事業の実施、中間報告を踏まえた見直し"
            cycle.schedule_q4 = "実績の取りまとめ、次年度に向けた課題整理"
        elif form == "check":
            self.evaluate(cycle)
        elif form == "act":
            self.improve(cycle, raw)

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

    def report(self, cycle: Cycle, kind: str, now: datetime, fraction: float, body: str) -> None:
        item = cycle.item
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
        self.session.flush()

    def evaluate(self, cycle: Cycle) -> None:
        item = cycle.item
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
        cycle.achievements = achievements(item, cycle.grade)
        if item.number in EFFECTS:
            kind, basis = EFFECTS[item.number]
            cycle.effect_amount = 1_000_000 * (int(item.number[-1]) + cycle.fiscal_year % 7) + (
                123_456 if kind is EffectKind.REVENUE else 0
            )
            cycle.effect_kind = kind
            cycle.effect_basis = basis

    def improve(self, cycle: Cycle, raw: dict) -> None:
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


# 効果額 of the demo: (kind, 算定根拠) per item number.
EFFECTS = {
    "2-5": (
        EffectKind.REVENUE,
        "未利用市有地の売却収入（不動産鑑定評価額による一般競争入札）と"
        "旧職員駐車場用地の貸付収入の合計。",
    ),
    "4-4": (
        EffectKind.SAVING,
        "見直した補助金（廃止3件・減額12件）の前年度交付額と当年度交付額の差額の合計。",
    ),
    "5-2": (
        EffectKind.SAVING,
        "時間外勤務の縮減時間（前年度比）× 時間外勤務手当の平均単価（1時間 2,950円）。",
    ),
    "5-3": (
        EffectKind.OTHER,
        "RPA・AIによる削減時間 × 職員の平均時間単価（1時間 4,100円）。"
        "人件費の削減ではなく、企画業務に振り向けた時間として算定。",
    ),
}

ACHIEVED = {
    Grade.A: "年間計画どおり実施した。",
    Grade.B: "概ね年間計画どおり実施した。",
    Grade.C: "一部の取組は関係機関との調整が続き、次年度に持ち越した。",
    Grade.D: "事業の開始が遅れ、予定した取組の多くを次年度に持ち越した。",
}


def achievements(item, grade: Grade | None) -> str:
    """取組実績 of a demo cycle: what was done, as facts (the figures are the indicators')."""
    return f"{item.content.rstrip('。')}取組を、{ACHIEVED[grade or Grade.B]}"


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
    asked_on, replied_on = at(date(year + 1, 7, 14)), at(date(year + 1, 8, 4))
    if asked_on.astimezone(TOKYO).date() < history.today:
        for rows, model in ((COMMITTEE_REVIEW, CommitteeOpinion), (QUESTIONS, CommitteeQuestion)):
            for number, login, text, reply in rows:
                item, _raw = history.items[number]
                cycle = next((c for c in item.cycles if c.fiscal_year == year), None)
                if cycle is None or not evaluation_confirmed(cycle):
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
