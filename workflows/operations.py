"""Operations on cycles: each fires one transition with the actor and the time as arguments.

An operation checks everything first (state, right, guards), then writes the new state, the
audit record and the outbox rows inside a savepoint and flushes. Any error leaves the
session as it was; only the caller commits. The cycle's `version` column makes the UPDATE
conditional on the version that was read, so of two concurrent decisions one fails with
ConflictError.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.exc import StaleDataError
from transitions import MachineError

from app.calendar import local_date
from app.models import (
    AuditEntry,
    Cycle,
    Direction,
    ExecutionPlan,
    Indicator,
    IndicatorValue,
    ItemStatus,
    Post,
    ProgressReport,
    ReformItem,
    ReportKind,
    Role,
    Substitution,
    User,
)
from notifications.outbox import enqueue

from . import audit
from .deadlines import year_locked
from .definition import PREVIOUS, Definition, Transition, get_definition
from .errors import ConflictError, GuardFailed, InvalidTransition, PermissionDenied
from .permissions import acting_for, deciders, permits, who_must_act

__all__ = [
    "abolish",
    "approve",
    "confirm",
    "fire",
    "open_cycle",
    "open_next_cycles",
    "register_substitute",
    "reopen",
    "resume",
    "revoke_substitute",
    "send_back",
    "submit",
    "suspend",
    "withdraw",
]


def _session(obj) -> Session:
    session = object_session(obj)
    if session is None:
        raise RuntimeError(f"{obj!r} is not attached to a session")
    return session


# --- guards -----------------------------------------------------------------------------


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


def guard_plan_complete(session: Session, cycle: Cycle) -> None:
    if not (cycle.goal or "").strip():
        raise GuardFailed("今年度の目標を入力してください。", field="goal")
    if not _targets_of_year(session, cycle):
        raise GuardFailed(
            f"{cycle.fiscal_year}年度の目標値を設定した指標が1つ以上必要です。", field="indicators"
        )


def guard_midyear_report(session: Session, cycle: Cycle) -> None:
    found = session.scalar(
        select(
            exists().where(
                ProgressReport.cycle_id == cycle.id, ProgressReport.kind == ReportKind.MIDYEAR
            )
        )
    )
    if not found:
        raise GuardFailed("中間報告を作成してから提出してください。", field="reports")


def guard_check_complete(session: Session, cycle: Cycle) -> None:
    if cycle.grade is None:
        raise GuardFailed("達成度（A〜D）を選択してください。", field="grade")
    if cycle.progress_status is None:
        raise GuardFailed("着手状況を選択してください。", field="progress_status")
    for value in _targets_of_year(session, cycle):
        if value.actual is None:
            raise GuardFailed(
                f"指標「{value.indicator.name}」の{cycle.fiscal_year}年度の実績値を入力してください。",
                field="indicators",
            )


def guard_act_complete(session: Session, cycle: Cycle) -> None:
    if cycle.direction is None:
        raise GuardFailed("次年度の方向性を選択してください。", field="direction")
    if not (cycle.improvement or "").strip():
        raise GuardFailed("改善策を入力してください。", field="improvement")


GUARDS: dict[str, Callable[[Session, Cycle], None]] = {
    "plan_complete": guard_plan_complete,
    "midyear_report": guard_midyear_report,
    "check_complete": guard_check_complete,
    "act_complete": guard_act_complete,
}


# --- firing -----------------------------------------------------------------------------


def _suspended_from(session: Session, cycle: Cycle) -> str | None:
    return session.scalar(
        select(AuditEntry.from_state)
        .where(AuditEntry.scope == audit.cycle_scope(cycle), AuditEntry.action == "suspend")
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    )


def _check(
    cycle: Cycle, trigger: str, by: User, today: date, comment: str, expected_version: int | None
) -> tuple[Definition, Transition]:
    """Everything that can refuse the transition, before anything is written."""
    session = _session(cycle)
    if expected_version is not None and expected_version != cycle.version:
        raise ConflictError()
    definition = get_definition(cycle.definition_version)
    transition = definition.transition(cycle.state, trigger)
    if transition is None:
        raise InvalidTransition(
            f"現在の状態（{definition.states[cycle.state].ja}）ではこの操作は実行できません。"
            if cycle.state in definition.states
            else None
        )
    if transition.decides and cycle.submitted_by_id == by.id:
        raise PermissionDenied(
            "自分が提出したものを自分で判断することはできません。", code="own_submission"
        )
    if not permits(transition, cycle, by, today):
        raise PermissionDenied()
    if transition.needs_reason and not comment:
        raise GuardFailed("理由を入力してください。", field="reason")
    with session.no_autoflush:
        if year_locked(session, cycle.fiscal_year):
            raise PermissionDenied(
                f"{cycle.fiscal_year}年度は確定（ロック）済みのため変更できません。",
                code="year_locked",
            )
    for guard in transition.guards:
        GUARDS[guard](session, cycle)
    return definition, transition


def fire(
    cycle: Cycle,
    trigger: str,
    *,
    by: User,
    now: datetime,
    comment: str = "",
    expected_version: int | None = None,
) -> AuditEntry:
    """Fire `trigger` on `cycle` as `by` at `now`; the audit entry written (flushed)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    session = _session(cycle)
    today = local_date(now)
    comment = (comment or "").strip()
    definition, transition = _check(cycle, trigger, by, today, comment, expected_version)
    previous = _suspended_from(session, cycle) if transition.dest == PREVIOUS else None
    try:
        dest = definition.next_state(cycle.state, trigger, previous=previous)
    except MachineError as exc:
        raise InvalidTransition() from exc
    on_behalf_of = acting_for(cycle, by, today) if "head" in transition.roles else None
    author = cycle.submitted_by
    from_state = cycle.state
    try:
        with session.begin_nested():
            cycle.state = dest
            cycle.state_since = now
            if trigger.startswith("submit_"):
                cycle.submitted_by_id = by.id
                cycle.submitted_by = by
                cycle.submitted_at = now
            if dest == "closed":
                cycle.closed_at = now
            elif from_state == "closed":
                cycle.closed_at = None
            # The optimistic check: UPDATE cycle ... WHERE version = <the version read>.
            session.flush()
            entry = audit.record(
                session,
                scope=audit.cycle_scope(cycle),
                action=trigger,
                now=now,
                actor=by,
                on_behalf_of=on_behalf_of,
                cycle=cycle,
                from_state=from_state,
                to_state=dest,
                comment=comment,
                data={"definition": definition.version},
            )
            _after(cycle, trigger, by=by, now=now, from_state=from_state)
            _notify(
                cycle,
                transition,
                entry,
                definition,
                by=by,
                author=author,
                on_behalf_of=on_behalf_of,
                today=today,
                now=now,
            )
    except StaleDataError as exc:
        raise ConflictError() from exc
    return entry


def _after(cycle: Cycle, trigger: str, *, by: User, now: datetime, from_state: str) -> None:
    """Effects beyond the cycle: the item's status, the next fiscal year."""
    item = cycle.item
    if trigger == "approve_act":
        _roll_over(cycle, by=by, now=now)
    elif trigger == "reopen" and from_state == "closed":
        _undo_ending(cycle, by=by, now=now)
    elif trigger == "suspend":
        item.status = ItemStatus.SUSPENDED
    elif trigger == "resume" and item.status == ItemStatus.SUSPENDED:
        item.status = ItemStatus.ACTIVE
    elif trigger == "abolish":
        item.status = ItemStatus.ABOLISHED


def _mail_context(
    cycle: Cycle, definition: Definition, entry: AuditEntry, by: User, on_behalf_of: User | None
) -> dict:
    states = definition.states
    return {
        "cycle_id": cycle.id,
        "version": cycle.version,
        "item_number": cycle.item.number,
        "item_title": cycle.item.title,
        "fiscal_year": cycle.fiscal_year,
        "trigger": entry.action,
        "state": entry.to_state,
        "state_label": states[entry.to_state].ja,
        "from_state": entry.from_state,
        "from_label": states[entry.from_state].ja,
        "actor_name": by.name,
        "on_behalf_of_name": on_behalf_of.name if on_behalf_of else "",
        "comment": entry.comment,
    }


def _notify(
    cycle: Cycle,
    transition: Transition,
    entry: AuditEntry,
    definition: Definition,
    *,
    by: User,
    author: User | None,
    on_behalf_of: User | None,
    today: date,
    now: datetime,
) -> None:
    session = _session(cycle)
    context = _mail_context(cycle, definition, entry, by, on_behalf_of)
    sent: set[tuple[str, int]] = set()
    for recipients, kind in transition.notify.items():
        if recipients == "next":
            users = who_must_act(cycle, today)
        elif recipients == "author":
            users = [author] if author is not None else []
        else:
            users = deciders(cycle.item, today)
        for user in users:
            if user.id == by.id or not user.active or (kind, user.id) in sent:
                continue
            sent.add((kind, user.id))
            enqueue(
                session,
                kind=kind,
                recipient=user,
                context=context,
                now=now,
                cycle_id=cycle.id,
                dedupe_key=f"wf:{cycle.id}:{entry.seq}:{kind}:{user.id}",
            )


# --- convenience wrappers ---------------------------------------------------------------


def _by_prefix(cycle: Cycle, prefix: str) -> str:
    definition = get_definition(cycle.definition_version)
    for trigger in definition.triggers_from(cycle.state):
        if trigger.startswith(prefix):
            return trigger
    label = definition.states[cycle.state].ja if cycle.state in definition.states else cycle.state
    raise InvalidTransition(f"現在の状態（{label}）ではこの操作は実行できません。")


def submit(
    cycle: Cycle, *, by: User, now: datetime, comment: str = "", expected_version: int | None = None
) -> AuditEntry:
    """Submit the stage the cycle is in (plan, mid-year report, check or act)."""
    return fire(
        cycle,
        _by_prefix(cycle, "submit_"),
        by=by,
        now=now,
        comment=comment,
        expected_version=expected_version,
    )


def approve(
    cycle: Cycle, *, by: User, now: datetime, comment: str = "", expected_version: int | None = None
) -> AuditEntry:
    """Approve the waiting submission (as head or a running substitute)."""
    return fire(
        cycle,
        _by_prefix(cycle, "approve_"),
        by=by,
        now=now,
        comment=comment,
        expected_version=expected_version,
    )


def send_back(
    cycle: Cycle, *, by: User, now: datetime, reason: str, expected_version: int | None = None
) -> AuditEntry:
    """Send the waiting submission back to its draft, with a reason."""
    return fire(
        cycle,
        _by_prefix(cycle, "send_back_"),
        by=by,
        now=now,
        comment=reason,
        expected_version=expected_version,
    )


def withdraw(
    cycle: Cycle, *, by: User, now: datetime, comment: str = "", expected_version: int | None = None
) -> AuditEntry:
    """Withdraw one's own submission before a decision."""
    return fire(
        cycle,
        _by_prefix(cycle, "withdraw_"),
        by=by,
        now=now,
        comment=comment,
        expected_version=expected_version,
    )


def confirm(
    cycle: Cycle, *, by: User, now: datetime, comment: str = "", expected_version: int | None = None
) -> AuditEntry:
    """The secretariat confirms the head-approved Check."""
    return fire(
        cycle,
        _by_prefix(cycle, "confirm_"),
        by=by,
        now=now,
        comment=comment,
        expected_version=expected_version,
    )


def reopen(
    cycle: Cycle, *, by: User, now: datetime, reason: str, expected_version: int | None = None
) -> AuditEntry:
    """The secretariat reopens an approved stage, with a reason."""
    return fire(cycle, "reopen", by=by, now=now, comment=reason, expected_version=expected_version)


def suspend(
    cycle: Cycle, *, by: User, now: datetime, reason: str, expected_version: int | None = None
) -> AuditEntry:
    """The secretariat suspends the item's cycle, with a reason."""
    return fire(cycle, "suspend", by=by, now=now, comment=reason, expected_version=expected_version)


def resume(
    cycle: Cycle, *, by: User, now: datetime, comment: str = "", expected_version: int | None = None
) -> AuditEntry:
    """The secretariat resumes a suspended cycle in the state it was suspended in."""
    return fire(cycle, "resume", by=by, now=now, comment=comment, expected_version=expected_version)


def abolish(
    cycle: Cycle, *, by: User, now: datetime, reason: str, expected_version: int | None = None
) -> AuditEntry:
    """The secretariat abolishes the item's cycle, with a reason."""
    return fire(cycle, "abolish", by=by, now=now, comment=reason, expected_version=expected_version)


# --- opening cycles and the yearly rollover ---------------------------------------------


def _ensure_indicator_values(session: Session, item: ReformItem, fiscal_year: int) -> None:
    for indicator in item.indicators:
        if indicator.value_for(fiscal_year) is None:
            indicator.values.append(IndicatorValue(fiscal_year=fiscal_year, target=None))
    session.flush()


def find_cycle(session: Session, item: ReformItem, fiscal_year: int) -> Cycle | None:
    return session.scalar(
        select(Cycle).where(Cycle.item_id == item.id, Cycle.fiscal_year == fiscal_year)
    )


def open_cycle(
    item: ReformItem,
    fiscal_year: int,
    *,
    now: datetime,
    by: User | None = None,
    carried_over: str = "",
) -> Cycle:
    """The item's cycle of `fiscal_year`, opened in the initial state if it does not exist."""
    session = _session(item)
    existing = find_cycle(session, item, fiscal_year)
    if existing is not None:
        return existing
    definition = get_definition()
    with session.begin_nested():
        cycle = Cycle(
            item=item,
            fiscal_year=fiscal_year,
            state=definition.initial,
            definition_version=definition.version,
            state_since=now,
            opened_at=now,
            carried_over=carried_over,
        )
        session.add(cycle)
        _ensure_indicator_values(session, item, fiscal_year)
        session.flush()
        audit.record(
            session,
            scope=audit.cycle_scope(cycle),
            action="open",
            now=now,
            actor=by,
            cycle=cycle,
            to_state=definition.initial,
            data={"definition": definition.version, "carried_over": bool(carried_over)},
        )
    return cycle


def _carry_text(previous: Cycle) -> str:
    text = (previous.improvement or "").strip()
    if not text:
        return ""
    return f"【{previous.fiscal_year}年度の改善策】\n{text}"


def open_next_cycles(session: Session, fiscal_year: int, *, now: datetime) -> list[Cycle]:
    """Open `fiscal_year`'s cycles of the active items (1 April); the newly opened ones."""
    items = session.scalars(
        select(ReformItem)
        .join(ExecutionPlan)
        .where(
            ReformItem.status == ItemStatus.ACTIVE,
            ExecutionPlan.start_fy <= fiscal_year,
            ExecutionPlan.end_fy >= fiscal_year,
        )
        .order_by(ReformItem.id)
    ).all()
    opened: list[Cycle] = []
    for item in items:
        if find_cycle(session, item, fiscal_year) is not None:
            continue
        previous = find_cycle(session, item, fiscal_year - 1)
        if previous is not None and previous.direction is not None and previous.direction.ends_item:
            continue
        carried = (
            _carry_text(previous) if previous is not None and previous.state == "closed" else ""
        )
        opened.append(open_cycle(item, fiscal_year, now=now, carried_over=carried))
    return opened


def _ended_status(direction: Direction) -> ItemStatus:
    return ItemStatus.COMPLETED if direction == Direction.COMPLETE else ItemStatus.ABOLISHED


def _later_cycles(session: Session, cycle: Cycle) -> list[Cycle]:
    return list(
        session.scalars(
            select(Cycle)
            .where(Cycle.item_id == cycle.item_id, Cycle.fiscal_year > cycle.fiscal_year)
            .order_by(Cycle.fiscal_year)
        )
    )


def _set_state(
    cycle: Cycle, state: str, *, action: str, by: User, now: datetime, comment: str, data: dict
) -> None:
    """Move a cycle as a consequence of another cycle's decision, on the record."""
    session = _session(cycle)
    from_state = cycle.state
    cycle.state = state
    cycle.state_since = now
    session.flush()
    audit.record(
        session,
        scope=audit.cycle_scope(cycle),
        action=action,
        now=now,
        actor=by,
        cycle=cycle,
        from_state=from_state,
        to_state=state,
        comment=comment,
        data=data,
    )


def _undo_ending(cycle: Cycle, *, by: User, now: datetime) -> None:
    """Reopening an Act that ended the item: the item is active again, its later years resume."""
    session = _session(cycle)
    item = cycle.item
    if cycle.direction is None or not cycle.direction.ends_item:
        return
    if item.status != _ended_status(cycle.direction):
        return
    item.status = ItemStatus.ACTIVE
    cause = f"cycle:{cycle.id}"
    for later in _later_cycles(session, cycle):
        if later.state != "abolished":
            continue
        last = session.scalar(
            select(AuditEntry)
            .where(AuditEntry.scope == audit.cycle_scope(later))
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        )
        if last is None or last.action != "abolish" or (last.data or {}).get("cause") != cause:
            continue
        _set_state(
            later,
            last.from_state or get_definition(later.definition_version).initial,
            action="resume",
            by=by,
            now=now,
            comment=f"{cycle.fiscal_year}年度の改善が前の段階に戻されたため、廃止を取り消し",
            data={"cause": f"reopen:{cause}"},
        )


def _roll_over(cycle: Cycle, *, by: User, now: datetime) -> None:
    """Approving Act: carry the measures into next year, or end the item."""
    session = _session(cycle)
    item = cycle.item
    next_fy = cycle.fiscal_year + 1
    following = find_cycle(session, item, next_fy)
    if cycle.direction is not None and cycle.direction.ends_item:
        item.status = _ended_status(cycle.direction)
        reason = f"{cycle.fiscal_year}年度の改善で「{cycle.direction.ja}」と決定したため"
        for later in _later_cycles(session, cycle):
            if later.state in ("closed", "abolished"):
                continue
            # The next year's cycle is usually under way (plan approved in April) when the
            # previous year's Act is approved in June: it ends with the item.
            _set_state(
                later,
                "abolished",
                action="abolish",
                by=by,
                now=now,
                comment=reason,
                data={"cause": f"cycle:{cycle.id}"},
            )
        return
    if item.plan.end_fy < next_fy or item.status != ItemStatus.ACTIVE:
        return
    text = _carry_text(cycle)
    if following is None:
        open_cycle(item, next_fy, now=now, by=by, carried_over=text)
        return
    if text and text not in (following.carried_over or ""):
        following.carried_over = "\n\n".join(p for p in (following.carried_over, text) if p)
        session.flush()
        audit.record(
            session,
            scope=audit.cycle_scope(following),
            action="carry_over",
            now=now,
            actor=by,
            cycle=following,
            comment=text,
            data={"from_cycle": cycle.id},
        )


# --- substitutes (代理) -----------------------------------------------------------------


def register_substitute(
    post: Post,
    *,
    substitute: User,
    starts_on: date,
    ends_on: date,
    by: User,
    now: datetime,
    reason: str = "",
) -> Substitution:
    """Let `substitute` decide for `post` from `starts_on` to `ends_on` (inclusive)."""
    session = _session(post)
    today = local_date(now)
    holder_ids = {u.id for u in post.holders(today)} | {u.id for u in post.holders(starts_on)}
    if not (
        by.active
        and (by.id in holder_ids or by.has_role(Role.ADMIN) or by.has_role(Role.SECRETARIAT))
    ):
        raise PermissionDenied("代理者を登録できるのは、その役職の本人、事務局または管理者です。")
    if substitute.id == by.id or substitute.id in holder_ids:
        raise GuardFailed("本人を代理者にすることはできません。", field="substitute")
    if not substitute.active:
        raise GuardFailed("無効な利用者は代理者にできません。", field="substitute")
    if ends_on < starts_on:
        raise GuardFailed("終了日は開始日以降の日付にしてください。", field="ends_on")
    with session.begin_nested():
        substitution = Substitution(
            post=post,
            substitute=substitute,
            starts_on=starts_on,
            ends_on=ends_on,
            reason=(reason or "").strip(),
            created_by=by,
            created_at=now,
        )
        session.add(substitution)
        session.flush()
        audit.record(
            session,
            scope=f"post:{post.id}",
            action="register_substitute",
            now=now,
            actor=by,
            comment=substitution.reason,
            data={
                "substitution": substitution.id,
                "substitute": substitute.id,
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat(),
            },
        )
    return substitution


def revoke_substitute(
    substitution: Substitution, *, by: User, now: datetime, reason: str = ""
) -> Substitution:
    """End a substitution now; it gives no rights afterwards."""
    session = _session(substitution)
    post = substitution.post
    today = local_date(now)
    allowed = (
        by in post.holders(today)
        or by.has_role(Role.ADMIN)
        or by.has_role(Role.SECRETARIAT)
        or by.id == substitution.created_by_id
    )
    if not (by.active and allowed):
        raise PermissionDenied("代理の取消しを行う権限がありません。")
    if substitution.revoked_at is not None:
        return substitution
    with session.begin_nested():
        substitution.revoked_at = now
        session.flush()
        audit.record(
            session,
            scope=f"post:{post.id}",
            action="revoke_substitute",
            now=now,
            actor=by,
            comment=(reason or "").strip(),
            data={"substitution": substitution.id},
        )
    return substitution
