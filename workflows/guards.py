"""Guards a definition may put on a transition: the content a submission needs.

Each guard takes the session and the cycle and raises GuardFailed (with the field to point
at) when the cycle is not ready; the machine runs them as conditions of the transition.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.models import Cycle, Indicator, IndicatorValue, ProgressReport

from .errors import N_, GuardFailed


def _targets_of_year(session: Session, cycle: Cycle) -> list[IndicatorValue]:
    return list(
        session.scalars(
            select(IndicatorValue)
            .join(Indicator)
            .where(
                Indicator.item_id == cycle.item_id,
                IndicatorValue.fiscal_year == cycle.fiscal_year,
                IndicatorValue.target.is_not(None),
            )
            .order_by(Indicator.position, Indicator.id)
        )
    )


def plan_complete(session: Session, cycle: Cycle) -> None:
    _plan_judge(cycle, len(_targets_of_year(session, cycle)), "")


def check_complete(session: Session, cycle: Cycle) -> None:
    missing = next(
        (v.indicator.name for v in _targets_of_year(session, cycle) if v.actual is None), None
    )
    _check_judge(cycle, 0, missing)


def act_complete(session: Session, cycle: Cycle) -> None:
    if cycle.direction is None:
        raise GuardFailed(N_("次年度の方向性を選択してください。"), field="direction")
    if not (cycle.improvement or "").strip():
        raise GuardFailed(N_("改善策を入力してください。"), field="improvement")


def report_filed(session: Session, cycle: Cycle, kind: str, label: str) -> None:
    """A submission of a report (`report:` in the definition) needs the report itself."""
    found = session.scalar(
        select(exists().where(ProgressReport.cycle_id == cycle.id, ProgressReport.kind == kind))
    )
    report_judge(1 if found else 0, label)


GUARDS: dict[str, Callable[[Session, Cycle], None]] = {
    "plan_complete": plan_complete,
    "check_complete": check_complete,
    "act_complete": act_complete,
}
GUARD_NAMES = tuple(GUARDS)


# --- the same checks, their data read with the transition's other facts --------------
#
# A guard's `fact` is one row (number, text) of scalar subqueries that the engine reads in
# the statement that also reads the acting user's rights; its `judge` raises as the guard
# above would. The engine falls back to the guards above when the session holds changes
# not yet written, which those would flush and see.


def _targets(cycle: Cycle):
    return (
        select(IndicatorValue.id)
        .join(Indicator)
        .where(
            Indicator.item_id == cycle.item_id,
            IndicatorValue.fiscal_year == cycle.fiscal_year,
            IndicatorValue.target.is_not(None),
        )
    )


def _plan_fact(cycle: Cycle):
    return select(func.count()).select_from(_targets(cycle).subquery()).scalar_subquery(), ""


def _plan_judge(cycle: Cycle, count: int, text: str) -> None:
    if not (cycle.goal or "").strip():
        raise GuardFailed(N_("今年度の目標を入力してください。"), field="goal")
    if not count:
        raise GuardFailed(
            N_("%(year)s年度の目標値を設定した指標が1つ以上必要です。"),
            field="indicators",
            year=cycle.fiscal_year,
        )


def _check_fact(cycle: Cycle):
    first_missing = (
        select(Indicator.name)
        .join(IndicatorValue)
        .where(
            Indicator.item_id == cycle.item_id,
            IndicatorValue.fiscal_year == cycle.fiscal_year,
            IndicatorValue.target.is_not(None),
            IndicatorValue.actual.is_(None),
        )
        .order_by(Indicator.position, Indicator.id)
        .limit(1)
        .scalar_subquery()
    )
    return 0, first_missing


def _check_judge(cycle: Cycle, count: int, text: str | None) -> None:
    if cycle.grade is None:
        raise GuardFailed(N_("達成度（A〜D）を選択してください。"), field="grade")
    if cycle.progress_status is None:
        raise GuardFailed(N_("着手状況を選択してください。"), field="progress_status")
    if text is not None:
        raise GuardFailed(
            N_("指標「%(name)s」の%(year)s年度の実績値を入力してください。"),
            field="indicators",
            name=text,
            year=cycle.fiscal_year,
        )


def _act_fact(cycle: Cycle):
    return 0, ""


def _act_judge(cycle: Cycle, count: int, text: str) -> None:
    act_complete(None, cycle)  # type: ignore[arg-type] - reads the cycle only


def report_fact(cycle: Cycle, kind: str):
    """The number of reports of `kind` the cycle has (for `report:` transitions)."""
    return (
        select(func.count(ProgressReport.id))
        .where(ProgressReport.cycle_id == cycle.id, ProgressReport.kind == kind)
        .scalar_subquery()
    ), ""


def report_judge(count: int, label: str) -> None:
    if not count:
        raise GuardFailed(
            N_("%(report)sを作成してから提出してください。"), field="reports", report=label
        )


GUARD_FACTS: dict[str, tuple[Callable, Callable]] = {
    "plan_complete": (_plan_fact, _plan_judge),
    "check_complete": (_check_fact, _check_judge),
    "act_complete": (_act_fact, _act_judge),
}
