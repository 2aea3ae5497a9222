"""The complete progress sheet (進捗管理シート) as citizens and the committee read it: 関係課,
工程 by fiscal year, 取組実績, 効果額 in 千円 with its kind and basis, and the totals per
viewpoint and year, on the public page, in the published workbook and in the PDF."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.extensions import db
from app.models import Publication
from app.reports.sheet import EffectTotals, sen_yen, thousand_yen

from .conftest import PUBLISHED_FY, page_texts

KINDS = {"revenue": "歳入確保", "saving": "歳出削減", "other": "その他"}


def test_thousand_yen_rounds_half_up_and_totals_round_once():
    assert thousand_yen(1_234_500) == 1_235 and thousand_yen(1_234_499) == 1_234
    assert sen_yen(12_345_678) == "12,346千円" and sen_yen(None) == ""
    totals = EffectTotals()
    for _ in range(3):
        totals.add(400, "saving")  # 0千円 each, 1千円 together
    totals.add(2_000, None)
    assert totals.of("saving") == 1_200 and thousand_yen(totals.total) == 3
    assert totals.of("unclassified") == 2_000


@pytest.fixture(scope="module")
def published(demo_app):
    with demo_app.app_context():
        publication = db.session.scalar(
            select(Publication).where(Publication.fiscal_year == PUBLISHED_FY)
        )
        return publication.entries


def _flat(text: str) -> str:
    return text.replace("\n", "").replace(" ", "")


def test_the_snapshot_carries_the_new_fields(published):
    with_effect = [e for e in published if e["effect_amount"] is not None]
    assert with_effect
    assert all(e["effect_kind"] in KINDS and e["effect_basis"] for e in with_effect)
    assert all(e["achievements"] for e in published if e["grade"])
    first = next(e for e in published if e["number"] == "1-1")
    assert [s["fiscal_year"] for s in first["steps"]] == [2022, 2023, 2024, 2025, 2026]
    assert first["steps"][3]["text"] == "施設予約・各種証明書の請求をオンライン化し、利用状況を検証"


def test_the_public_year_page_shows_the_sheet_and_the_totals(demo_app, published):
    page = demo_app.test_client().get(f"/public/{PUBLISHED_FY}").get_data(as_text=True)
    assert "工程（年度別計画）" in page and "令和4年度" in page and "令和8年度" in page
    assert "施設予約・各種証明書の請求をオンライン化し、利用状況を検証" in page
    assert "取組実績" in page and "関係課" in page
    for entry in published:
        if entry["effect_amount"] is None:
            continue
        assert f"{sen_yen(entry['effect_amount'])}（{KINDS[entry['effect_kind']]}）" in page
        assert entry["effect_basis"] in page
    # The totals per viewpoint and of the year, in 千円.
    totals = page.split('id="effect-totals"', 1)[1].split("</table>", 1)[0]
    by_viewpoint: dict[int, int] = {}
    for entry in published:
        by_viewpoint[entry["viewpoint"]] = by_viewpoint.get(entry["viewpoint"], 0) + (
            entry["effect_amount"] or 0
        )
    for viewpoint, amount in by_viewpoint.items():
        row = totals.split(f'<th scope="row">{viewpoint}. ', 1)[1].split("</tr>", 1)[0]
        assert row.rstrip().endswith(f"{sen_yen(amount)}</td>")
    year_total = sum(by_viewpoint.values())
    assert f"{sen_yen(year_total)}</td></tr></tfoot>" in totals


def test_the_workbook_has_the_sheet_fields_the_steps_and_the_totals(demo_app, published):
    data = demo_app.test_client().get(f"/public/{PUBLISHED_FY}.xlsx").data
    book = load_workbook(io.BytesIO(data))
    main = book.worksheets[0]
    header = [c.value for c in main[2]]
    assert "取組実績" in header and "効果額（千円）" in header
    rows = {r[0]: r for r in main.iter_rows(min_row=3, values_only=True)}
    entry = next(e for e in published if e["effect_amount"] is not None)
    effect = rows[entry["number"]][header.index("効果額（千円）")]
    assert effect.startswith(f"{sen_yen(entry['effect_amount'])}（{KINDS[entry['effect_kind']]}）")
    assert f"算定根拠：{entry['effect_basis']}" in effect
    assert rows["1-1"][header.index("取組実績")] == next(
        e["achievements"] for e in published if e["number"] == "1-1"
    )

    steps = book["工程"]
    step_header = [c.value for c in steps[2]]
    assert step_header[2:] == ["令和4年度", "令和5年度", "令和6年度", "令和7年度", "令和8年度"]
    step_rows = {r[0]: r for r in steps.iter_rows(min_row=3, values_only=True)}
    assert step_rows["1-1"][5] == "施設予約・各種証明書の請求をオンライン化し、利用状況を検証"

    effects = book["効果額"]
    effect_rows = list(effects.iter_rows(min_row=3, values_only=True))
    item_row = next(r for r in effect_rows if r[0] == entry["number"])
    assert item_row[3] == KINDS[entry["effect_kind"]]
    assert item_row[4] == thousand_yen(entry["effect_amount"])
    assert item_row[5] == entry["effect_amount"]
    year_total = sum(e["effect_amount"] or 0 for e in published)
    assert effect_rows[-1][1] == "全体 合計" and effect_rows[-1][4] == thousand_yen(year_total)


def test_the_pdf_sheet_and_summary_show_the_new_fields(demo_app, published):
    data = demo_app.test_client().get(f"/public/{PUBLISHED_FY}.pdf").data
    pages = page_texts(data)
    summary = _flat(pages[2])
    assert "効果額（財政効果）の内訳" in summary
    year_total = sum(e["effect_amount"] or 0 for e in published)
    assert _flat(sen_yen(year_total)) in summary
    for key, label in KINDS.items():
        amount = sum(e["effect_amount"] or 0 for e in published if e["effect_kind"] == key)
        if amount:
            assert label in summary and _flat(sen_yen(amount)) in summary
    sheets = {}
    for text in pages[3:]:
        for entry in published:
            if _flat(entry["title"]) in _flat(text) and entry["number"] in text:
                sheets.setdefault(entry["number"], _flat(text))
    first = sheets["1-1"]
    assert "工程（年度別計画）" in first and "令和4年度" in first and "令和8年度" in first
    assert "施設予約・各種証明書の請求をオンライン化し、利用状況を検証" in first
    assert "取組実績" in first and "関係課" in first and "市民課" in first
    entry = next(e for e in published if e["effect_amount"] is not None)
    page = sheets[entry["number"]]
    assert _flat(sen_yen(entry["effect_amount"])) in page
    assert KINDS[entry["effect_kind"]] in page and "算定根拠" in page
    assert _flat(entry["effect_basis"])[:20] in page
    # Still one page per item.
    assert len(pages) == 3 + len(published)
