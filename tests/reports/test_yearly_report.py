"""The yearly report (PDF): the demo's published year end to end, read back page by page."""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Cycle, Grade, Publication, ReformItem
from app.reports.sheet import thousand_yen
from app.reports.yearly import FRONT_PAGES
from app.text import number

from .conftest import PUBLISHED_FY, need, page_texts


@pytest.fixture(scope="module")
def report(demo_app, tmp_path_factory):
    """The report written by `kaikaku report yearly`, with the publication it was made from."""
    out = tmp_path_factory.mktemp("report") / "report.pdf"
    result = demo_app.test_cli_runner().invoke(
        args=["report", "yearly", "--fy", str(PUBLISHED_FY), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    with demo_app.app_context():
        publication = db.session.scalar(
            select(Publication).where(Publication.fiscal_year == PUBLISHED_FY)
        )
        entries = publication.entries
    return out.read_bytes(), entries, page_texts(out.read_bytes())


def test_one_page_per_item_behind_cover_contents_and_summary(report):
    _data, entries, pages = report
    assert len(entries) >= 20
    assert len(pages) == FRONT_PAGES + len(entries)
    for page, entry in zip(pages[FRONT_PAGES:], entries, strict=True):
        flat = page.replace("\n", "").replace(" ", "")
        assert entry["number"] in flat and entry["title"].replace(" ", "") in flat
        if entry["grade"]:
            assert Grade(entry["grade"]).ja.replace(" ", "") in flat
        for opinion in entry["opinions"]:
            assert opinion["opinion"][:20].replace(" ", "") in flat
    # Page numbers in the footer; the contents point at the right pages.
    assert f"4 / {len(pages)}" in pages[3]
    contents = pages[1].replace(" ", "")
    first = entries[0]
    assert f"{first['title'].replace(' ', '')}" in contents


def test_cover_and_summary_give_year_revision_grades_and_totals(report):
    _data, entries, pages = report
    cover = pages[0]
    assert "令和7年度" in cover and "2025年度" in cover and "第1版" in cover
    assert "入間市" in cover and "公表日" in cover
    summary = pages[2].replace(" ", "")
    for viewpoint in {e["viewpoint_name"] for e in entries}:
        assert viewpoint in summary
    total = sum(e["effect_amount"] or 0 for e in entries)
    assert f"{number(thousand_yen(total))}千円" in summary
    a_count = sum(1 for e in entries if e["grade"] == "A")
    assert f"合計{len(entries)}{a_count}" in summary.replace("\n", "")


def test_the_fonts_are_embedded(report, tmp_path):
    pdffonts = need("pdffonts")
    path = tmp_path / "report.pdf"
    path.write_bytes(report[0])
    lines = subprocess.run(
        [pdffonts, str(path)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]
    assert lines, "no fonts in the PDF"
    assert any("CJK" in line for line in lines), lines
    # Columns: name type encoding emb sub uni object-id; "emb" is the fourth from the end.
    assert all(line.split()[-4] == "yes" for line in lines), lines


def test_citizens_and_the_secretariat_download_the_same_report(demo_app, report):
    data, _entries, _pages = report
    client = demo_app.test_client()
    with demo_app.app_context():
        response = client.get(f"/public/{PUBLISHED_FY}.pdf")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.data == data
        link = f"/public/{PUBLISHED_FY}.pdf"
        assert link in client.get(f"/public/{PUBLISHED_FY}").get_data(as_text=True)
        assert link in client.get("/public/").get_data(as_text=True)
        client.post("/login", data={"login": "jimukyoku", "password": "kaikaku-demo"})
        assert link in client.get("/public/manage").get_data(as_text=True)
        # An unpublished year has no report.
        assert client.get(f"/public/{PUBLISHED_FY + 1}.pdf").status_code == 404


def test_the_command_refuses_a_year_not_published(demo_app, tmp_path):
    out = tmp_path / "none.pdf"
    result = demo_app.test_cli_runner().invoke(
        args=["report", "yearly", "--fy", str(PUBLISHED_FY + 1), "--out", str(out)]
    )
    assert result.exit_code != 0
    assert "not published" in result.output and not out.exists()


def test_the_report_shows_the_snapshot_not_later_edits(demo_app, report):
    """A draft written after publishing never reaches the report, even a new file of it."""
    from app.reports.yearly import render_pdf

    _data, entries, _pages = report
    with demo_app.app_context():
        publication = db.session.scalar(
            select(Publication).where(Publication.fiscal_year == PUBLISHED_FY)
        )
        first = entries[0]
        cycle = db.session.scalar(
            select(Cycle)
            .join(ReformItem)
            .where(ReformItem.id == first["item_id"], Cycle.fiscal_year == PUBLISHED_FY)
        )
        cycle.analysis = "公表後に書き換えた未公表の分析"
        db.session.flush()
        text = "".join(page_texts(render_pdf(db.session, publication)))
        db.session.rollback()
    assert "公表後に書き換えた未公表の分析" not in text
    assert first["analysis"][:15] in text


def test_an_english_reader_gets_the_japanese_report(demo_app):
    """The report is the city's Japanese document, whatever language the page is in."""
    from flask_babel import force_locale, gettext

    from app.reports.yearly import render_html

    with demo_app.test_request_context("/public/"), force_locale("en"):
        assert gettext("達成度") != "達成度"  # the reader's pages are in English
        publication = db.session.scalar(
            select(Publication).where(Publication.fiscal_year == PUBLISHED_FY)
        )
        html = render_html(db.session, publication)
    assert "目次" in html and "達成度" in html and "令和7年度" in html
