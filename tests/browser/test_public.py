"""The secretariat publishes a finished year; a citizen reads it without logging in."""

from __future__ import annotations

from playwright.sync_api import expect

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
