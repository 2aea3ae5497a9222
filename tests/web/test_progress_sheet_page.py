"""The item page shows the whole progress sheet: 関係課, 工程 by fiscal year, 取組実績 apart
from 要因分析, 効果額 in 千円 with its kind and basis; the plan form edits the 工程."""

from __future__ import annotations

from app.models import EffectKind, Grade, ItemStep, ProgressStatus

from .conftest import FY


def test_the_item_page_shows_the_sheet_fields(client, world, login_as, db):
    cycle = world.cycle(
        "act_draft",
        grade=Grade.A,
        progress_status=ProgressStatus.DONE,
        achievements="電子申請を38手続に広げた",
        analysis="職員研修が効いた",
        effect_amount=1_234_500,
        effect_kind=EffectKind.SAVING,
        effect_basis="郵送料 年1,234,500円の削減",
    )
    cycle.item.related_sections = [world.other.section]
    cycle.item.steps = [ItemStep(fiscal_year=FY, text="窓口の電子化に着手")]
    db.session.commit()
    login_as(world.org.staff)
    page = client.get(f"/items/{cycle.item.id}?fy={FY}").get_data(as_text=True)
    related = page.split('id="related-sections"', 1)[1].split("</dd>", 1)[0]
    assert world.other.section.name in related
    steps = page.split('id="steps-table"', 1)[1].split("</table>", 1)[0]
    assert "窓口の電子化に着手" in steps and "令和4年度" in steps
    assert "電子申請を38手続に広げた" in page.split('id="achievements"', 1)[1][:200]
    effect = page.split('id="effect"', 1)[1].split("</dd>", 1)[0]
    assert "1,235千円（歳出削減）" in effect and "1,234,500円" in effect
    assert "郵送料 年1,234,500円の削減" in page.split('id="effect-basis"', 1)[1][:200]


def test_an_amount_from_before_kinds_shows_as_unclassified(client, world, login_as, db):
    cycle = world.cycle("closed", grade=Grade.B, analysis="概ね", effect_amount=500_000)
    db.session.commit()
    login_as(world.org.staff)
    page = client.get(f"/items/{cycle.item.id}?fy={FY}").get_data(as_text=True)
    assert "500千円（未分類）" in page.split('id="effect"', 1)[1].split("</dd>", 1)[0]


def test_the_plan_form_writes_the_steps_of_each_year(client, world, login_as, db):
    cycle = world.cycle("plan_draft")
    db.session.commit()
    login_as(world.org.staff)
    url = f"/items/{cycle.item.id}/cycles/{FY}/plan"
    form = client.get(url).get_data(as_text=True)
    assert 'name="step-2022"' in form and f'name="step-{FY}"' in form
    data = {"action": "save", "goal": "目標", "expected_version": str(cycle.version)}
    data |= {"step-2022": "検討", f"step-{FY}": "本格実施"}
    for indicator in cycle.item.indicators:
        data[f"ind-{indicator.id}-name"] = indicator.name
    data[f"step-{FY - 1}"] = "あ" * 4001  # too long: nothing is saved
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert "工程" in response.get_data(as_text=True).split('class="error-summary', 1)[1][:600]
    db.session.refresh(cycle.item)
    assert cycle.item.steps == []
    data[f"step-{FY - 1}"] = ""
    data["expected_version"] = str(cycle.version)
    assert client.post(url, data=data).status_code == 302
    db.session.refresh(cycle.item)
    assert {s.fiscal_year: s.text for s in cycle.item.steps} == {2022: "検討", FY: "本格実施"}
