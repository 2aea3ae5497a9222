"""`flask demo load`: a realistic demo of Iruma City's reform outline and its execution plan.

The outline's text comes from the city's published outline (app/demo_data/outline.yaml);
the organisation and the reform items are realistic examples. Each item's history is
made by driving the real workflow operations day by day, so the audit trail, the
states and the outbox are exactly what the engine would have produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import click
import yaml
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from app.calendar import TOKYO, fiscal_year_of, local_date
from app.extensions import db
from app.models import (
    DEFAULT_POST_KINDS,
    Department,
    ExecutionPlan,
    Indicator,
    IndicatorValue,
    ItemStep,
    Outline,
    Post,
    PostAssignment,
    PostKind,
    PromotionDirection,
    ReformItem,
    Role,
    Section,
    Substitution,
    User,
    UserRole,
    Viewpoint,
)
from app.text import number as shown_number
from workflows.deadlines import default_schedule
from workflows.registry import get_definition

DATA = Path(__file__).parent / "demo_data"
DEMO_PASSWORD = "kaikaku-demo"
SINCE = date(2021, 4, 1)

demo_cli = AppGroup("demo", help="The demo data of Iruma City's reform outline.")


def _read(name: str) -> dict:
    with open(DATA / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@dataclass
class DemoOrg:
    users: dict[str, User] = field(default_factory=dict)
    sections: dict[str, Section] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    head_posts: dict[str, Post] = field(default_factory=dict)
    staff_posts: dict[str, Post] = field(default_factory=dict)
    first_holding: dict[Post, PostAssignment] = field(default_factory=dict)


def _user(
    org: DemoOrg,
    session: Session,
    login: str,
    name: str,
    password_hash: str,
    roles: tuple[Role, ...] = (),
) -> User:
    user = User(login=login, name=name, email=f"{login}@city.iruma.example.jp")
    user.set_password_hash(password_hash)
    user.roles = [UserRole(role=r) for r in roles]
    session.add(user)
    org.users[login] = user
    return user


def _hold(
    org: DemoOrg, session: Session, user: User, post: Post, starts: date, ends: date | None = None
) -> None:
    assignment = PostAssignment(user=user, post=post, starts_on=starts, ends_on=ends)
    org.first_holding.setdefault(post, assignment)
    session.add(assignment)


def load_outline(session: Session) -> tuple[Outline, ExecutionPlan]:
    data = _read("outline.yaml")
    outline = Outline(
        city=data["city"],
        title=data["title"],
        basic_idea=data["basic_idea"],
        basic_idea_points=data["basic_idea_points"],
        preface=data["preface"],
        revised_on=data["revised_on"],
        review_every_years=data["review_every_years"],
    )
    for number, vp in enumerate(data["viewpoints"], start=1):
        viewpoint = Viewpoint(
            number=number, name=vp["name"], subtitle=vp["subtitle"], name_en=vp["name_en"]
        )
        viewpoint.directions = [
            PromotionDirection(position=i, text=t) for i, t in enumerate(vp["directions"], start=1)
        ]
        outline.viewpoints.append(viewpoint)
    plan = ExecutionPlan(outline=outline, **data["plan"])
    session.add_all([outline, plan])
    return outline, plan


def load_org(session: Session, password: str, today: date) -> DemoOrg:
    data = _read("org.yaml")
    # Every demo user shares the demo password: hash it once (scrypt is slow on purpose).
    password = generate_password_hash(password)
    org = DemoOrg()
    for code, name, name_en in DEFAULT_POST_KINDS:
        PostKind.ensure(session, code, name, name_en)
    for city in data["city_posts"]:
        PostKind.ensure(session, city["kind"], city["kind_name"], city["kind_en"])
        post = Post(code=city["code"], name=city["name"], kind_code=city["kind"])
        session.add(post)
        user = _user(org, session, city["login"], city["person"], password)
        _hold(org, session, user, post, SINCE)
    for d_pos, dept_data in enumerate(data["departments"], start=1):
        dept = Department(
            code=dept_data["code"], name=dept_data["name"], name_en=dept_data["en"], position=d_pos
        )
        org.departments[dept.code] = dept
        head_login, head_name = dept_data["head"]
        head_post = Post(
            code=f"{dept.code}-HEAD", name=f"{dept.name}長", kind_code="head", department=dept
        )
        org.head_posts[dept.code] = head_post
        session.add_all([dept, head_post])
        for s_pos, (code, name, name_en, staff_login, staff_name) in enumerate(
            dept_data["sections"], start=1
        ):
            section = Section(
                department=dept, code=code, name=name, name_en=name_en, position=s_pos
            )
            post = Post(
                code=f"{code}-STAFF",
                name=f"{name} 担当",
                kind_code="staff",
                department=dept,
                section=section,
            )
            org.sections[code] = section
            org.staff_posts[code] = post
            session.add_all([section, post])
            staff = _user(org, session, staff_login, staff_name, password)
            _hold(org, session, staff, post, SINCE)
        head = _user(org, session, head_login, head_name, password)
        _hold(org, session, head, head_post, SINCE)

    for entry in data["previous_holders"]:
        post = (
            org.head_posts[entry["department"]]
            if "department" in entry
            else org.staff_posts[entry["section"]]
        )
        org.first_holding[post].starts_on = entry["until"] + timedelta(days=1)
        former = _user(org, session, entry["login"], entry["name"], password)
        _hold(org, session, former, post, SINCE, entry["until"])

    for login, name, section_code in data["secretariat"]:
        user = _user(org, session, login, name, password, (Role.SECRETARIAT,))
        _hold(org, session, user, org.staff_posts[section_code], SINCE)
    for login, name in data["committee"]:
        _user(org, session, login, name, password, (Role.COMMITTEE,))
    admin_login, admin_name = data["admin"]
    _user(org, session, admin_login, admin_name, password, (Role.ADMIN,))

    for deputy in data["deputies"]:
        section = org.sections[deputy["section"]]
        chief_post = Post(
            code=f"{section.code}-CHIEF",
            name=f"{section.name}長",
            kind_code="chief",
            department=section.department,
            section=section,
        )
        user = _user(org, session, deputy["login"], deputy["name"], password)
        _hold(org, session, user, chief_post, SINCE)
        session.add(chief_post)
        head = org.users[
            next(
                d["head"][0] for d in data["departments"] if d["code"] == deputy["substitutes_for"]
            )
        ]
        session.add(
            Substitution(
                post=org.head_posts[deputy["substitutes_for"]],
                substitute=user,
                starts_on=today - timedelta(days=7),
                ends_on=today + timedelta(days=21),
                reason="部長の長期出張のため",
                created_by=head,
            )
        )
    return org


def load_items(
    session: Session, plan: ExecutionPlan, outline: Outline, org: DemoOrg
) -> list[tuple[ReformItem, dict]]:
    viewpoints = {v.number: v for v in outline.viewpoints}
    loaded = []
    for raw in _read("items.yaml")["items"]:
        item = ReformItem(
            plan=plan,
            viewpoint=viewpoints[raw["vp"]],
            number=raw["number"],
            title=raw["title"],
            purpose=raw["purpose"],
            content=raw["content"],
            owning_section=org.sections[raw["section"]],
            related_sections=[org.sections[c] for c in raw.get("related", [])],
        )
        for position, spec in enumerate(raw["indicators"], start=1):
            name, unit, baseline, targets, *rest = spec
            indicator = Indicator(
                position=position,
                name=name,
                unit=unit,
                baseline_value=Decimal(str(baseline)),
                baseline_fy=plan.start_fy - 1,
                higher_is_better=rest[0] if rest else True,
            )
            indicator.values = [
                IndicatorValue(fiscal_year=fy, target=Decimal(str(t)))
                for fy, t in zip(plan.fiscal_years, targets, strict=True)
            ]
            item.indicators.append(indicator)
        steps = raw.get("steps") or demo_steps(item, list(plan.fiscal_years))
        item.steps = [
            ItemStep(fiscal_year=fy, text=text)
            for fy, text in zip(plan.fiscal_years, steps, strict=True)
        ]
        session.add(item)
        loaded.append((item, raw))
    return loaded


def demo_steps(item: ReformItem, years: list[int]) -> list[str]:
    """The 工程 of an item whose demo data gives none: what each year's target asks."""
    steps = []
    indicator = item.indicators[0]
    for i, fy in enumerate(years):
        value = indicator.value_for(fy)
        target = f"{shown_number(value.target)}{indicator.unit}" if value else ""
        verb = "以上にする" if indicator.higher_is_better else "以下に抑える"
        text = f"{indicator.name}を{target}{verb}"
        if i == 0:
            text = f"実施方法の検討・着手。{text}"
        elif i == len(years) - 1:
            text = f"{text}。取組の検証と次期計画への反映"
        steps.append(text)
    return steps


def demo_today(today: date | None = None) -> date:
    return today or local_date(datetime.now(UTC))


def at(day: date, hour: int = 10) -> datetime:
    """A working-hours moment in Tokyo on `day`, as aware UTC."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=TOKYO).astimezone(UTC)


def load_demo(session: Session, *, today: date, password: str = DEMO_PASSWORD) -> bool:
    """Load the demo unless it is there already; return whether anything was loaded."""
    if session.scalar(select(Outline).where(Outline.city == "入間市")) is not None:
        return False
    outline, plan = load_outline(session)
    org = load_org(session, password, today)
    session.flush()
    for fy in range(plan.start_fy, fiscal_year_of(today) + 1):
        session.add(default_schedule(fy))
    items = load_items(session, plan, outline, org)
    session.flush()
    from .demo_history import play_history

    play_history(session, plan=plan, items=items, org=org, today=today)
    return True


def logins() -> list[tuple[str, str]]:
    """(login, who) for the demo users worth trying, in the order a newcomer would."""
    kinds = {kind for role in get_definition().roles.values() for kind in role.posts}
    city = [
        (c["login"], f"{c['name']}（{c['person']}）")
        for c in _read("org.yaml")["city_posts"]
        if c["kind"] in kinds
    ]
    return city + [
        ("staff_digital", "担当職員（企画部 デジタル行政推進課）"),
        ("staff_shimin", "担当職員（市民生活部 市民課）"),
        ("head_kikaku", "所管部長（企画部長）"),
        ("head_shimin", "所管部長（市民生活部長）"),
        ("chief_kikaku", "企画課長（企画部長の代理）"),
        ("jimukyoku", "事務局（企画部 デジタル行政推進課）"),
        ("iin_sato", "行政改革推進委員"),
        ("admin", "システム管理者"),
    ]


def empty_database(session: Session) -> None:
    """Delete every row of every table, keeping the schema and its migration revision."""
    for table in reversed(db.metadata.sorted_tables):
        session.execute(table.delete())


@demo_cli.command("load")
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The demo's today (default: today in Tokyo).",
)
@click.option(
    "--reset",
    is_flag=True,
    help="Delete everything in the database first (all data, not only the demo's).",
)
def load_command(today: datetime | None, reset: bool) -> None:
    """Load the demo (does nothing when it is loaded already, unless --reset)."""
    day = demo_today(today.date() if today else None)
    if reset:
        empty_database(db.session)
    if load_demo(db.session, today=day):
        db.session.commit()
        click.echo(f"demo loaded (as of {day.isoformat()})")
    else:
        click.echo(
            "demo already loaded: nothing changed. To load it again as of another day, "
            "run: kaikaku demo load --reset --today YYYY-MM-DD (this deletes all data)"
        )


@demo_cli.command("logins")
def logins_command() -> None:
    """Print the demo logins."""
    click.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
    for login, who in logins():
        click.echo(f"  {login:<15} {who}")
