"""Guards a definition may put on a transition: the content a submission needs.

Each guard takes the session and the cycle and raises GuardFailed (with the field to point
at) when the cycle is not ready; the machine runs them as conditions of the transition.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import exists, select
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
    if not (cycle.goal or "").strip():
        raise GuardFailed(N_("今年度の目標を入力してください。"), field="goal")
    if not _targets_of_year(session, cycle):
        raise GuardFailed(
            N_("%(year)s年度の目標値を設定した指標が1つ以上必要です。"),
            field="indicators",
            year=cycle.fiscal_year,
        )


def check_complete(session: Session, cycle: Cycle) -> None:
    if cycle.grade is None:
        raise GuardFailed(N_("達成度（A〜D）を選択してください。"), field="grade")
    if cycle.progress_status is None:
        raise GuardFailed(N_("着手状況を選択してください。"), field="progress_status")
    for value in _targets_of_year(session, cycle):
        if value.actual is None:
            raise GuardFailed(
                N_("指標「%(name)s」の%(year)s年度の実績値を入力してください。"),
                field="indicators",
                name=value.indicator.name,
                year=cycle.fiscal_year,
            )


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
    if not found:
        raise GuardFailed(
            N_("%(report)sを作成してから提出してください。"), field="reports", report=label
        )


GUARDS: dict[str, Callable[[Session, Cycle], None]] = {
    "plan_complete": plan_complete,
    "check_complete": check_complete,
    "act_complete": act_complete,
}
GUARD_NAMES = tuple(GUARDS)
