"""Rules of the committee review; each change is audited and only flushed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.calendar import local_date, wareki_fiscal_year
from app.models import (
    CommitteeOpinion,
    CommitteeQuestion,
    Cycle,
    ReformItem,
    Role,
    Section,
    User,
)
from app.outbox import enqueue
from app.secretariat.actions import refuse_if_locked
from app.text import ActionError, _
from app.validation import Invalid, check_text
from workflows import audit
from workflows.deadlines import schedule_for
from workflows.rules import (
    answers_committee,
    committee_answerers,
    confirmed_clause,
    evaluation_confirmed,
)

MAX_LENGTH = 4000


def is_reviewer(user: User) -> bool:
    """Committee members, the secretariat and administrators see every evaluation."""
    return user.is_authenticated and any(
        user.has_role(r) for r in (Role.COMMITTEE, Role.SECRETARIAT, Role.ADMIN)
    )


def is_owning_department(user: User, cycle: Cycle, today: date) -> bool:
    """Staff or head of the department owning the item, on `today`."""
    return (
        user.is_authenticated
        and user.active
        and (cycle.item.owning_section.department_id in user.departments_on(today))
    )


def can_view(user: User, cycle: Cycle, today: date) -> bool:
    return is_reviewer(user) or is_owning_department(user, cycle, today)


def can_give_opinion(user: User) -> bool:
    return user.is_authenticated and user.active and user.has_role(Role.COMMITTEE)


def can_reply(user: User, cycle: Cycle, today: date) -> bool:
    """The owning department, and whoever answers for it (a head's substitute, 代理)."""
    return is_owning_department(user, cycle, today) or (
        user.is_authenticated and answers_committee(user, cycle, today)
    )


def _tell_department(
    session: Session, cycle: Cycle, kind: str, key: str, by: User, now: datetime, body: str
) -> None:
    """Queue the mail to the people who answer for the department (in this transaction)."""
    item = cycle.item
    context = {
        "cycle_id": cycle.id,
        "item_id": item.id,
        "item_number": item.number,
        "item_title": item.title,
        "fiscal_year": cycle.fiscal_year,
        "fiscal_year_label": wareki_fiscal_year(cycle.fiscal_year),
        "department": item.owning_section.department.name,
        "section": item.owning_section.name,
        "member_name": by.name,
        "body": body,
    }
    for user in committee_answerers(cycle, local_date(now)):
        if user.id == by.id or not user.email:
            continue
        enqueue(
            session,
            kind=kind,
            recipient=user,
            context=context,
            now=now,
            cycle_id=cycle.id,
            dedupe_key=f"{key}:{user.id}",
        )


def questions_open(session: Session, cycle: Cycle, today: date) -> bool:
    """Questions (事前質問) are taken until the committee's review period starts."""
    schedule = schedule_for(session, cycle.fiscal_year)
    return schedule.committee_from is None or today < schedule.committee_from


def is_confirmed(session: Session, cycle: Cycle) -> bool:
    """The year's evaluation counts as confirmed (the one rule, `workflows.rules`)."""
    return evaluation_confirmed(cycle)


def exchanges(
    session: Session, cycle: Cycle
) -> tuple[list[CommitteeOpinion], list[CommitteeQuestion]]:
    """The cycle's opinions and questions with the department's replies, oldest first."""
    opinions = session.scalars(
        select(CommitteeOpinion)
        .where(CommitteeOpinion.cycle_id == cycle.id)
        .options(selectinload(CommitteeOpinion.member), selectinload(CommitteeOpinion.reply_by))
        .order_by(CommitteeOpinion.created_at, CommitteeOpinion.id)
    ).all()
    questions = session.scalars(
        select(CommitteeQuestion)
        .where(CommitteeQuestion.cycle_id == cycle.id)
        .options(
            selectinload(CommitteeQuestion.member), selectinload(CommitteeQuestion.answered_by)
        )
        .order_by(CommitteeQuestion.asked_at, CommitteeQuestion.id)
    ).all()
    return list(opinions), list(questions)


def reviewable(session: Session, fiscal_year: int, *, department_ids: set[int] | None = None):
    """The year's confirmed evaluations with their opinion and question counts."""
    opinions = (
        select(CommitteeOpinion.cycle_id, func.count().label("n"))
        .group_by(CommitteeOpinion.cycle_id)
        .subquery()
    )
    questions = (
        select(CommitteeQuestion.cycle_id, func.count().label("n"))
        .group_by(CommitteeQuestion.cycle_id)
        .subquery()
    )
    query = (
        select(Cycle, func.coalesce(opinions.c.n, 0), func.coalesce(questions.c.n, 0))
        .join(ReformItem, Cycle.item_id == ReformItem.id)
        .join(Section, ReformItem.owning_section_id == Section.id)
        .outerjoin(opinions, opinions.c.cycle_id == Cycle.id)
        .outerjoin(questions, questions.c.cycle_id == Cycle.id)
        .where(
            Cycle.fiscal_year == fiscal_year,
            confirmed_clause(),
        )
        .order_by(ReformItem.viewpoint_id, ReformItem.number)
        .options(
            selectinload(Cycle.item)
            .selectinload(ReformItem.owning_section)
            .selectinload(Section.department)
        )
    )
    if department_ids is not None:
        query = query.where(Section.department_id.in_(department_ids or {-1}))
    return session.execute(query).all()


def _text(value: str, what: str) -> str:
    try:
        value = check_text(value, max_length=MAX_LENGTH)
    except Invalid as exc:
        raise ActionError(exc.message(what)) from None
    if not value:
        raise ActionError(_("%(what)sを入力してください。", what=what))
    return value


def _record(
    session: Session, cycle: Cycle, action: str, by: User, now: datetime, text: str, data: dict
) -> None:
    """The audit entry of a committee exchange, in the cycle's chain."""
    audit.record(
        session,
        scope=audit.cycle_scope(cycle),
        action=action,
        now=now,
        actor=by,
        cycle=cycle,
        comment=text,
        data=data,
    )


def add_opinion(
    session: Session, cycle: Cycle, *, by: User, now: datetime, body: str
) -> CommitteeOpinion:
    """A committee member's opinion (意見) on a confirmed evaluation."""
    if not can_give_opinion(by):
        raise ActionError(_("意見を登録できるのは推進委員です。"))
    if not is_confirmed(session, cycle):
        raise ActionError(_("事務局の確認が済んだ評価にのみ意見を登録できます。"))
    refuse_if_locked(session, cycle.fiscal_year)
    opinion = CommitteeOpinion(
        cycle=cycle, member_id=by.id, created_at=now, body=_text(body, _("意見"))
    )
    session.add(opinion)
    session.flush()
    _record(session, cycle, "committee_opinion", by, now, opinion.body, {"opinion_id": opinion.id})
    _tell_department(
        session, cycle, "committee_opinion", f"opinion:{opinion.id}", by, now, opinion.body
    )
    return opinion


def reply(
    session: Session, opinion: CommitteeOpinion, *, by: User, now: datetime, body: str
) -> CommitteeOpinion:
    """The owning department's reply (対応) to an opinion."""
    cycle = opinion.cycle
    if not can_reply(by, cycle, local_date(now)):
        raise ActionError(_("対応を登録できるのは所管部の職員・部長です。"))
    refuse_if_locked(session, cycle.fiscal_year)
    opinion.reply_body = _text(body, _("対応"))
    opinion.reply_by_id = by.id
    opinion.reply_at = now
    session.flush()
    _record(
        session, cycle, "committee_reply", by, now, opinion.reply_body, {"opinion_id": opinion.id}
    )
    return opinion


def ask(
    session: Session, cycle: Cycle, *, by: User, now: datetime, question: str
) -> CommitteeQuestion:
    """A committee member's question before the meeting (事前質問)."""
    if not can_give_opinion(by):
        raise ActionError(_("事前質問を登録できるのは推進委員です。"))
    if not is_confirmed(session, cycle):
        raise ActionError(_("事務局の確認が済んだ評価にのみ質問できます。"))
    if not questions_open(session, cycle, local_date(now)):
        raise ActionError(_("委員会の審議が始まったため、事前質問の受付は終了しました。"))
    refuse_if_locked(session, cycle.fiscal_year)
    asked = CommitteeQuestion(
        cycle=cycle, member_id=by.id, asked_at=now, question=_text(question, _("質問"))
    )
    session.add(asked)
    session.flush()
    _record(
        session, cycle, "committee_question", by, now, asked.question, {"question_id": asked.id}
    )
    _tell_department(
        session, cycle, "committee_question", f"question:{asked.id}", by, now, asked.question
    )
    return asked


def answer(
    session: Session, question: CommitteeQuestion, *, by: User, now: datetime, body: str
) -> CommitteeQuestion:
    """The owning department's answer to a question."""
    cycle = question.cycle
    if not can_reply(by, cycle, local_date(now)):
        raise ActionError(_("回答を登録できるのは所管部の職員・部長です。"))
    refuse_if_locked(session, cycle.fiscal_year)
    question.answer = _text(body, _("回答"))
    question.answered_by_id = by.id
    question.answered_at = now
    session.flush()
    _record(
        session, cycle, "committee_answer", by, now, question.answer, {"question_id": question.id}
    )
    return question


def opinion_sheet(session: Session, fiscal_year: int) -> tuple[list[str], list[list]]:
    """The 意見一覧表 of a fiscal year: one row per opinion, with the department's reply."""
    opinions = session.scalars(
        select(CommitteeOpinion)
        .join(Cycle, CommitteeOpinion.cycle_id == Cycle.id)
        .join(ReformItem, Cycle.item_id == ReformItem.id)
        .where(Cycle.fiscal_year == fiscal_year)
        .order_by(ReformItem.viewpoint_id, ReformItem.number, CommitteeOpinion.created_at)
        .options(
            selectinload(CommitteeOpinion.cycle)
            .selectinload(Cycle.item)
            .selectinload(ReformItem.owning_section)
            .selectinload(Section.department),
            selectinload(CommitteeOpinion.member),
            selectinload(CommitteeOpinion.reply_by),
        )
    ).all()
    headers = [
        _("番号"),
        _("改革項目"),
        _("所管部"),
        _("所管課"),
        _("達成度"),
        _("委員"),
        _("意見"),
        _("意見の登録日時"),
        _("対応"),
        _("対応者"),
        _("対応の登録日時"),
    ]
    rows = [
        [
            o.cycle.item.number,
            o.cycle.item.title,
            o.cycle.item.owning_section.department.name,
            o.cycle.item.owning_section.name,
            o.cycle.grade.ja if o.cycle.grade else "",
            o.member.name,
            o.body,
            o.created_at,
            o.reply_body,
            o.reply_by.name if o.reply_by else "",
            o.reply_at,
        ]
        for o in opinions
    ]
    return headers, rows
