"""The secretariat's dashboard and a bulk nudge, the committee, and a 人事異動 upload."""

from __future__ import annotations

import re
from datetime import date, timedelta

from openpyxl import Workbook
from playwright.sync_api import expect
from sqlalchemy import func, select

from app.models import CommitteeOpinion, Grade, OutboxMessage, OverdueSnapshot, PostAssignment

from .conftest import assert_accessible, login, logout

PAST_FY = 2019


def _late_items(factory, session):
    org = factory.org("環境")
    secretariat = factory.user(roles=["secretariat"], name="事務局 花子")
    titles = ["ごみ収集の委託化", "公用車の削減", "環境センターの統合"]
    cycles = [factory.cycle(factory.item(org, title=t), PAST_FY, "plan_draft") for t in titles]
    factory.cycle(factory.item(org, title="順調な項目"), PAST_FY, "closed")
    for week, count in enumerate([0, 1, 3, 2, 3]):
        session.add(
            OverdueSnapshot(
                fiscal_year=PAST_FY,
                taken_on=date(2019, 5, 6) + timedelta(weeks=week),
                open_count=4,
                overdue_count=count,
            )
        )
    return {
        "login": secretariat.login,
        "department": org.department.id,
        "staff": org.staff.id,
        "cycles": [c.id for c in cycles],
    }


def test_dashboard_matrix_links_and_bulk_nudge(page, seed, query, tmp_path):
    data = seed(_late_items)
    login(page, data["login"])
    page.get_by_role("link", name="事務局").click()
    page.goto(f"/secretariat/?fy={PAST_FY}")
    expect(page.get_by_role("heading", name="事務局ダッシュボード")).to_be_visible()
    row = page.locator("table.matrix tbody tr", has_text="環境部")
    expect(row.locator("td").nth(0)).to_have_text(re.compile(r"^\s*3"))
    page.screenshot(path=tmp_path / "dashboard.png", full_page=True)  # for a person to look at
    assert_accessible(page)

    row.get_by_role("link", name="（超過 3）").first.click()
    expect(page.locator("h1")).to_contain_text("期限超過")
    for title in ("ごみ収集の委託化", "公用車の削減"):
        page.locator("tr", has_text=title).get_by_role("checkbox").check()
    page.get_by_label("督促メッセージ（任意）").fill("今週中にご対応ください")
    page.get_by_role("button", name="選択した項目に督促する").click()
    page.wait_for_load_state()
    assert "2件の項目について、2通の督促メールを送信予約しました" in page.content()
    page.screenshot(path=tmp_path / "items.png", full_page=True)
    assert_accessible(page)
    page.goto(f"/secretariat/schedule/{PAST_FY}")
    expect(page.get_by_role("heading", name="カレンダー")).to_be_visible()
    page.screenshot(path=tmp_path / "schedule.png", full_page=True)
    assert_accessible(page)

    mails = query(
        lambda s: s.scalars(
            select(OutboxMessage).where(OutboxMessage.cycle_id.in_(data["cycles"]))
        ).all()
    )
    assert len(mails) == 2 and {m.recipient_id for m in mails} == {data["staff"]}
    assert all("今週中にご対応ください" in m.body_text for m in mails)


def _review(factory, session):
    owner = factory.org("福祉")
    member = factory.user(roles=["committee"], name="委員 一郎")
    cycle = factory.cycle(
        factory.item(owner, title="福祉窓口の一元化"), 2023, "closed", grade=Grade.C
    )
    return {"member": member.login, "staff": owner.staff.login, "cycle": cycle.id}


def test_committee_opinion_and_department_reply(page, seed, query):
    data = seed(_review)
    login(page, data["member"])
    page.get_by_role("link", name="推進委員会").click()
    page.goto("/committee/?fy=2023")
    page.get_by_role("link", name="福祉窓口の一元化").click()
    page.get_by_label("意見", exact=True).fill("利用者アンケートで効果を確かめてください")
    page.get_by_role("button", name="意見を登録する").click()
    expect(page.get_by_text("意見を登録しました")).to_be_visible()
    assert_accessible(page)
    logout(page)

    login(page, data["staff"])
    page.goto(f"/committee/cycles/{data['cycle']}")
    expect(page.get_by_text("利用者アンケートで効果を確かめてください")).to_be_visible()
    page.get_by_label("対応", exact=True).fill("次年度の評価にアンケート結果を加えます")
    page.get_by_role("button", name="対応を登録する").click()
    expect(page.get_by_text("対応を登録しました")).to_be_visible()
    expect(page.get_by_text("次年度の評価にアンケート結果を加えます")).to_be_visible()
    opinion = query(
        lambda s: s.scalar(
            select(CommitteeOpinion).where(CommitteeOpinion.cycle_id == data["cycle"])
        )
    )
    assert opinion.reply_body == "次年度の評価にアンケート結果を加えます"


def _transfer(factory, session):
    org = factory.org("上下水道")
    admin = factory.user(roles=["admin"], name="管理 太郎")
    newcomer = factory.user(name="異動 三郎")
    return {
        "admin": admin.login,
        "post": org.head_post.code,
        "old": org.head.name,
        "new": newcomer.login,
        "new_id": newcomer.id,
    }


def test_personnel_transfer_upload_preview_and_apply(page, seed, query, tmp_path):
    data = seed(_transfer)
    book = Workbook()
    book.active.append(["役職コード", "役職名", "新任者ログインID", "発令日"])
    book.active.append([data["post"], "上下水道部長", data["new"], date(2031, 4, 1)])
    book.active.append(["NO-SUCH-POST", "", data["new"], date(2031, 4, 1)])
    bad = tmp_path / "bad.xlsx"
    book.save(bad)
    book.active.delete_rows(3)
    good = tmp_path / "good.xlsx"
    book.save(good)

    login(page, data["admin"])
    page.get_by_role("link", name="システム管理").click()
    page.get_by_role("link", name="人事異動（Excelの一括アップロード）").click()
    page.get_by_label("Excelファイル（.xlsx）").set_input_files(str(bad))
    page.get_by_role("button", name="内容を確認する").click()
    expect(page.get_by_text("役職コード「NO-SUCH-POST」は登録されていません")).to_be_visible()
    expect(page.get_by_role("button", name="この内容で反映する")).to_have_count(0)

    page.goto("/admin/transfers")
    page.get_by_label("Excelファイル（.xlsx）").set_input_files(str(good))
    page.get_by_role("button", name="内容を確認する").click()
    row = page.locator("tr", has_text=data["post"])
    assert_accessible(page)
    expect(row.locator(".diff-leave")).to_contain_text(data["old"])
    expect(row.locator(".diff-take")).to_contain_text("異動 三郎")
    page.get_by_role("button", name="この内容で反映する").click()
    expect(page.get_by_text("人事異動を反映しました")).to_be_visible()
    started = query(
        lambda s: s.scalar(
            select(func.count()).where(
                PostAssignment.user_id == data["new_id"],
                PostAssignment.starts_on == date(2031, 4, 1),
            )
        )
    )
    assert started == 1
