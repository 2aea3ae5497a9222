"""No page costs more statements when the data grows: every GET route, for every role.

Every page a role can open (the fuzzer's URLs with one sample per parameter, every download
format, the lists' downloads, and the JSON API with the role's token) is fetched after the
demo has grown by one item per section in each of five waiting states, and again after a
second such growth (from about 150 items to about 270), each request in a fresh session as
on a server, and its statements counted. Both times the lists hold the same mix of states,
so the queries that depend on the mix are the same; a page whose count changed reads per
row somewhere, or walks rows it does not show, and the test names it with both counts.

What it cannot see: a read per row on a list that shows a full page both times (the
secretariat's lists; `tests/secretariat/test_page_statements.py` covers the pages used
most with a small size shorter than a page), reads through rows the growth does not add
(other years, confirmed or closed cycles, submitters: the grown cycles have none), and
pages that show every item of a plan (the plan, the publication's preview) past 500 items,
where the items' related rows are read in batches of 500 ids: one statement per relation
for each 500 items, which is how those reads are bounded, not a read per row. The data
stays under 500 items.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.calendar import fiscal_year_of
from app.extensions import db as _db
from app.models import ExecutionPlan, ReformItem, Section, User, Viewpoint
from app.tokens import service as token_service
from tests.secretariat.helpers import bulk_cycles
from tests.statements import statements

from .conftest import ROLES
from .discovery import expand
from .test_fuzz import SKIPPED, Fuzzer

# States a cycle waits in during the year: each lists somewhere (tasks, inbox, the
# secretariat's lists and counts).
STATES = ("plan_draft", "plan_submitted", "doing", "midyear_submitted", "check_submitted")


def _grow(session, now: datetime) -> None:
    """An item per section and waiting state, each with its cycle of this year."""
    plan = session.scalars(select(ExecutionPlan)).first()
    viewpoint = session.scalars(select(Viewpoint).order_by(Viewpoint.id)).first()
    for section_id in session.scalars(select(Section.id).order_by(Section.id)).all():
        for state in STATES:
            bulk_cycles(
                session,
                section_id,
                1,
                fiscal_year=fiscal_year_of(now),
                state=state,
                since=now,
                plan_id=plan.id,
                viewpoint_id=viewpoint.id,
            )
    session.commit()


def _tokens(session) -> dict[str, str]:
    """A read token of every role, for the JSON API."""
    now = datetime.now(UTC)
    found = {}
    for login in ROLES:
        user = session.scalar(select(User).where(User.login == login))
        _row, found[login] = token_service.create_token(
            session, user, name="costs", access="read", days=30, now=now
        )
    session.commit()
    return found


def _costs(fuzzer: Fuzzer, urls: list[str], tokens: dict[str, str]) -> dict[tuple[str, str], int]:
    """Statements of every page that answers 200, by (role, URL)."""
    found = {}
    for role in [None, *ROLES]:
        client = fuzzer.client(role)
        bearer = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        for url in urls:
            _db.session.remove()  # each request starts afresh, as on a server
            headers = bearer if url.startswith("/api/") else {}
            with statements(_db.engine) as seen:
                response = client.get(url, headers=headers)
            if response.status_code == 200:
                found[(role or "anonymous", url)] = len(seen)
    return found


def test_no_page_costs_more_statements_when_the_data_grows(demo, db, monkeypatch):
    # A token's last use is written once a minute: once here (the first pass), not in
    # whichever later pass happens to cross a minute.
    monkeypatch.setattr(token_service, "TOUCH_EVERY", timedelta(days=365))
    fuzzer = Fuzzer(demo)
    samples = {
        name: values if name == "form" else values[:1]
        for name, values in fuzzer.samples(db.session).items()
    }
    samples["fmt"] = ["csv", "xlsx", "pdf"]
    rules = sorted(
        (r for r in demo.url_map.iter_rules() if "GET" in r.methods and r.endpoint not in SKIPPED),
        key=lambda r: r.rule,
    )
    urls = [u for rule in rules for u in expand(rule.rule, samples)]
    # The lists' downloads, which take their format as a query argument.
    urls += [
        f"{url}?format={fmt}"
        for url in urls
        if url.startswith(("/admin/", "/committee/", "/secretariat/")) and "." not in url
        for fmt in ("csv", "xlsx")
    ]
    tokens = _tokens(db.session)
    _grow(db.session, datetime.now(UTC))
    _costs(fuzzer, urls, tokens)  # first visits may write once (a calendar feed's token)
    before = _costs(fuzzer, urls, tokens)
    _grow(db.session, datetime.now(UTC))
    after = _costs(fuzzer, urls, tokens)
    items = db.session.scalar(select(func.count(ReformItem.id)))
    assert items < 500, "grown past the related rows' batches of 500 ids"
    assert len(before) > 200, f"only {len(before)} pages answered: is discovery broken?"
    assert set(after) == set(before), "a page answered after one growth and not the other"
    grew = {key: (before[key], after[key]) for key in before if after[key] != before[key]}

    assert not grew, "\n".join(f"{who} {url}: {a} → {b}" for (who, url), (a, b) in grew.items())
