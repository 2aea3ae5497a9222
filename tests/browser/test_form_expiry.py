"""A form about to expire warns and can be extended; an expired one keeps what was typed.

The app here lets a form live 4 seconds instead of an hour (WTF_CSRF_TIME_LIMIT), so the
warning comes after 3 seconds.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser_support import browser_app, live_server, login, new_page, seeder

from .conftest import FY

LIFETIME = 4


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory):
    app = browser_app(
        tmp_path_factory.mktemp("expiry"), plan=(2022, max(FY, 2026)), WTF_CSRF_TIME_LIMIT=LIFETIME
    )
    with live_server(app) as url:
        yield app, url


@pytest.fixture
def item_page(browser, short_lived):
    app, url = short_lived

    def build(make, session):
        org = make.org("期限")
        item = make.item(org, title="期限切れを試す項目")
        make.cycle(item, fiscal_year=FY, state="plan_draft")
        return {"staff": org.staff.login, "item": item.id}

    ids = seeder(app)(build)
    context, page = new_page(browser, url)
    login(page, ids["staff"])
    yield page, f"/items/{ids['item']}"
    context.close()


def test_the_warning_comes_before_expiry_and_extending_keeps_the_form_usable(item_page):
    page, path = item_page
    page.goto(path)
    goal = page.get_by_label("今年度の目標")
    goal.fill("延長してから保存する目標")
    old = page.locator("main input[name=csrf_token]").first.input_value()
    warning = page.get_by_role("alert").filter(has_text="まもなく入力内容を送信できなくなります")
    expect(warning).to_be_hidden()
    expect(warning).to_be_visible(timeout=(LIFETIME + 2) * 1000)
    page.get_by_role("button", name="入力を続ける（有効期限を延ばす）").click()
    expect(warning).to_be_hidden()
    assert page.locator("main input[name=csrf_token]").first.input_value() != old
    page.wait_for_timeout(1500)  # the token the page came with has expired by now
    page.get_by_role("button", name="下書き保存").click()
    expect(page.get_by_text("下書きを保存しました。")).to_be_visible()
    expect(page.get_by_label("今年度の目標")).to_have_value("延長してから保存する目標")


def test_an_expired_form_is_refused_and_gives_back_what_was_typed(item_page):
    page, path = item_page
    page.goto(path)
    page.get_by_label("今年度の目標").fill("期限切れでも失われない目標")
    page.wait_for_timeout((LIFETIME + 1) * 1000)
    page.get_by_role("button", name="下書き保存").click()
    expect(page.get_by_text("送信の有効期限が切れました")).to_be_visible()
    page.get_by_role("link", name="入力画面に戻る").click()
    expect(page.get_by_text("入力内容を戻しました")).to_be_visible()
    expect(page.get_by_label("今年度の目標")).to_have_value("期限切れでも失われない目標")
