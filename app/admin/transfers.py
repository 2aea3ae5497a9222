"""The April personnel transfer (人事異動): who holds which post, from a spreadsheet.

The upload is parsed and validated as a whole; the preview shows who leaves and who takes
each post; applying changes everything in one transaction or nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.exports import to_xlsx
from app.models import Post, PostAssignment, User
from app.spreadsheets import SpreadsheetError, first_sheet_rows
from app.text import ActionError, _, current_locale
from app.validation import Invalid, check_text, column_length, parse_date
from workflows.registry import get_definition

from .owners import left_without_owner, scope_of

HEADERS = ("役職コード", "役職名", "新任者ログインID", "発令日")
MAX_ROWS = 5000
_SPLIT = re.compile(r"[,、，\s]+")


@dataclass
class TransferRow:
    """One line of the upload: a post, its holders from a date; errors in Japanese."""

    line: int
    code: str
    logins: list[str]
    starts_on: date | None
    post: Post | None = None
    leaving: list[User] = field(default_factory=list)
    taking: list[User] = field(default_factory=list)
    staying: list[User] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(self.leaving or self.taking)


@dataclass
class TransferPlan:
    rows: list[TransferRow]
    errors: list[str] = field(default_factory=list)  # about the file as a whole

    @property
    def ok(self) -> bool:
        return not self.errors and not any(r.errors for r in self.rows)

    @property
    def changed(self) -> list[TransferRow]:
        return [r for r in self.rows if r.changes]

    def serialise(self) -> list[dict]:
        """What the apply step needs; it is validated again before anything changes."""
        return [
            {
                "line": r.line,
                "code": r.code,
                "logins": r.logins,
                "starts_on": r.starts_on.isoformat() if r.starts_on else None,
            }
            for r in self.rows
        ]


def template_workbook(session: Session, today: date) -> bytes:
    """The upload form, filled with every active post and who holds it today."""
    posts = session.scalars(
        select(Post)
        .where(Post.active.is_(True))
        .order_by(Post.department_id, Post.code)
        .options(selectinload(Post.assignments).selectinload(PostAssignment.user))
    ).all()
    rows = [[p.code, p.name, "、".join(u.login for u in p.holders(today)), None] for p in posts]
    return to_xlsx("人事異動", list(HEADERS), rows)


def _cell_text(value, max_length: int) -> str:
    """A cell as text; Invalid when it is too long for its column or holds control characters."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return check_text("" if value is None else str(value), max_length=max_length, multiline=False)


def _shown(value) -> str:
    """A refused cell as the error message quotes it: short and printable."""
    text = "".join(c if c.isprintable() else "?" for c in str(value))
    return text if len(text) <= 40 else text[:40] + "…"


def read_workbook(data: bytes) -> tuple[list[TransferRow], list[str]]:
    """The rows of the first sheet; header problems are file errors."""
    try:
        lines = iter(first_sheet_rows(data, MAX_ROWS + 2))
    except SpreadsheetError as exc:
        return [], [exc.message]
    header = [str(h or "").strip() for h in next(lines, ())]
    missing = [h for h in HEADERS if h != "役職名" and h not in header]
    if missing:
        return [], [_("1行目に見出し「%(names)s」がありません。", names="」「".join(missing))]
    at = {h: header.index(h) for h in HEADERS if h in header}
    rows: list[TransferRow] = []
    for number, values in enumerate(lines, start=2):
        values = list(values) + [None] * len(header)
        if all(v in (None, "") for v in values):
            continue
        if len(rows) >= MAX_ROWS:
            return rows, [_("行数が多すぎます（%(n)s行まで）。", n=MAX_ROWS)]
        row = TransferRow(line=number, code="", logins=[], starts_on=None)
        try:
            row.code = _cell_text(values[at["役職コード"]], column_length(Post.code))
        except Invalid as exc:
            row.errors.append(exc.message(_("役職コード")))
        try:
            holders = _cell_text(values[at["新任者ログインID"]], 2000)
        except Invalid as exc:
            row.errors.append(exc.message(_("新任者ログインID")))
            holders = ""
        row.logins = [s for s in _SPLIT.split(holders) if s]
        for login in row.logins:
            if len(login) > column_length(User.login):
                row.errors.append(
                    _("ログインID「%(login)s」の利用者は登録されていません。", login=_shown(login))
                )
        row.logins = [s for s in row.logins if len(s) <= column_length(User.login)]
        raw_date = values[at["発令日"]]
        if raw_date not in (None, ""):
            try:
                row.starts_on = parse_date(raw_date)
            except Invalid:
                row.errors.append(
                    _(
                        "発令日「%(value)s」は日付として読めません（例: 2027-04-01）。",
                        value=_shown(raw_date),
                    )
                )
        rows.append(row)
    if not rows:
        return [], [_("変更する行がありません。")]
    return rows, []


def rows_from_serialised(data: list[dict]) -> list[TransferRow]:
    return [
        TransferRow(
            line=d["line"],
            code=d["code"],
            logins=list(d["logins"]),
            starts_on=date.fromisoformat(d["starts_on"]) if d["starts_on"] else None,
        )
        for d in data
    ]


def plan(
    session: Session, rows: list[TransferRow], file_errors: list[str] | None = None
) -> TransferPlan:
    """Check every row against the organisation and compute who leaves and who takes."""
    result = TransferPlan(rows, list(file_errors or []))
    codes = {r.code for r in rows if r.code}
    posts = {
        p.code: p
        for p in session.scalars(
            select(Post)
            .where(Post.code.in_(codes))
            .options(selectinload(Post.assignments).selectinload(PostAssignment.user))
        )
    }
    logins = {login for r in rows for login in r.logins}
    users = {u.login: u for u in session.scalars(select(User).where(User.login.in_(logins)))}
    seen: dict[str, int] = {}
    for row in rows:
        _check_row(row, posts, users, seen)
    _check_owners(session, result)
    return result


def _check_row(row: TransferRow, posts: dict, users: dict, seen: dict[str, int]) -> None:
    if not row.code:
        if not row.errors:
            row.errors.append(_("役職コードが空欄です。"))
        return
    if row.code in seen:
        row.errors.append(
            _(
                "役職コード「%(code)s」が%(line)s行目と重複しています。",
                code=row.code,
                line=seen[row.code],
            )
        )
        return
    seen[row.code] = row.line
    post = posts.get(row.code)
    if post is None:
        row.errors.append(_("役職コード「%(code)s」は登録されていません。", code=row.code))
        return
    if not post.active:
        row.errors.append(_("役職「%(name)s」は廃止されています。", name=post.name))
        return
    row.post = post
    new_users = []
    for login in row.logins:
        user = users.get(login)
        if user is None:
            row.errors.append(
                _("ログインID「%(login)s」の利用者は登録されていません。", login=login)
            )
        elif not user.active:
            row.errors.append(
                _("ログインID「%(login)s」の利用者は無効になっています。", login=login)
            )
        else:
            new_users.append(user)
    on = row.starts_on
    current = _open_assignments(post)
    current_users = {a.user.id: a.user for a in current}
    wanted = {u.id: u for u in new_users}
    if set(wanted) == set(current_users):
        return  # no change on this line (its date does not matter)
    if on is None:
        if not row.errors:
            row.errors.append(_("発令日を入力してください。"))
        return
    latest = max((a.starts_on for a in post.assignments), default=None)
    if latest is not None and on <= latest:
        row.errors.append(
            _(
                "発令日 %(on)s は、この役職の直近の発令日 %(latest)s 以前です。",
                on=on.isoformat(),
                latest=latest.isoformat(),
            )
        )
    row.leaving = [u for uid, u in current_users.items() if uid not in wanted]
    row.taking = [u for uid, u in wanted.items() if uid not in current_users]
    row.staying = [u for uid, u in wanted.items() if uid in current_users]


def _open_assignments(post: Post) -> list[PostAssignment]:
    """Assignments not yet ended (still open or ending in the future of the last start)."""
    return [a for a in post.assignments if a.ends_on is None]


def _check_owners(session: Session, result: TransferPlan) -> None:
    """No active item may be left without staff in its section or a head in its department."""
    vacated = [
        r for r in result.rows if r.post is not None and r.changes and not r.logins and not r.errors
    ]
    if not vacated:
        return
    by_code = {r.code: r for r in result.rows if r.post is not None and not r.errors}
    for row in vacated:
        post, on = row.post, row.starts_on
        scope = scope_of(post)
        if scope is None:
            continue
        after = lambda p, on=on: _holders_after(p, on, by_code)  # noqa: E731
        if left_without_owner(session, on, **scope, holders=after):
            row.errors.append(
                _(
                    "この変更で「%(post)s」が空席になり、所管する改革項目の%(what)sがいなくなります。",
                    post=post.name,
                    what=get_definition().roles[scope["role"]].label(current_locale()),
                )
            )


def _holders_after(post: Post, on: date, by_code: dict[str, TransferRow]) -> set[int]:
    """Who holds `post` on `on` once the upload is applied."""
    holders = {a.user_id for a in post.assignments if a.covers(on)}
    row = by_code.get(post.code)
    if row is not None and row.changes and row.starts_on is not None and row.starts_on <= on:
        holders -= {u.id for u in row.leaving}
        holders |= {u.id for u in row.taking}
    return holders


def apply(session: Session, result: TransferPlan, *, by: User, now: datetime) -> int:
    """End the leaving holders' assignments the day before and start the new ones; audited."""
    from workflows.audit import record

    if not result.ok:
        raise ActionError(_("誤りのある行があるため、人事異動を反映できません。"))
    changed = result.changed
    if not changed:
        raise ActionError(_("変更する行がありません。"))
    count = 0
    for row in changed:
        leaving = {u.id for u in row.leaving}
        for assignment in _open_assignments(row.post):
            if assignment.user_id in leaving:
                assignment.ends_on = row.starts_on - timedelta(days=1)
                count += 1
        for user in row.taking:
            session.add(PostAssignment(post=row.post, user=user, starts_on=row.starts_on))
            count += 1
    session.flush()
    record(
        session,
        scope="admin",
        action="personnel_transfer",
        now=now,
        actor=by,
        data={
            "rows": [
                {
                    "post": r.code,
                    "on": r.starts_on.isoformat(),
                    "leaving": [u.login for u in r.leaving],
                    "taking": [u.login for u in r.taking],
                }
                for r in changed
            ]
        },
    )
    return count
