"""Import of an execution plan's reform items from an Excel workbook.

One row per (item, indicator): rows with the same 番号 describe one item, the first of them
gives the item's own columns, every row with an 指標名 adds or updates one indicator. The
whole workbook is read and checked first; rows with errors are reported by row number and
nothing is written unless every row is valid. Applying it is one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.calendar import fiscal_year_of
from app.exports import to_xlsx
from app.items.service import set_steps
from app.models import (
    ExecutionPlan,
    Indicator,
    IndicatorValue,
    ReformItem,
    Role,
    Section,
    User,
    Viewpoint,
)
from app.spreadsheets import SpreadsheetError, first_sheet_rows
from app.text import _
from app.validation import TEXT_MAX, Invalid, check_text, column_length, parse_int, parse_number
from workflows import audit, operations
from workflows.deadlines import year_locked

FIXED_COLUMNS = [
    "番号",
    "基本的な視点",
    "改革項目名",
    "目的",
    "内容",
    "所管課",
    "関係課",
    "指標名",
    "単位",
    "基準値",
    "大きいほど良い",
]
REQUIRED = {"番号", "基本的な視点", "改革項目名", "所管課"}
# Column sizes (characters) of the text columns; others are at most 200.
TEXT_LIMITS = {
    "番号": column_length(ReformItem.number),
    "改革項目名": column_length(ReformItem.title),
    "目的": TEXT_MAX,
    "内容": TEXT_MAX,
    "関係課": 2000,
    "指標名": column_length(Indicator.name),
    "単位": column_length(Indicator.unit),
}
MULTILINE = {"目的", "内容"}
STEP_MAX = TEXT_MAX
NUMBER_PATTERN = re.compile(r"^[1-9][0-9]?-[0-9]{1,3}$")
MAX_ROWS = 2000


class WorkbookError(Exception):
    """The workbook cannot be read at all (not the errors of single rows)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class IndicatorRow:
    name: str
    unit: str
    baseline: Decimal | None
    higher_is_better: bool
    targets: dict[int, Decimal]


@dataclass
class ItemRow:
    row: int
    number: str
    viewpoint: int
    title: str
    purpose: str
    content: str
    section: Section
    related: list[Section]
    indicators: list[IndicatorRow] = field(default_factory=list)
    # 工程 by fiscal year, for the years whose column the workbook has ("" removes one).
    steps: dict[int, str] = field(default_factory=dict)
    existing: ReformItem | None = None

    @property
    def action(self) -> str:
        return _("更新") if self.existing else _("新規")


@dataclass
class ImportPlan:
    items: list[ItemRow]
    errors: list[tuple[int, str]]

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.items)


def can_import(user: User) -> bool:
    return user.is_authenticated and (user.has_role(Role.SECRETARIAT) or user.has_role(Role.ADMIN))


def target_header(fiscal_year: int) -> str:
    return f"{fiscal_year}年度目標"


def step_header(fiscal_year: int) -> str:
    """The column of the item's 工程 in one fiscal year of the plan."""
    return f"{fiscal_year}年度工程"


def template_workbook(plan: ExecutionPlan) -> bytes:
    """An empty workbook with the headers and one example row (headers in row 1)."""
    headers = FIXED_COLUMNS + [target_header(fy) for fy in plan.fiscal_years]
    headers += [step_header(fy) for fy in plan.fiscal_years]
    example = [
        "1-1",
        1,
        "行政手続のオンライン化の推進",
        "来庁せずに手続を完結できるようにする",
        "電子申請の対象手続を拡大する",
        "デジタル行政推進課",
        "市民課",
        "オンライン申請が可能な手続数",
        "件",
        42,
        "はい",
    ]
    example += [80 + 40 * i for i, _ in enumerate(plan.fiscal_years)]
    example += [
        "子育て・介護分野の手続をオンライン化" if i == 0 else f"対象手続を{80 + 40 * i}件に拡大"
        for i, _ in enumerate(plan.fiscal_years)
    ]
    return to_xlsx("改革項目", headers, [example])


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _section(sections: dict[str, Section], value: str) -> Section | None:
    return sections.get(value) or sections.get(value.upper())


class _Row:
    """One worksheet row, read by column name, collecting its errors."""

    def __init__(self, number: int, values: tuple, position: dict[str, int]):
        self.number = number
        self.values = values
        self.position = position
        self.errors: list[str] = []

    def raw(self, name: str):
        index = self.position.get(name)
        return self.values[index] if index is not None and index < len(self.values) else None

    def text(self, name: str, *, max_length: int | None = None, multiline: bool = False) -> str:
        """The cell as text within its column's size; a refusal names the column."""
        try:
            return check_text(
                _text(self.raw(name)),
                max_length=max_length or TEXT_LIMITS.get(name, 200),
                multiline=multiline or name in MULTILINE,
            )
        except Invalid as exc:
            self.error(exc.message(f"「{name}」"))
            return ""

    def decimal(self, name: str) -> Decimal | None:
        """A number by the same rules as the forms (全角 digits and 1,234 accepted)."""
        raw = self.raw(name)
        try:
            return parse_number(raw.strip() if isinstance(raw, str) else raw)
        except Invalid as exc:
            if exc.reason == "number":
                self.error(
                    _(
                        "「%(name)s」は数値で入力してください（%(value)s）。",
                        name=name,
                        value=_text(raw)[:40],
                    )
                )
            else:
                self.error(exc.message(f"「{name}」"))
            return None

    def error(self, message: str) -> None:
        self.errors.append(message)


def _item_from(
    row: _Row, number: str, sections: dict[str, Section], viewpoints: set[int], years: list[int]
) -> ItemRow | None:
    """The item's own columns, from the first row of its number."""
    try:
        viewpoint = parse_int(row.raw("基本的な視点"))
    except Invalid:
        viewpoint = None
    if viewpoint not in viewpoints:
        row.error(_("「基本的な視点」は 1〜%(n)d の番号で入力してください。", n=len(viewpoints)))
    refused = len(row.errors)
    title = row.text("改革項目名")
    if not title and len(row.errors) == refused:
        row.error(_("「改革項目名」を入力してください。"))
    owner = row.text("所管課")
    section = _section(sections, owner)
    if section is None:
        row.error(
            _(
                "「所管課」が見つかりません（%(value)s）。課のコードか名称で入力してください。",
                value=owner or _("空欄"),
            )
        )
    related = []
    for name in filter(None, (p.strip() for p in re.split(r"[,、，]", row.text("関係課")))):
        found = _section(sections, name)
        if found is None:
            row.error(_("「関係課」が見つかりません（%(name)s）。", name=name))
        elif found is not section:
            related.append(found)
    steps = {
        fy: row.text(step_header(fy), max_length=STEP_MAX, multiline=True)
        for fy in years
        if step_header(fy) in row.position
    }
    if row.errors:
        return None
    return ItemRow(
        row=row.number,
        number=number,
        viewpoint=viewpoint,
        title=title,
        purpose=row.text("目的"),
        content=row.text("内容"),
        section=section,
        related=related,
        steps=steps,
    )


def _indicator_from(row: _Row, years: list[int]) -> IndicatorRow | None:
    name = row.text("指標名")
    if not name:
        return None
    baseline = row.decimal("基準値")
    targets = {}
    for fy in years:
        value = row.decimal(target_header(fy))
        if value is not None:
            targets[fy] = value
    better = row.text("大きいほど良い") not in ("いいえ", "×", "no", "false", "0")
    return IndicatorRow(name, row.text("単位"), baseline, better, targets)


def _locked_target_changes(session: Session, items, years: list[int]) -> list[tuple[int, str]]:
    """Targets of a locked (確定) fiscal year may not change; unchanged ones are dropped."""
    locked = [fy for fy in years if year_locked(session, fy)]
    problems = []
    for item in items:
        stored = {i.name: i for i in item.existing.indicators} if item.existing else {}
        for indicator in item.indicators:
            for fy in locked:
                if fy not in indicator.targets:
                    continue
                old = stored.get(indicator.name)
                old_value = old.value_for(fy) if old else None
                if old_value is None or old_value.target != indicator.targets[fy]:
                    problems.append(
                        (
                            item.row,
                            _(
                                "%(year)s年度は確定（ロック）済みのため、目標値を変更できません（%(name)s）。",
                                year=fy,
                                name=indicator.name,
                            ),
                        )
                    )
                del indicator.targets[fy]
    return problems


def read_workbook(session: Session, plan: ExecutionPlan, data: bytes) -> ImportPlan:
    """Parse and check every row; nothing is written."""
    try:
        rows = iter(first_sheet_rows(data, MAX_ROWS + 2))
    except SpreadsheetError as exc:
        raise WorkbookError(exc.message) from exc
    header = [_text(h) for h in next(rows, ())]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise WorkbookError(
            _("見出し行に必要な列がありません：%(columns)s", columns="、".join(sorted(missing)))
        )
    position = {name: header.index(name) for name in header if name}
    years = [fy for fy in plan.fiscal_years if target_header(fy) in position]

    sections: dict[str, Section] = {}
    for section in session.scalars(select(Section).where(Section.active.is_(True))):
        sections[section.code] = section
        sections[section.name] = section
    viewpoints = {
        v.number
        for v in session.scalars(select(Viewpoint).where(Viewpoint.outline_id == plan.outline_id))
    }
    existing = {
        i.number: i
        for i in session.scalars(
            select(ReformItem)
            .where(ReformItem.plan_id == plan.id)
            .options(selectinload(ReformItem.indicators), selectinload(ReformItem.steps))
        )
    }

    items: dict[str, ItemRow] = {}
    errors: list[tuple[int, str]] = []
    for row_number, values in enumerate(rows, start=2):
        if row_number > MAX_ROWS + 1:
            errors.append((row_number, _("一度に取り込めるのは%(n)d行までです。", n=MAX_ROWS)))
            break
        if all(_text(v) == "" for v in values):
            continue
        row = _Row(row_number, values, position)
        number = row.text("番号")
        if not NUMBER_PATTERN.match(number):
            row.error(
                _(
                    "「番号」は 1-3 のような形式で入力してください（%(value)s）。",
                    value=number or _("空欄"),
                )
            )
        if number not in items:
            item = _item_from(row, number, sections, viewpoints, list(plan.fiscal_years))
            if item is not None and not row.errors:
                item.existing = existing.get(number)
                items[number] = item
        indicator = _indicator_from(row, years)
        if indicator is not None and number in items and not row.errors:
            if any(i.name == indicator.name for i in items[number].indicators):
                row.error(_("指標「%(name)s」が重複しています。", name=indicator.name))
            else:
                items[number].indicators.append(indicator)
        errors.extend((row_number, message) for message in row.errors)
    errors.extend(_locked_target_changes(session, items.values(), years))
    if not items and not errors:
        errors.append((2, _("取り込む行がありません。")))
    return ImportPlan(items=list(items.values()), errors=errors)


def apply(
    session: Session, plan: ExecutionPlan, parsed: ImportPlan, *, by: User, now: datetime
) -> tuple[int, int]:
    """Write a checked import (flushed, not committed); (created, updated)."""
    if not parsed.ok:
        raise WorkbookError(_("エラーのある取込は反映できません。"))
    viewpoints = {
        v.number: v
        for v in session.scalars(select(Viewpoint).where(Viewpoint.outline_id == plan.outline_id))
    }
    new_items: list[ReformItem] = []
    for row in parsed.items:
        item = row.existing
        if item is None:
            item = ReformItem(plan=plan, number=row.number)
            session.add(item)
            new_items.append(item)
        item.viewpoint = viewpoints[row.viewpoint]
        item.title = row.title
        item.purpose = row.purpose
        item.content = row.content
        item.owning_section = row.section
        item.related_sections = row.related
        set_steps(item, row.steps)
        by_name = {i.name: i for i in item.indicators}
        for position, spec in enumerate(row.indicators, start=len(item.indicators) + 1):
            indicator = by_name.get(spec.name)
            if indicator is None:
                indicator = Indicator(name=spec.name, position=position)
                item.indicators.append(indicator)
            indicator.unit = spec.unit
            indicator.baseline_value = spec.baseline
            indicator.baseline_fy = plan.start_fy - 1
            indicator.higher_is_better = spec.higher_is_better
            for fy, target in spec.targets.items():
                value = indicator.value_for(fy)
                if value is None:
                    indicator.values.append(IndicatorValue(fiscal_year=fy, target=target))
                else:
                    value.target = target
    session.flush()
    fiscal_year = fiscal_year_of(now)
    if fiscal_year in plan.fiscal_years:
        for item in new_items:
            operations.open_cycle(item, fiscal_year, now=now, by=by)
    created = len(new_items)
    updated = len(parsed.items) - created
    audit.record(
        session,
        scope=f"plan:{plan.id}",
        action="import_items",
        now=now,
        actor=by,
        data={
            "created": created,
            "updated": updated,
            "numbers": [row.number for row in parsed.items],
        },
    )
    return created, updated
