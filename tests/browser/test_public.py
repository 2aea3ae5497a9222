"""The secretariat publishes a finished year; a citizen reads it without logging in."""

from __future__ import annotations

import io

from playwright.sync_api import expect
from pypdf import PdfReader

from app.models import Direction, Grade, ProgressStatus, Role

from .conftest import FY, assert_accessible, login, logout


def test_publish_and_read_as_a_citizen(page, seed):
    year = FY - 1

    def build(make, session):
        org = make.org("環境")
        item = make.item(org, title=f"公共施設照明のLED化 {org.department.code}", viewpoint=2)
        make.cycle(
            item,
            fiscal_year=year,
            state="closed",
            goal="LED化率100%",
            grade=Grade.A,
            progress_status=ProgressStatus.DONE,
            analysis="計画どおり完了した",
            direction=Direction.COMPLETE,
            improvement="取組を完了する",
        )
        draft = make.item(org, title=f"未確定の項目 {org.department.code}", viewpoint=2)
        make.cycle(draft, fiscal_year=year, state="check_submitted", analysis="非公開の下書き")
        make.user(f"pub{org.department.code}", roles=[Role.SECRETARIAT])
        return {
            "title": item.title,
            "draft": draft.title,
            "secretariat": f"pub{org.department.code}",
        }

    ids = seed(build)
    login(page, ids["secretariat"])
    page.goto(f"/public/manage/{year}")
    expect(page.get_by_text(ids["draft"])).to_be_visible()  # listed as left out
    # The secretariat's sub-menu is laid out as a menu here too, not as a bulleted list.
    for path in (f"/public/manage/{year}", "/plan/import/"):
        page.goto(path)
        menu = page.get_by_role("navigation", name="事務局メニュー").locator("ul")
        assert menu.evaluate("e => getComputedStyle(e).display") == "flex", path
        assert menu.evaluate("e => getComputedStyle(e).listStyleType") == "none", path
    page.goto(f"/public/manage/{year}")
    assert_accessible(page)
    page.get_by_role("button", name="項目を公表する").click()
    expect(page.get_by_text("公表しました")).to_be_visible()
    logout(page)

    page.goto("/public/")
    assert_accessible(page)
    page.get_by_role("link", name=f"{year}年度）の取組結果", exact=False).first.click()
    expect(page.get_by_role("heading", name=ids["title"])).to_be_visible()
    expect(page.get_by_text("A 達成").first).to_be_visible()
    expect(page.get_by_text(ids["draft"])).to_have_count(0)
    expect(page.get_by_text("非公開の下書き")).to_have_count(0)
    assert_accessible(page)


def test_printing_shows_the_content_without_menus_buttons_or_forms(page, seed):
    """The public year page and the item page print as documents (A4, nothing to click)."""
    year = FY - 3

    def build(make, session):
        from datetime import UTC, datetime

        from app.public.service import publish

        org = make.org("印刷")
        item = make.item(org, title=f"印刷する項目 {org.department.code}", viewpoint=1)
        make.cycle(
            item,
            fiscal_year=year,
            state="closed",
            goal="印刷できる目標",
            grade=Grade.B,
            progress_status=ProgressStatus.DONE,
            direction=Direction.CONTINUE,
        )
        current = make.cycle(item, fiscal_year=FY, state="plan_draft", goal="今年度の目標")
        secretariat = make.user(f"print{org.department.code}", roles=[Role.SECRETARIAT])
        session.flush()
        publish(session, year, by=secretariat, now=datetime(FY, 4, 2, tzinfo=UTC))
        return {"item": item.id, "staff": org.staff.login, "title": item.title, "c": current.id}

    ids = seed(build)
    page.goto(f"/public/{year}")
    expect(page.get_by_role("link", name="報告書（PDF）")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.get_by_role("heading", name=ids["title"])).to_be_visible()
    expect(page.get_by_role("link", name="報告書（PDF）")).to_be_hidden()
    expect(page.get_by_role("button", name="English")).to_be_hidden()
    expect(page.locator(".site-footer")).to_be_hidden()
    pdf = PdfReader(io.BytesIO(page.pdf(format="A4")))
    assert len(pdf.pages) == 1  # one item: one page, no menus

    page.emulate_media(media="screen")
    login(page, ids["staff"])
    page.goto(f"/items/{ids['item']}")
    expect(page.get_by_role("button", name="下書き保存")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.get_by_role("heading", name="改革項目の概要")).to_be_visible()
    expect(page.get_by_role("heading", name="履歴")).to_be_visible()
    expect(page.get_by_role("button", name="下書き保存")).to_be_hidden()
    expect(page.get_by_role("navigation", name="メインメニュー")).to_be_hidden()
    expect(page.locator(".panel--action")).to_be_hidden()
    page.emulate_media(media="screen")
