"""The progress sheet (進捗管理シート, 個票) of one item in one published year.

This is the one place that turns a publication entry (the frozen snapshot of a cycle,
see app/public/service.py) into what people read: the public page, the Excel workbook
and the PDF report all take their fields, labels and formatted values from here, in the
order a published sheet shows them. A field added to the snapshot is added here once.
Older snapshots lack newer keys; they show as empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from flask import has_request_context

from app.calendar import wareki_fiscal_year
from app.models import Direction, EffectKind, Grade, ProgressStatus
from app.text import _, number

GRADES = {g.value: g for g in Grade}
STATUSES = {s.value: s for s in ProgressStatus}
DIRECTIONS = {d.value: d for d in Direction}
EFFECT_KINDS = {k.value: k for k in EffectKind}
# The key of 効果額 without a kind (amounts entered before kinds existed): 未分類.
UNCLASSIFIED = "unclassified"


def _locale() -> str:
    if has_request_context():
        from app.templating import current_locale

        return current_locale()
    return "ja"


def _label(member) -> str:
    return member.label(_locale()) if member is not None else ""


def yen(amount: int | None) -> str:
    """An amount of money in yen, as people read it ("1,200,000円")."""
    if amount is None:
        return ""
    return _("%(amount)s円", amount=number(amount))


def thousand_yen(amount: int | None) -> int | None:
    """An amount in yen as whole 千円, rounded half up (1,234,500円 → 1,235)."""
    if amount is None:
        return None
    return int((Decimal(amount) / 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def sen_yen(amount: int | None) -> str:
    """An amount stored in yen, shown in 千円 as published sheets do ("1,234千円")."""
    if amount is None:
        return ""
    return _("%(amount)s千円", amount=number(thousand_yen(amount)))


def effect_kind_label(value: str | None) -> str:
    """The label of a 効果額 kind; 未分類 for an amount without one."""
    kind = EFFECT_KINDS.get(value or "")
    return _label(kind) if kind else _("未分類")


def effect_kinds() -> list[tuple[str, str]]:
    """(key, label) of every 効果額 kind, 未分類 last, for the totals."""
    return [(k.value, _label(k)) for k in EffectKind] + [(UNCLASSIFIED, _("未分類"))]


@dataclass
class EffectTotals:
    """効果額 added up in yen, by kind; shown in 千円 (rounded once, on the total)."""

    by_kind: dict[str, int] = field(default_factory=dict)
    total: int = 0
    count: int = 0

    def add(self, amount: int | None, kind: str | None) -> None:
        if amount is None:
            return
        key = kind if kind in EFFECT_KINDS else UNCLASSIFIED
        self.by_kind[key] = self.by_kind.get(key, 0) + amount
        self.total += amount
        self.count += 1

    def of(self, key: str) -> int:
        return self.by_kind.get(key, 0)


def effect_summary(
    by_viewpoint: dict[int, list[ProgressSheet]], names: dict[int, str]
) -> tuple[list[tuple[int, str, EffectTotals]], EffectTotals]:
    """The year's 効果額 per viewpoint (in plan order) and in total, by kind."""
    rows = []
    total = EffectTotals()
    for vp in sorted(set(by_viewpoint) | set(names)):
        totals = EffectTotals()
        sheets = by_viewpoint.get(vp, [])
        for sheet in sheets:
            totals.add(sheet.effect_amount, sheet.effect_kind)
            total.add(sheet.effect_amount, sheet.effect_kind)
        name = names.get(vp) or (sheets[0].viewpoint_name if sheets else "")
        rows.append((vp, name, totals))
    return rows, total


@dataclass(frozen=True)
class SheetField:
    """One labelled entry of the sheet; `key` names it for styling and tests."""

    key: str
    label: str
    text: str


@dataclass(frozen=True)
class IndicatorLine:
    name: str
    unit: str
    baseline: str
    target: str
    actual: str


@dataclass(frozen=True)
class StepLine:
    """The 工程 of one fiscal year of the plan; `current` marks the sheet's year."""

    fiscal_year: int
    label: str
    text: str
    current: bool


@dataclass(frozen=True)
class OpinionLine:
    opinion: str
    reply: str


@dataclass
class ProgressSheet:
    """Everything one item's sheet shows, formatted and labelled."""

    number: str
    title: str
    viewpoint_number: int
    viewpoint_name: str
    department: str
    section: str
    related_sections: list[str]
    grade: str | None
    grade_label: str
    progress_status: str | None
    progress_status_label: str
    direction_label: str
    effect_amount: int | None
    fiscal_year: int | None = None
    effect_kind: str | None = None
    effect_kind_label: str = ""
    effect_basis: str = ""
    # The labelled texts, in the order of the published sheet; empty ones included.
    fields: list[SheetField] = field(default_factory=list)
    indicators: list[IndicatorLine] = field(default_factory=list)
    opinions: list[OpinionLine] = field(default_factory=list)
    steps: list[StepLine] = field(default_factory=list)

    def text(self, key: str) -> str:
        return next((f.text for f in self.fields if f.key == key), "")

    @property
    def owner(self) -> str:
        return f"{self.department} {self.section}".strip()


def sheet_for(entry: dict, fiscal_year: int | None = None) -> ProgressSheet:
    """The progress sheet of a publication entry (of `fiscal_year`, which marks the
    year's 工程)."""
    grade = GRADES.get(entry.get("grade") or "")
    status = STATUSES.get(entry.get("progress_status") or "")
    direction = DIRECTIONS.get(entry.get("direction") or "")
    related = list(entry.get("related_sections") or [])
    effect = entry.get("effect_amount")
    kind = entry.get("effect_kind") if effect is not None else None
    kind_label = effect_kind_label(kind) if effect is not None else ""
    basis = entry.get("effect_basis") or ""
    improvement = entry.get("improvement") or ""
    direction_text = _label(direction)
    if direction_text and improvement:
        direction_text = f"{direction_text}\n{improvement}"
    elif improvement:
        direction_text = improvement
    fields = [
        SheetField("purpose", _("目的"), entry.get("purpose") or ""),
        SheetField("content", _("取組内容"), entry.get("content") or ""),
        SheetField("goal", _("年度目標"), entry.get("goal") or ""),
        SheetField("achievements", _("取組実績"), entry.get("achievements") or ""),
        SheetField("grade", _("達成度"), _label(grade)),
        SheetField("progress_status", _("着手状況"), _label(status)),
        SheetField("analysis", _("要因分析"), entry.get("analysis") or ""),
        SheetField("issues", _("課題"), entry.get("issues") or ""),
        SheetField(
            "effect_amount",
            _("効果額"),
            f"{sen_yen(effect)}（{kind_label}）" if effect is not None else "",
        ),
        SheetField("effect_basis", _("効果額の算定根拠"), basis if effect is not None else ""),
        SheetField("direction", _("今後の方向性"), direction_text),
    ]
    indicators = [
        IndicatorLine(
            name=i.get("name") or "",
            unit=i.get("unit") or "",
            baseline=number(i.get("baseline")),
            target=number(i.get("target")),
            actual=number(i.get("actual")),
        )
        for i in entry.get("indicators") or []
    ]
    opinions = [
        OpinionLine(o.get("opinion") or "", o.get("reply") or "")
        for o in entry.get("opinions") or []
    ]
    steps = [
        StepLine(
            int(st["fiscal_year"]),
            wareki_fiscal_year(int(st["fiscal_year"])),
            st.get("text") or "",
            int(st["fiscal_year"]) == fiscal_year,
        )
        for st in entry.get("steps") or []
    ]
    return ProgressSheet(
        number=entry["number"],
        title=entry["title"],
        viewpoint_number=entry["viewpoint"],
        viewpoint_name=entry.get("viewpoint_name") or "",
        department=entry.get("department") or "",
        section=entry.get("section") or "",
        related_sections=related,
        grade=grade.value if grade else None,
        grade_label=_label(grade),
        progress_status=status.value if status else None,
        progress_status_label=_label(status),
        direction_label=_label(direction),
        effect_amount=effect,
        fiscal_year=fiscal_year,
        effect_kind=kind,
        effect_kind_label=kind_label,
        effect_basis=basis if effect is not None else "",
        fields=fields,
        indicators=indicators,
        opinions=opinions,
        steps=steps,
    )


def steps_text(sheet: ProgressSheet) -> str:
    """The 工程 by fiscal year on lines, for a spreadsheet cell ("令和8年度：…")."""
    return "\n".join(
        f"{'▶' if st.current else ''}{st.label}：{st.text or '—'}" for st in sheet.steps
    )


def indicator_text(line: IndicatorLine) -> str:
    """One indicator on one line, for a spreadsheet cell."""
    unit = f" {line.unit}" if line.unit else ""

    def value(text: str) -> str:
        return f"{text}{unit}" if text else "—"

    return _(
        "%(name)s：基準値 %(baseline)s／目標値 %(target)s／実績値 %(actual)s",
        name=line.name,
        baseline=value(line.baseline),
        target=value(line.target),
        actual=value(line.actual),
    )


def workbook_columns() -> list[str]:
    """The headers of the published year's list (one row per item, printable on A4)."""
    return [
        _("番号"),
        _("取組項目"),
        _("基本的な視点"),
        _("所管課・関係課"),
        _("年度目標"),
        _("指標"),
        _("取組実績"),
        _("達成度"),
        _("着手状況"),
        _("要因分析"),
        _("課題"),
        _("効果額（千円）"),
        _("今後の方向性"),
        _("推進委員会の意見と対応"),
    ]


def workbook_row(sheet: ProgressSheet) -> list:
    """The sheet as one row of the published year's list (see workbook_columns)."""
    opinions = "\n".join(
        _("意見：%(opinion)s", opinion=o.opinion)
        + ("\n" + _("対応：%(reply)s", reply=o.reply) if o.reply else "")
        for o in sheet.opinions
    )
    owner = sheet.owner
    if sheet.related_sections:
        owner += "\n" + _("関係課") + "：" + "、".join(sheet.related_sections)
    return [
        sheet.number,
        sheet.title,
        f"{sheet.viewpoint_number}. {sheet.viewpoint_name}",
        owner,
        sheet.text("goal"),
        "\n".join(indicator_text(i) for i in sheet.indicators),
        sheet.text("achievements"),
        sheet.grade_label,
        sheet.progress_status_label,
        sheet.text("analysis"),
        sheet.text("issues"),
        effect_text(sheet),
        sheet.text("direction"),
        opinions,
    ]


def effect_text(sheet: ProgressSheet) -> str:
    """効果額 in one cell: amount in 千円 with its kind, and the basis below."""
    if sheet.effect_amount is None:
        return ""
    text = sheet.text("effect_amount")
    if sheet.effect_basis:
        text += "\n" + _("算定根拠：%(basis)s", basis=sheet.effect_basis)
    return text


def step_columns(years: list[int]) -> list[str]:
    """The headers of the workbook's 工程 sheet: the item, then one column per plan year."""
    return [_("番号"), _("取組項目"), *(wareki_fiscal_year(fy) for fy in years)]


def step_rows(sheets: list[ProgressSheet]) -> tuple[list[int], list[list]]:
    """(the plan years, one row per item with its 工程 in each year)."""
    years = sorted({st.fiscal_year for s in sheets for st in s.steps})
    rows = []
    for sheet in sheets:
        texts = {st.fiscal_year: st.text for st in sheet.steps}
        rows.append([sheet.number, sheet.title, *(texts.get(fy, "") for fy in years)])
    return years, rows


def effect_columns() -> list[str]:
    return [
        _("番号"),
        _("取組項目"),
        _("基本的な視点"),
        _("効果額の種類"),
        _("効果額（千円）"),
        _("効果額（円）"),
        _("効果額の算定根拠"),
    ]


def effect_rows(sheets: list[ProgressSheet], names: dict[int, str]) -> list[list]:
    """The items with a 効果額 (numbers as numbers), then the totals per viewpoint and
    of the year, each also by kind (for the workbook's 効果額 sheet)."""
    rows = []
    by_viewpoint: dict[int, list[ProgressSheet]] = {}
    for sheet in sheets:
        by_viewpoint.setdefault(sheet.viewpoint_number, []).append(sheet)
        if sheet.effect_amount is None:
            continue
        rows.append(
            [
                sheet.number,
                sheet.title,
                f"{sheet.viewpoint_number}. {sheet.viewpoint_name}",
                sheet.effect_kind_label,
                thousand_yen(sheet.effect_amount),
                sheet.effect_amount,
                sheet.effect_basis,
            ]
        )
    viewpoints, total = effect_summary(by_viewpoint, names)
    kinds = effect_kinds()

    def total_rows(label: str, totals: EffectTotals) -> list[list]:
        lines = [
            ["", _("%(what)s 計", what=label), "", kind, thousand_yen(amount), amount, ""]
            for key, kind in kinds
            if (amount := totals.of(key))
        ]
        total_label = _("%(what)s 合計", what=label)
        lines.append(["", total_label, "", "", thousand_yen(totals.total), totals.total, ""])
        return lines

    for vp, name, totals in viewpoints:
        rows += total_rows(f"{vp}. {name}", totals)
    rows += total_rows(_("全体"), total)
    return rows


def indicator_columns() -> list[str]:
    return [
        _("番号"),
        _("取組項目"),
        _("指標"),
        _("単位"),
        _("基準値"),
        _("目標値"),
        _("実績値"),
    ]


def indicator_rows(entries: list[dict]) -> list[list]:
    """One row per indicator, with numbers as numbers (for the workbook's second sheet)."""
    rows = []
    for entry in entries:
        for i in entry.get("indicators") or []:
            rows.append(
                [
                    entry["number"],
                    entry["title"],
                    i.get("name") or "",
                    i.get("unit") or "",
                    _decimal(i.get("baseline")),
                    _decimal(i.get("target")),
                    _decimal(i.get("actual")),
                ]
            )
    return rows


def _decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text not in (None, "") else None
