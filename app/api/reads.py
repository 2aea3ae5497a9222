"""Read endpoints: items, cycles, my tasks, the secretariat's dashboard and stuck list.

Each answer comes from the functions the pages use: `permissions.can_view_item` and
`viewable_items` decide what a user may read, `app.tasks.queries` the tasks and counts,
`app.secretariat.service` the dashboard and the stuck list with the page's filters.
"""

from __future__ import annotations

from dataclasses import replace

from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from app.calendar import fiscal_year_of
from app.extensions import db
from app.models import Cycle, Indicator, ProgressReport, ReformItem, Section
from app.secretariat import service as console
from app.tasks.queries import Task, my_tasks, task_counts
from workflows import permissions
from workflows.overdue import load_deadlines, states_of_year

from . import BEARER, cycles_bp, items_bp, secretariat_bp, serialize, tasks_bp
from . import schemas as s
from .common import (
    Refused,
    api_token,
    api_user,
    decode_cursor,
    encode_cursor,
    json_answer,
    now,
    today,
)
from .problems import problem

PRIVATE_DOC = {"security": BEARER}


def documented(blueprint, schema):
    """The usual answers of a private endpoint: `schema` on 200, problems otherwise."""

    def decorate(view):
        view = blueprint.response(200, schema)(view)
        return blueprint.doc(**PRIVATE_DOC)(view)

    return decorate


# --- Items ---------------------------------------------------------------------------------


def _item_loads():
    return (
        selectinload(ReformItem.owning_section).selectinload(Section.department),
        selectinload(ReformItem.viewpoint),
        selectinload(ReformItem.related_sections),
        selectinload(ReformItem.indicators).selectinload(Indicator.values),
        selectinload(ReformItem.cycles),
    )


def _viewable_page(query, id_column, after: int | None, limit: int, keep) -> tuple[list, bool]:
    """Walk `query` by id after the cursor in batches, keeping what `keep(batch)` allows,
    until a page (and one more, to know there is a next) is found."""
    found: list = []
    while len(found) <= limit:
        batch_query = query.order_by(id_column).limit(limit * 2 + 1)
        if after is not None:
            batch_query = batch_query.where(id_column > after)
        batch = list(db.session.scalars(batch_query))
        if not batch:
            break
        found += keep(batch)
        after = batch[-1].id
        if len(batch) < limit * 2 + 1:
            break
    return found[:limit], len(found) > limit


@items_bp.route("/items")
@items_bp.arguments(s.ItemArgs, location="query", as_kwargs=True)
@documented(items_bp, s.ItemPage)
def list_items(cursor=None, limit=50, plan_id=None, viewpoint=None, department=None):
    """改革項目の一覧（指標と目標値・実績値つき） / Reform items with indicators

    Only the items whose page the token's user may open. Cursor pagination by id.
    """
    user, day = api_user(), today()
    query = select(ReformItem).options(*_item_loads())
    reachable = permissions.viewable_items_clause(db.session, user, day)
    if reachable is not None:
        query = query.where(reachable)
    if plan_id:
        query = query.where(ReformItem.plan_id == plan_id)
    if viewpoint:
        query = query.where(ReformItem.viewpoint_id == viewpoint)
    if department:
        query = query.join(Section, Section.id == ReformItem.owning_section_id).where(
            Section.department_id == department
        )

    def keep(batch):
        allowed = permissions.viewable_items(db.session, user, day, batch)
        return [i for i in batch if i.id in allowed]

    page, more = _viewable_page(query, ReformItem.id, decode_cursor(cursor, "after"), limit, keep)
    return json_answer(
        s.ItemPage().dump(
            {
                "items": [serialize.item(i) for i in page],
                "next_cursor": encode_cursor({"after": page[-1].id}) if more else None,
            }
        )
    )


def _item_or_refuse(item_id: int) -> ReformItem:
    item = db.session.scalar(
        select(ReformItem).where(ReformItem.id == item_id).options(*_item_loads())
    )
    if item is None:
        raise Refused(problem(404))
    if not permissions.can_view_item(api_user(), item, today()):
        raise Refused(problem(403))
    return item


@items_bp.route("/items/<int:item_id>")
@documented(items_bp, s.ItemOut)
def get_item(item_id: int):
    """改革項目 / One reform item"""
    return json_answer(s.ItemOut().dump(serialize.item(_item_or_refuse(item_id))))


# --- Cycles --------------------------------------------------------------------------------


def _cycle_loads():
    return (
        selectinload(Cycle.item).selectinload(ReformItem.indicators).selectinload(Indicator.values),
        selectinload(Cycle.item).selectinload(ReformItem.cycles),
        selectinload(Cycle.item).selectinload(ReformItem.owning_section),
        selectinload(Cycle.reports).selectinload(ProgressReport.values),
        selectinload(Cycle.reports).selectinload(ProgressReport.created_by),
        selectinload(Cycle.submitted_by),
        selectinload(Cycle.extensions),
    )


def cycles_out(cycles: list[Cycle], *, with_actions: bool = False) -> list[dict]:
    """The cycles with their deadline (the year's schedule, once per year) and who must
    act (`secretariat.service.must_act`: a fixed number of queries)."""
    day = today()
    deadlines = {}
    for fy in {c.fiscal_year for c in cycles}:
        deadlines[fy] = load_deadlines(db.session, fy, day)
    acting = console.must_act(db.session, cycles, day)
    out = []
    for cycle in cycles:
        actions = None
        if with_actions:
            actions = available_actions(cycle)
        out.append(
            serialize.cycle(
                cycle,
                due=deadlines[cycle.fiscal_year].due(cycle),
                today=day,
                must_act=acting.get(cycle.id, []),
                actions=actions,
            )
        )
    return out


def available_actions(cycle: Cycle) -> list[str]:
    """What the token's user may do on the cycle now, in the API's words."""
    from app.items import service as stage

    if not api_token().allows("write"):
        return []
    user, day = api_user(), today()
    found = []
    form = stage.form_of(cycle)
    if form and stage.can_edit(user, cycle, form, day):
        found.append("save_report" if form == "report" else "save_draft")
    for transition in permissions.allowed(cycle, user, day):
        if transition.kind in ("submit", "approve", "send_back", "withdraw"):
            if transition.kind not in found:
                found.append(transition.kind)
    return found


@cycles_bp.route("/cycles")
@cycles_bp.arguments(s.CycleArgs, location="query", as_kwargs=True)
@documented(cycles_bp, s.CyclePage)
def list_cycles(cursor=None, limit=50, fiscal_year=None, item_id=None, state=None):
    """年度サイクルの一覧 / Cycles: each stage's content, state, deadline, who must act

    Only the cycles of items the token's user may open. Cursor pagination by id.
    """
    user, day = api_user(), today()
    query = select(Cycle).options(*_cycle_loads())
    reachable = permissions.viewable_items_clause(db.session, user, day)
    if reachable is not None:
        query = query.join(ReformItem, ReformItem.id == Cycle.item_id).where(reachable)
    if fiscal_year:
        query = query.where(Cycle.fiscal_year == fiscal_year)
    if item_id:
        query = query.where(Cycle.item_id == item_id)
    if state:
        query = query.where(Cycle.state == state)

    def keep(batch):
        items = list({c.item.id: c.item for c in batch}.values())
        allowed = permissions.viewable_items(db.session, user, day, items)
        return [c for c in batch if c.item_id in allowed]

    page, more = _viewable_page(query, Cycle.id, decode_cursor(cursor, "after"), limit, keep)
    return json_answer(
        s.CyclePage().dump(
            {
                "cycles": cycles_out(page),
                "next_cursor": encode_cursor({"after": page[-1].id}) if more else None,
            }
        )
    )


def cycle_or_refuse(cycle_id: int) -> Cycle:
    cycle = db.session.scalar(select(Cycle).where(Cycle.id == cycle_id).options(*_cycle_loads()))
    if cycle is None:
        raise Refused(problem(404))
    if not permissions.can_view_item(api_user(), cycle.item, today()):
        raise Refused(problem(403))
    return cycle


def cycle_answer(cycle: Cycle, status: int = 200):
    data = s.CycleOut().dump(cycles_out([cycle], with_actions=True)[0])
    return json_answer(data, status=status, version=cycle.version)


@cycles_bp.route("/cycles/<int:cycle_id>")
@documented(cycles_bp, s.CycleOut)
def get_cycle(cycle_id: int):
    """年度サイクル / One cycle

    The ETag starts with the cycle's version: send it (or just the version, `"7"`) as
    If-Match to write.
    """
    return cycle_answer(cycle_or_refuse(cycle_id))


# --- My tasks ------------------------------------------------------------------------------


def _task(task: Task) -> dict:
    cycle = task.cycle
    return {
        "cycle_id": cycle.id,
        "item_id": cycle.item.id,
        "item_number": cycle.item.number,
        "item_title": cycle.item.title,
        "fiscal_year": cycle.fiscal_year,
        "version": cycle.version,
        "state": serialize.state_of(cycle),
        "deadline": task.due,
        "days_left": task.days_left,
        "overdue": task.overdue,
        "reason": task.reason,
        "via_substitute": task.via_substitute,
    }


@tasks_bp.route("/me")
@documented(tasks_bp, s.MeOut)
def me():
    """トークンの利用者 / Who the token acts as"""
    user, token = api_user(), api_token()
    return json_answer(
        s.MeOut().dump(
            {
                "id": user.id,
                "login": user.login,
                "name": user.name,
                "roles": sorted(r.role.value for r in user.roles),
                "token_prefix": token.prefix,
                "scopes": token.scope_list,
                "token_expires_at": token.expires_at,
            }
        )
    )


@tasks_bp.route("/me/tasks/counts")
@documented(tasks_bp, s.TaskCounts)
def my_task_counts():
    """対応待ちの件数（庁内ポータル向け） / My pending counts (for the staff portal)"""
    from workflows.roles import reach_of

    counts = task_counts(db.session, reach_of(db.session, api_user(), today()))
    return json_answer(
        s.TaskCounts().dump({k: counts.get(k, 0) for k in ("staff", "decide", "confirm", "total")})
    )


@tasks_bp.route("/me/tasks")
@documented(tasks_bp, s.MyTasksOut)
def my_task_lists():
    """対応待ちの一覧 / My tasks, as on the My-tasks page"""
    tasks = my_tasks(db.session, api_user(), today())
    counts = task_counts(db.session, tasks.reach)
    return json_answer(
        s.MyTasksOut().dump(
            {
                "counts": {k: counts.get(k, 0) for k in ("staff", "decide", "confirm", "total")},
                **{
                    name: [_task(t) for t in getattr(tasks, name)]
                    for name in (
                        "to_do",
                        "sent_back",
                        "upcoming",
                        "to_decide",
                        "overdue",
                        "to_confirm",
                    )
                },
            }
        )
    )


# --- Secretariat ---------------------------------------------------------------------------


def _console_filters(args: dict, *, stuck: bool) -> console.Filters:
    """The page's Filters from the same query arguments (Filters.from_args)."""
    if not console.can_view_console(api_user()):
        raise Refused(problem(403))
    query = MultiDict({k: str(v) for k, v in args.items() if v is not None and k != "cursor"})
    if stuck:
        query["stuck"] = "1"
    return console.Filters.from_args(query, fiscal_year_of(now()))


@secretariat_bp.route("/secretariat/dashboard")
@secretariat_bp.arguments(s.ConsoleArgs, location="query", as_kwargs=True)
@documented(secretariat_bp, s.DashboardOut)
def dashboard(**args):
    """事務局ダッシュボードの件数 / Dashboard counts (secretariat; administrators may look)

    Cycles by department and stage, and how many are overdue, with the page's filters.
    """
    filters = _console_filters(args, stuck=False)
    moment = now()
    deadlines = load_deadlines(db.session, filters.fiscal_year, today())
    states = states_of_year(db.session, filters.fiscal_year)
    rows = console.matrix(db.session, filters, deadlines, states)
    stuck = replace(filters, stuck=True, page=1)
    _listed, stuck_total = console.list_cycles(
        db.session, stuck, deadlines, states, moment, limit=1
    )
    columns = []
    for column in console.columns():
        texts = {}
        for language in ("ja", "en"):
            with force_locale(language):
                texts[language] = console.column_label(column)
        columns.append({"code": column, **texts})
    return json_answer(
        s.DashboardOut().dump(
            {
                "fiscal_year": filters.fiscal_year,
                "columns": columns,
                "rows": [
                    {
                        "department": {"id": r.department.id, "name": r.department.name},
                        "counts": r.counts,
                        "overdue": r.overdue,
                        "total": r.total,
                        "total_overdue": r.total_overdue,
                    }
                    for r in rows
                ],
                "stuck_total": stuck_total,
            }
        )
    )


@secretariat_bp.route("/secretariat/stuck")
@secretariat_bp.arguments(s.ConsoleArgs, location="query", as_kwargs=True)
@documented(secretariat_bp, s.StuckPage)
def stuck(**args):
    """滞留・期限超過の一覧 / Stuck and overdue cycles (secretariat; administrators may look)

    The page's list with its filters (`days`: in the same state longer than this, default
    30). Pages of 50; the cursor names the next page.
    """
    filters = _console_filters(args, stuck=True)
    page = decode_cursor(args.get("cursor"), "page") or 1
    filters = replace(filters, page=max(page, 1))
    moment = now()
    deadlines = load_deadlines(db.session, filters.fiscal_year, today())
    states = states_of_year(db.session, filters.fiscal_year)
    listed, total = console.list_cycles(db.session, filters, deadlines, states, moment)
    more = filters.page * console.PAGE_SIZE < total
    return json_answer(
        s.StuckPage().dump(
            {
                "fiscal_year": filters.fiscal_year,
                "total": total,
                "cycles": [
                    {
                        "cycle_id": row.cycle.id,
                        "item_id": row.cycle.item.id,
                        "item_number": row.cycle.item.number,
                        "item_title": row.cycle.item.title,
                        "department": {
                            "id": row.cycle.item.owning_section.department.id,
                            "name": row.cycle.item.owning_section.department.name,
                        },
                        "fiscal_year": row.cycle.fiscal_year,
                        "version": row.cycle.version,
                        "state": serialize.state_of(row.cycle),
                        "state_since": row.cycle.state_since,
                        "deadline": row.due,
                        "days_overdue": row.days_overdue,
                        "escalation": row.escalation,
                        "last_activity": row.last_activity,
                        "must_act": [serialize.person(u) for u in row.must_act],
                        "grade": row.cycle.grade.value if row.cycle.grade else None,
                    }
                    for row in listed
                ],
                "next_cursor": encode_cursor({"page": filters.page + 1}) if more else None,
            }
        )
    )
