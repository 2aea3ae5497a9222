"""Models as the API's dictionaries (dumped through the schemas of schemas.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask_babel import force_locale

from app.models import Cycle, ReformItem, User
from workflows.registry import definition_of
from workflows.rules import is_overdue


def number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def person(user: User | None) -> dict | None:
    return None if user is None else {"id": user.id, "name": user.name}


def state_of(cycle: Cycle) -> dict:
    definition = definition_of(cycle)
    state = definition.state(cycle.state)
    stage = definition.stage_of(cycle.state)
    stage_obj = definition.stages.get(stage) if stage else None
    return {
        "code": cycle.state,
        "ja": state.label("ja") if state else cycle.state,
        "en": state.label("en") if state else cycle.state,
        "stage": stage,
        "stage_ja": stage_obj.label("ja") if stage_obj else None,
        "stage_en": stage_obj.label("en") if stage_obj else None,
        "final": bool(state and state.final),
    }


def label_in_both(render) -> dict:
    out = {}
    for language in ("ja", "en"):
        with force_locale(language):
            out[language] = render()
    return out


def item(item: ReformItem) -> dict:
    section = item.owning_section
    return {
        "id": item.id,
        "number": item.number,
        "title": item.title,
        "purpose": item.purpose,
        "content": item.content,
        "status": item.status.value,
        "plan_id": item.plan_id,
        "viewpoint": {
            "id": item.viewpoint.id,
            "number": item.viewpoint.number,
            "name": item.viewpoint.name,
        },
        "department": {"id": section.department.id, "name": section.department.name},
        "section": {"id": section.id, "name": section.name},
        "related_sections": [{"id": s.id, "name": s.name} for s in item.related_sections],
        "indicators": [
            {
                "id": i.id,
                "position": i.position,
                "name": i.name,
                "unit": i.unit,
                "baseline": number(i.baseline_value),
                "baseline_fy": i.baseline_fy,
                "values": [
                    {
                        "fiscal_year": v.fiscal_year,
                        "target": number(v.target),
                        "actual": number(v.actual),
                    }
                    for v in sorted(i.values, key=lambda v: v.fiscal_year)
                ],
            }
            for i in item.indicators
        ],
        "cycles": [
            {"id": c.id, "fiscal_year": c.fiscal_year, "state": c.state, "version": c.version}
            for c in item.cycles
        ],
    }


def cycle(
    cycle: Cycle,
    *,
    due: date | None,
    today: date,
    must_act: list[User],
    actions: list[str] | None = None,
) -> dict:
    item = cycle.item
    out = {
        "id": cycle.id,
        "version": cycle.version,
        "item_id": item.id,
        "item_number": item.number,
        "item_title": item.title,
        "fiscal_year": cycle.fiscal_year,
        "definition_version": cycle.definition_version,
        "state": state_of(cycle),
        "state_since": cycle.state_since,
        "deadline": due,
        "overdue": bool(due and is_overdue(due, today)),
        "must_act": [person(u) for u in must_act],
        "submitted_by": person(cycle.submitted_by),
        "submitted_at": cycle.submitted_at,
        "closed_at": cycle.closed_at,
        "plan": {
            "goal": cycle.goal,
            "schedule_q1": cycle.schedule_q1,
            "schedule_q2": cycle.schedule_q2,
            "schedule_q3": cycle.schedule_q3,
            "schedule_q4": cycle.schedule_q4,
            "carried_over": cycle.carried_over,
        },
        "reports": [
            {
                "id": r.id,
                "kind": r.kind,
                "as_of": r.as_of,
                "body": r.body,
                "created_by": person(r.created_by),
                "values": [
                    {"indicator_id": v.indicator_id, "value": number(v.value)} for v in r.values
                ],
            }
            for r in sorted(cycle.reports, key=lambda r: (r.as_of, r.id))
        ],
        "check": {
            "grade": cycle.grade.value if cycle.grade else None,
            "progress_status": cycle.progress_status.value if cycle.progress_status else None,
            "achievements": cycle.achievements,
            "analysis": cycle.analysis,
            "issues": cycle.issues,
            "effect_amount": cycle.effect_amount,
            "effect_kind": cycle.effect_kind.value if cycle.effect_kind else None,
            "effect_basis": cycle.effect_basis,
            "actuals": [
                {
                    "indicator_id": i.id,
                    "target": number(v.target) if (v := i.value_for(cycle.fiscal_year)) else None,
                    "actual": number(v.actual) if v else None,
                }
                for i in item.indicators
            ],
            "confirmed_at": cycle.confirmed_at,
        },
        "act": {
            "improvement": cycle.improvement,
            "direction": cycle.direction.value if cycle.direction else None,
        },
    }
    if actions is not None:
        out["actions"] = actions
    return out
