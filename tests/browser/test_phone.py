"""On a 390 px phone the pages fit the screen: wide tables scroll inside their own box."""

from __future__ import annotations

from app.models import OverdueSnapshot, Role
from tests.browser_support import new_page

from .conftest import FY, login, logout

PHONE = 390


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_the_head_home_page_and_the_dashboard_fit_a_phone(browser, base_url, seed):
    def build(make, session):
        from datetime import date, timedelta

        org = make.org("携帯確認のための長い名前の部署")
        for n in range(3):
            item = make.item(org, title=f"スマートフォンで読む長い名前の改革項目その{n}")
            make.cycle(item, fiscal_year=FY, state="plan_submitted", submitted_by_id=org.staff.id)
            late = make.item(org, title=f"期限を過ぎた項目その{n}")
            make.cycle(late, fiscal_year=FY - 1, state="check_draft")
        make.user(f"phone{org.department.code}", roles=[Role.SECRETARIAT])
        start = date(FY, 4, 1)
        for week in range(36):  # a long overdue chart: 36 weekly bars
            session.add(
                OverdueSnapshot(
                    fiscal_year=FY,
                    taken_on=start + timedelta(weeks=week),
                    open_count=30,
                    overdue_count=week % 7,
                )
            )
        return {"head": org.head.login, "secretariat": f"phone{org.department.code}"}

    ids = seed(build)
    context, page = new_page(browser, base_url, width=PHONE, height=800)
    try:
        login(page, ids["head"])
        page.goto("/")
        assert page.get_by_role("heading", name="あなたの対応待ち").is_visible()
        assert page_width(page) <= PHONE, "the head's home page scrolls sideways"
        logout(page)
        login(page, ids["secretariat"])
        page.goto(f"/secretariat/?fy={FY}")
        assert page_width(page) <= PHONE, "the dashboard scrolls sideways"
        # The tables are still all there: they scroll inside their own box.
        scroller = page.locator(".table-scroll").first
        assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")
    finally:
        context.close()
