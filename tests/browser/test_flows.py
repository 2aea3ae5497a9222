"""Through the real pages: plan, send back, fix, approve; a substitute; a stale e-mail link."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from app.calendar import local_date
from app.links import make_decision_token
from app.models import utcnow

from .conftest import FY, assert_accessible, login, logout


def make_item(seed, state="plan_draft", submitted=False, deputy=False):
    def build(make, session):
        org = make.org()
        named = make.deputy(org, name="代理 次郎").login if deputy else None
        item = make.item(org, title=f"窓口手続のオンライン化 {org.department.code}")
        cycle = make.cycle(
            item, fiscal_year=FY, state=state, submitted_by_id=org.staff.id if submitted else None
        )
        return {
            "item": item.id,
            "cycle": cycle.id,
            "version": cycle.version,
            "staff": org.staff.login,
            "head": org.head.login,
            "head_id": org.head.id,
            "head_post": org.head_post.id,
            "title": item.title,
            "deputy": named,
        }

    return seed(build)


def test_staff_plans_head_sends_back_staff_fixes_head_approves(page, seed, tmp_path):
    ids = make_item(seed)
    login(page, ids["staff"])
    expect(page.get_by_role("heading", name="あなたの対応待ち", level=1)).to_be_visible()
    assert_accessible(page)
    page.screenshot(path=tmp_path / "tasks.png", full_page=True)  # for a person to look at

    page.get_by_role("link", name=ids["title"]).first.click()
    page.get_by_role("link", name="計画を作成・編集する").click()
    goal = "オンライン申請できる手続を100件にする"
    page.get_by_label("今年度の目標").fill(goal)
    target = page.get_by_label(f"令和{FY - 2018}年度の目標値").first
    target.fill("百件")
    page.get_by_role("button", name="保存して提出する").click()
    # The error summary takes the focus; what was typed is still there.
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    assert page.get_by_label("今年度の目標").input_value() == goal
    assert_accessible(page)
    target.fill("100")
    page.get_by_label("第1四半期").fill("対象手続の洗い出し")
    page.get_by_role("button", name="保存して提出する").click()
    expect(page.get_by_text("提出しました")).to_be_visible()
    logout(page)

    login(page, ids["head"])
    page.get_by_role("link", name="判断する").first.click()
    assert_accessible(page)
    page.get_by_role("button", name="差し戻す").click()
    expect(page.get_by_text("理由を入力してください").first).to_be_visible()
    page.get_by_label("コメント").fill("第2四半期以降の予定も書いてください")
    page.get_by_role("button", name="差し戻す").click()
    logout(page)

    login(page, ids["staff"])
    expect(page.get_by_text("第2四半期以降の予定も書いてください")).to_be_visible()
    page.get_by_role("link", name=ids["title"]).first.click()
    page.get_by_role("link", name="計画を作成・編集する").click()
    page.get_by_label("第2四半期").fill("システム改修")
    page.get_by_role("button", name="保存して提出する").click()
    logout(page)

    login(page, ids["head"])
    page.get_by_role("navigation").get_by_role("link", name="承認待ち").click()
    page.get_by_label(f"{ids['title']}を選ぶ").check()
    page.get_by_role("button", name="選んだ項目を一括承認する").click()
    expect(page.get_by_text("次の1件を承認します")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="承認する").click()
    expect(page.get_by_text("1件を承認しました。")).to_be_visible()
    page.goto(f"/items/{ids['item']}")
    expect(page.get_by_role("heading", name="現在の段階：実施中")).to_be_visible()
    expect(page.get_by_text("第2四半期以降の予定も書いてください")).to_be_visible()
    assert_accessible(page)
    page.screenshot(path=tmp_path / "item.png", full_page=True)


def test_a_substitute_approves(page, seed):
    ids = make_item(seed, "plan_submitted", submitted=True, deputy=True)
    deputy = ids["deputy"]
    login(page, ids["head"])
    page.get_by_role("navigation").get_by_role("link", name="代理設定").click()
    page.get_by_label("代理者").select_option(label="代理 次郎")
    today = local_date(utcnow())
    page.get_by_label("開始日").fill(today.isoformat())
    page.get_by_label("終了日").fill((today + timedelta(days=5)).isoformat())
    page.get_by_label("理由").fill("出張のため")
    page.get_by_role("button", name="登録する").click()
    expect(page.get_by_text("代理者に設定しました")).to_be_visible()
    assert_accessible(page)
    logout(page)

    login(page, deputy)
    expect(page.get_by_text("代理", exact=True).first).to_be_visible()
    page.get_by_role("link", name="判断する").first.click()
    page.get_by_role("button", name="承認する").click()
    expect(page.get_by_role("heading", name="現在の段階：実施中")).to_be_visible()
    expect(page.get_by_text("の代理").first).to_be_visible()


def test_a_stale_email_link_shows_a_clear_page(page, seed, live_app):
    ids = make_item(seed, "plan_submitted", submitted=True)
    token = make_decision_token(
        live_app.config["SECRET_KEY"],
        cycle_id=ids["cycle"],
        version=ids["version"],
        recipient_id=ids["head_id"],
    )
    page.goto(f"/links/{token}")
    assert "/login" in page.url
    page.get_by_label("ログインID").fill(ids["head"])
    page.get_by_label("パスワード").fill("password")
    page.get_by_role("button", name="ログイン").click()
    assert page.url.endswith(f"/cycles/{ids['cycle']}/decide")
    page.get_by_role("button", name="承認する").click()

    page.goto(f"/links/{token}")
    expect(page.get_by_role("heading", name="リンクを開けません")).to_be_visible()
    expect(page.get_by_text("すでに使用されています")).to_be_visible()
    assert_accessible(page)


def test_english_switch_and_keyboard_focus(page, seed):
    ids = make_item(seed)
    login(page, ids["staff"])
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="本文へスキップ")).to_be_focused()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="My tasks", level=1)).to_be_visible()
    page.goto(f"/items/{ids['item']}")
    expect(page.get_by_role("heading", name="PDCA timeline")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="日本語").click()
    expect(page.get_by_role("heading", name="PDCAの経過")).to_be_visible()
