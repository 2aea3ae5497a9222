"""Factories that build a small, consistent organisation and reform items for tests."""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from app.models import (
    DEFAULT_POST_KINDS,
    Cycle,
    Department,
    ExecutionPlan,
    FiscalYearSchedule,
    Indicator,
    IndicatorValue,
    Outline,
    Post,
    PostAssignment,
    PostKind,
    ReformItem,
    Role,
    Section,
    User,
    UserRole,
    Viewpoint,
)
from workflows.deadlines import default_schedule
from workflows.registry import get_definition

_seq = itertools.count(1)


@functools.cache
def _hash(password: str) -> str:
    """Hash each test password once: scrypt is slow on purpose."""
    return generate_password_hash(password)


VIEWPOINTS = [
    ("サービスの最適化", "社会情勢の変化に応じたサービスの編成"),
    ("公共施設の最適化", "公共施設の再配置と効率的な管理運営の実現"),
    ("担い手の最適化", "役割を明確にした効率的で効果的な公共サービスの実現"),
    ("事務事業の最適化", "選択と集中による財政の健全化"),
    ("組織機構の最適化", "人材の育成と効率的な組織の構築"),
]


@dataclass
class Org:
    """One department with one section: its head post and holder, and a staff member."""

    department: Department
    section: Section
    head_post: Post
    staff_post: Post
    head: User
    staff: User


class Factory:
    def __init__(self, session: Session):
        self.session = session
        self._plan: ExecutionPlan | None = None

    def user(
        self,
        login: str | None = None,
        *,
        roles=(),
        name: str | None = None,
        password: str = "password",
        email: str | None = None,
    ) -> User:
        n = next(_seq)
        login = login or f"user{n}"
        user = User(login=login, name=name or f"利用者{n}", email=email or f"{login}@example.jp")
        user.set_password_hash(_hash(password))
        user.roles = [UserRole(role=Role(r)) for r in roles]
        self.session.add(user)
        self.session.flush()
        return user

    def assign(
        self,
        user: User,
        post: Post,
        starts_on: date = date(2020, 4, 1),
        ends_on: date | None = None,
    ) -> PostAssignment:
        assignment = PostAssignment(post=post, user=user, starts_on=starts_on, ends_on=ends_on)
        self.session.add(assignment)
        self.session.flush()
        return assignment

    def post_kinds(self) -> None:
        """The kinds every organisation has (部長, 課長, 職員)."""
        for code, name, name_en in DEFAULT_POST_KINDS:
            PostKind.ensure(self.session, code, name, name_en)

    def org(self, name: str | None = None, since: date = date(2020, 4, 1)) -> Org:
        self.post_kinds()
        n = next(_seq)
        name = name or f"部署{n}"
        dept = Department(code=f"D{n}", name=f"{name}部", position=n)
        section = Section(department=dept, code=f"S{n}", name=f"{name}課", position=1)
        head_post = Post(code=f"P{n}H", name=f"{name}部長", kind_code="head", department=dept)
        staff_post = Post(
            code=f"P{n}S",
            name=f"{name}課職員",
            kind_code="staff",
            department=dept,
            section=section,
        )
        self.session.add_all([dept, section, head_post, staff_post])
        head = self.user(f"head{n}", name=f"{name}部長 太郎")
        staff = self.user(f"staff{n}", name=f"{name}課 花子")
        self.assign(head, head_post, since)
        self.assign(staff, staff_post, since)
        return Org(dept, section, head_post, staff_post, head, staff)

    def chief_post(self, org: Org) -> Post:
        """A section chief's post (課長) in another section of the org's department: its
        holder is eligible as 代理 for the head, and no staff of the org's items."""
        n = next(_seq)
        section = Section(
            department=org.department, code=f"S{n}", name=f"{org.department.name}次課", position=2
        )
        post = Post(
            code=f"P{n}C",
            name=f"{section.name}長",
            kind_code="chief",
            department=org.department,
            section=section,
        )
        self.session.add(post)
        self.session.flush()
        return post

    def deputy(self, org: Org, login: str | None = None, **kwargs) -> User:
        """A user holding a chief post in the org: eligible to be named 代理 for its head."""
        user = self.user(login, **kwargs)
        self.assign(user, self.chief_post(org))
        return user

    def plan(self, start_fy: int = 2022, end_fy: int = 2026) -> ExecutionPlan:
        if self._plan is not None:
            return self._plan
        outline = Outline(
            city="入間市", title="入間市行政改革大綱", basic_idea="行政サービスの最適化"
        )
        for number, (vp_name, subtitle) in enumerate(VIEWPOINTS, start=1):
            outline.viewpoints.append(Viewpoint(number=number, name=vp_name, subtitle=subtitle))
        plan = ExecutionPlan(
            outline=outline,
            name=f"実行計画（{start_fy}〜{end_fy}年度）",
            start_fy=start_fy,
            end_fy=end_fy,
        )
        self.session.add_all([outline, plan])
        self.session.flush()
        self._plan = plan
        return plan

    def item(
        self,
        org: Org,
        *,
        number: str | None = None,
        title: str = "行政手続のオンライン化",
        viewpoint: int = 1,
        targets: dict[int, float] | None = None,
    ) -> ReformItem:
        plan = self.plan()
        n = next(_seq)
        item = ReformItem(
            plan=plan,
            viewpoint=plan.outline.viewpoints[viewpoint - 1],
            number=number or f"{viewpoint}-{n}",
            title=title,
            purpose="目的",
            content="内容",
            owning_section=org.section,
        )
        indicator = Indicator(
            name="オンライン申請可能な手続数",
            unit="件",
            baseline_value=Decimal(40),
            baseline_fy=plan.start_fy - 1,
        )
        for fy, target in (
            targets or {fy: 40 + 20 * (fy - plan.start_fy + 1) for fy in plan.fiscal_years}
        ).items():
            indicator.values.append(IndicatorValue(fiscal_year=fy, target=Decimal(str(target))))
        item.indicators.append(indicator)
        self.session.add(item)
        self.session.flush()
        return item

    def cycle(
        self, item: ReformItem, fiscal_year: int = 2026, state: str = "plan_draft", **fields
    ) -> Cycle:
        """A cycle put straight into `state`; one made in a state where the evaluation counts
        as confirmed is confirmed, as it would be had it got there by its transitions."""
        version = fields.pop("definition_version", None) or get_definition().version
        if "confirmed_at" not in fields:
            known = get_definition(version).state(state)
            if known is not None and known.confirmed:
                fields["confirmed_at"] = datetime(fiscal_year + 1, 5, 20, tzinfo=UTC)
        cycle = Cycle(
            item=item,
            fiscal_year=fiscal_year,
            state=state,
            definition_version=version,
            **fields,
        )
        self.session.add(cycle)
        self.session.flush()
        return cycle

    def schedule(
        self, fiscal_year: int = 2026, due: dict[str, date] | None = None, **fields
    ) -> FiscalYearSchedule:
        """The year's schedule: the definition's defaults, `due` dates by stage, `fields`."""
        schedule = default_schedule(fiscal_year)
        for stage, day in (due or {}).items():
            schedule.set_due(stage, day)
        for key, value in fields.items():
            setattr(schedule, key, value)
        self.session.add(schedule)
        self.session.flush()
        return schedule
