"""The yearly progress report (行政改革 進捗状況報告書) as PDF, from the published snapshot.

Only what the secretariat published is in it (the current revision of the year, see
app/public/service.py): a cover, the table of contents, the outline's idea with a summary
by viewpoint, then one A4 page per item in plan order. WeasyPrint lays it out with the
print stylesheet app/static/css/report.css; the fonts come from the machine (Noto Sans CJK,
Debian's fonts-noto-cjk) and are embedded in the file. Nothing is fetched over a network.
"""

from __future__ import annotations

import hashlib
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from flask import current_app, has_request_context, render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.calendar import local_date, wareki_fiscal_year
from app.models import Grade, Outline, ProgressStatus, Publication

from .sheet import EffectTotals, ProgressSheet, effect_kinds, sheet_for

STYLESHEET = Path(__file__).resolve().parent.parent / "static" / "css" / "report.css"
TEMPLATE = "reports/yearly.html"
# The pages before the items: the cover, the contents, the summary.
FRONT_PAGES = 3


@dataclass
class SummaryRow:
    """Counts of one viewpoint (or of all, in the total row)."""

    number: int | None
    name: str
    subtitle: str = ""
    items: int = 0
    grades: dict[str, int] = field(default_factory=lambda: {g.value: 0 for g in Grade})
    statuses: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in ProgressStatus})
    effects: EffectTotals = field(default_factory=EffectTotals)

    @property
    def effect_total(self) -> int:
        return self.effects.total

    def add(self, sheet: ProgressSheet) -> None:
        self.items += 1
        if sheet.grade:
            self.grades[sheet.grade] += 1
        if sheet.progress_status:
            self.statuses[sheet.progress_status] += 1
        self.effects.add(sheet.effect_amount, sheet.effect_kind)


@dataclass
class YearlyReport:
    city: str
    fiscal_year: int
    revision: int
    published_on: date
    basic_idea: str
    basic_idea_points: list[str]
    summary: list[SummaryRow]
    total: SummaryRow
    # (viewpoint number, name, the viewpoint's sheets), in plan order.
    sections: list[tuple[int, str, list[ProgressSheet]]]

    @property
    def sheets(self) -> list[ProgressSheet]:
        return [s for _n, _name, sheets in self.sections for s in sheets]

    @property
    def title(self) -> str:
        return f"{wareki_fiscal_year(self.fiscal_year)} 行政改革 進捗状況報告書"


class ReportError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def current_publication(session: Session, fiscal_year: int) -> Publication | None:
    from app.public.service import current

    return current(session, fiscal_year)


def build(session: Session, publication: Publication) -> YearlyReport:
    """The report's content from the publication's snapshot (and the outline's idea)."""
    outline = session.scalar(select(Outline))
    viewpoints = {v.number: v for v in outline.viewpoints} if outline else {}
    sheets = [sheet_for(entry, publication.fiscal_year) for entry in publication.entries]
    summary: dict[int, SummaryRow] = {}
    sections: dict[int, tuple[int, str, list[ProgressSheet]]] = {}
    for number, viewpoint in sorted(viewpoints.items()):
        summary[number] = SummaryRow(number, viewpoint.name, viewpoint.subtitle)
    total = SummaryRow(None, "合計")
    for sheet in sheets:
        row = summary.setdefault(
            sheet.viewpoint_number, SummaryRow(sheet.viewpoint_number, sheet.viewpoint_name)
        )
        row.add(sheet)
        total.add(sheet)
        if sheet.viewpoint_number not in sections:
            sections[sheet.viewpoint_number] = (sheet.viewpoint_number, row.name, [])
        sections[sheet.viewpoint_number][2].append(sheet)
    return YearlyReport(
        city=outline.city if outline else "",
        fiscal_year=publication.fiscal_year,
        revision=publication.revision,
        published_on=local_date(publication.published_at),
        basic_idea=outline.basic_idea if outline else "",
        basic_idea_points=list(outline.basic_idea_points) if outline else [],
        summary=[summary[n] for n in sorted(summary)],
        total=total,
        sections=[sections[n] for n in sorted(sections)],
    )


def _request_context():
    """Templates and translations need a request (the locale is chosen per request); the
    command line has none, so it gets a bare one."""
    return nullcontext() if has_request_context() else current_app.test_request_context()


def render_html(session: Session, publication: Publication) -> str:
    # The report is the city's Japanese document whatever the reader's language.
    with _request_context(), force_locale("ja"):
        report = build(session, publication)
        return render_template(
            TEMPLATE, report=report, grades=list(Grade), effect_kinds=effect_kinds()
        )


def render_pdf(session: Session, publication: Publication) -> bytes:
    """The report of `publication` as PDF bytes."""
    from weasyprint import CSS, HTML

    html = render_html(session, publication)
    document = HTML(string=html, base_url=str(STYLESHEET.parent))
    return document.write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))])


def _layout_version() -> str:
    """Changes whenever the template or the stylesheet does, so stale files are not served."""
    digest = hashlib.sha256(STYLESHEET.read_bytes())
    template = Path(current_app.root_path) / "templates" / TEMPLATE
    digest.update(template.read_bytes())
    return digest.hexdigest()[:12]


def yearly_pdf(session: Session, fiscal_year: int) -> tuple[bytes, Publication]:
    """The current publication's report, kept in instance/reports once it has been made.

    A publication never changes once made (a new one is a new revision), so the file is
    made once per revision and layout; ReportError when the year is not published.
    """
    publication = current_publication(session, fiscal_year)
    if publication is None:
        raise ReportError(f"FY{fiscal_year} is not published")
    instance = current_app.config.get("INSTANCE_PATH") or current_app.instance_path
    folder = Path(instance) / "reports"
    path = folder / (
        f"yearly-{fiscal_year}-r{publication.revision}-{publication.id}-{_layout_version()}.pdf"
    )
    if path.exists():
        return path.read_bytes(), publication
    data = render_pdf(session, publication)
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
    partial.write_bytes(data)
    partial.replace(path)
    return data, publication


def filename(fiscal_year: int) -> str:
    return f"行政改革進捗状況報告書_{fiscal_year}"
