"""One glossary for the screens, the mails and the exports.

差戻し is the noun (the verb stays 差し戻す), 着手状況 the state of implementation, 要因分析
the analysis, 達成度 the grade A-D, 取組実績 what was done, 効果額 with its kind and 算定根拠,
工程 the plan by fiscal year; mails write the fiscal year in 和暦 as the pages do.
"""

from __future__ import annotations

import re
from pathlib import Path

from .test_catalogue_complete import extracted_msgids

ROOT = Path(__file__).resolve().parents[2]
MAILS = sorted((ROOT / "notifications" / "templates" / "mail").glob("*.txt"))

# 差し戻し as a noun; 差し戻した / 差し戻します / 差し戻して / 差し戻される are verbs.
NOUN_WITH_OKURIGANA = re.compile(r"差し戻し(?![たまてさ])")
AVOID = {
    "実施状況": "着手状況",
    "取組の分析": "要因分析",
    # The progress sheet's words (取組実績 what was done, 効果額 with its 算定根拠, 工程).
    "実施内容": "取組実績",
    "算出根拠": "算定根拠",
    "効果金額": "効果額",
    "財政効果額": "効果額",
    "年次計画": "工程（年度別計画）",
}


def texts() -> list[tuple[str, str]]:
    found = [("catalogue", m) for m in extracted_msgids()]
    found += [(path.name, path.read_text(encoding="utf-8")) for path in MAILS]
    return found


def test_the_ui_and_the_mails_use_one_word_for_each_thing():
    wrong = []
    for where, text in texts():
        if NOUN_WITH_OKURIGANA.search(text):
            wrong.append((where, text[:60], "差戻し"))
        for avoid, use in AVOID.items():
            if avoid in text:
                wrong.append((where, text[:60], use))
        if text.strip() in ("分析", "評価順"):
            wrong.append((where, text, "要因分析 / 達成度"))
    assert not wrong, wrong


def test_mails_write_the_fiscal_year_as_the_pages_do():
    from app.outbox import render

    for path in MAILS:
        assert "{{ fiscal_year }}年度" not in path.read_text(encoding="utf-8"), path.name
    context = {
        "item_number": "1-1",
        "item_title": "行政手続のオンライン化",
        "fiscal_year": 2026,
        "actor_name": "部長",
        "on_behalf_of_name": "",
        "comment": "理由",
        "department": "企画部",
        "section": "企画課",
        "recipient_name": "職員",
        "item_id": 1,
        "fiscal_year_label": "令和8年度",
        "state_label": "計画作成中",
        "stage_label": "計画",
        "due_label": "令和8年4月30日",
    }
    subject, body = render("transition_sent_back", context)
    assert "令和8年度" in body and "2026年度" not in body
