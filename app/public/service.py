"""Publication to citizens: what may be published, the snapshot, publish and withdraw."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, selectinload

from app.calendar import fiscal_year_of
from app.models import (
    CommitteeOpinion,
    Cycle,
    Indicator,
    Publication,
    ReformItem,
    Role,
    Section,
    User,
)
from app.text import _
from workflows import audit
from workflows.registry import definition_of
from workflows.rules import evaluation_confirmed


class PublicationError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def can_publish(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.SECRETARIAT)


def cycles_of_year(session: Session, fiscal_year: int) -> list[Cycle]:
    """Every cycle of the year with what a publication needs, in item order."""
    cycles = session.scalars(
        select(Cycle)
        .where(Cycle.fiscal_year == fiscal_year)
        .options(
            selectinload(Cycle.item).selectinload(ReformItem.viewpoint),
            selectinload(Cycle.item)
            .selectinload(ReformItem.owning_section)
            .selectinload(Section.department),
            selectinload(Cycle.item)
            .selectinload(ReformItem.indicators)
            .selectinload(Indicator.values),
            selectinload(Cycle.item).selectinload(ReformItem.related_sections),
            selectinload(Cycle.item).selectinload(ReformItem.steps),
            selectinload(Cycle.item).selectinload(ReformItem.plan),
        )
    ).all()
    return sorted(cycles, key=lambda c: c.item.sort_key)


def _number(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return format(value.normalize(), "f")


def entry_for(cycle: Cycle, opinions: list[CommitteeOpinion]) -> dict:
    """The public record of one cycle: only finished, confirmed content; the improvement
    and direction once the year is closed.

    app/reports/sheet.py reads it for every public form (page, workbook, PDF).
    """
    item = cycle.item
    state = definition_of(cycle).state(cycle.state)
    closed = bool(state and state.closes_year)
    indicators = []
    for indicator in item.indicators:
        value = indicator.value_for(cycle.fiscal_year)
        indicators.append(
            {
                "name": indicator.name,
                "unit": indicator.unit,
                "baseline": _number(indicator.baseline_value),
                "target": _number(value.target if value else None),
                "actual": _number(value.actual if value else None),
            }
        )
    return {
        "item_id": item.id,
        "number": item.number,
        "title": item.title,
        "viewpoint": item.viewpoint.number,
        "viewpoint_name": item.viewpoint.name,
        "department": item.owning_section.department.name,
        "section": item.owning_section.name,
        "related_sections": [s.name for s in item.related_sections],
        "purpose": item.purpose,
        "content": item.content,
        "goal": cycle.goal,
        "steps": [{"fiscal_year": fy, "text": item.step_for(fy)} for fy in item.plan.fiscal_years],
        "achievements": cycle.achievements,
        "indicators": indicators,
        "grade": cycle.grade.value if cycle.grade else None,
        "progress_status": cycle.progress_status.value if cycle.progress_status else None,
        "analysis": cycle.analysis,
        "issues": cycle.issues,
        "effect_amount": cycle.effect_amount,
        "effect_kind": cycle.effect_kind.value if cycle.effect_kind else None,
        "effect_basis": cycle.effect_basis,
        "improvement": cycle.improvement if closed else "",
        "direction": cycle.direction.value if cycle.direction and closed else None,
        "opinions": [
            {"opinion": o.body, "reply": o.reply_body} for o in opinions if o.body.strip()
        ],
    }


def preview(
    session: Session, fiscal_year: int, cycles: list[Cycle] | None = None
) -> tuple[list[dict], list[Cycle]]:
    """(entries that would be published, cycles left out because not yet confirmed)."""
    if cycles is None:
        cycles = cycles_of_year(session, fiscal_year)
    ready = [c for c in cycles if evaluation_confirmed(c)]
    opinions: dict[int, list[CommitteeOpinion]] = {}
    if ready:
        rows = session.scalars(
            select(CommitteeOpinion)
            .where(CommitteeOpinion.cycle_id.in_([c.id for c in ready]))
            .order_by(CommitteeOpinion.id)
        )
        for opinion in rows:
            opinions.setdefault(opinion.cycle_id, []).append(opinion)
    entries = [entry_for(c, opinions.get(c.id, [])) for c in ready]
    left_out = [c for c in cycles if not evaluation_confirmed(c) and _still_running(c)]
    return entries, left_out


def _still_running(cycle: Cycle) -> bool:
    """Not ended: an abolished cycle that was never confirmed has nothing to publish."""
    state = definition_of(cycle).state(cycle.state)
    return state is None or not state.final


def current(session: Session, fiscal_year: int, with_entries: bool = True) -> Publication | None:
    """The publication citizens see for the year (newest revision not withdrawn); without
    its entries until they are asked for, if `with_entries` is false."""
    query = (
        select(Publication)
        .where(Publication.fiscal_year == fiscal_year, Publication.withdrawn_at.is_(None))
        .order_by(Publication.revision.desc())
        .limit(1)
    )
    if not with_entries:
        query = query.options(defer(Publication.entries))
    return session.scalar(query)


def published_years(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(Publication.fiscal_year)
            .where(Publication.withdrawn_at.is_(None))
            .group_by(Publication.fiscal_year)
            .order_by(Publication.fiscal_year.desc())
        )
    )


def publish(
    session: Session, fiscal_year: int, *, by: User, now: datetime, note: str = ""
) -> Publication:
    """Freeze the year's confirmed results as a new revision of its publication."""
    if not can_publish(by):
        raise PublicationError(_("公表できるのは事務局だけです。"))
    if fiscal_year >= fiscal_year_of(now):
        raise PublicationError(_("公表できるのは終了した年度の結果だけです。"))
    entries, _left_out = preview(session, fiscal_year)
    if not entries:
        raise PublicationError(_("事務局の確認を終えた評価がないため、公表できません。"))
    last = session.scalar(
        select(func.max(Publication.revision)).where(Publication.fiscal_year == fiscal_year)
    )
    publication = Publication(
        fiscal_year=fiscal_year,
        revision=(last or 0) + 1,
        published_at=now,
        published_by_id=by.id,
        note=note.strip(),
        entries=entries,
    )
    session.add(publication)
    session.flush()
    audit.record(
        session,
        scope=f"fy:{fiscal_year}",
        action="publish",
        now=now,
        actor=by,
        comment=note.strip(),
        data={"revision": publication.revision, "items": len(entries)},
    )
    return publication


def withdraw(
    session: Session, publication: Publication, *, by: User, now: datetime, reason: str
) -> None:
    """Take a publication off the public page (the previous revision shows again)."""
    if not can_publish(by):
        raise PublicationError(_("公表を取り下げられるのは事務局だけです。"))
    if not reason.strip():
        raise PublicationError(_("取り下げの理由を入力してください。"))
    if publication.withdrawn_at is not None:
        raise PublicationError(_("この公表はすでに取り下げられています。"))
    publication.withdrawn_at = now
    publication.withdrawn_reason = reason.strip()
    session.flush()
    audit.record(
        session,
        scope=f"fy:{publication.fiscal_year}",
        action="withdraw_publication",
        now=now,
        actor=by,
        comment=reason.strip(),
        data={"revision": publication.revision},
    )
