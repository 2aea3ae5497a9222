"""No page costs more statements when the data grows: every GET route, for every role.

Every page a role can open (the fuzzer's URLs with one sample per parameter, every download
format, and the lists' downloads) is fetched on the demo and again after it has grown by
one item per section and waiting state (about five times its items), each request in a fresh
session as on a server, and its statements counted. The demo's lists are shorter than a
page and the grown ones longer, so a read per row shows even on a paginated list. A page
whose count changed reads per row somewhere (an N+1); the test names it with both counts.

The data stays under 500 items: pages that show every item of a plan (the plan, the
publication's preview) read the items' related rows in batches of 500 ids, one statement
per relation for each 500 items, which is how those reads are bounded, not a read per row.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from app.calendar import fiscal_year_of
from app.extensions import db as _db
from app.models import ExecutionPlan, ReformItem, Section, Viewpoint
from tests.secretariat.helpers import bulk_cycles
from tests.statements import statements

from .conftest import ROLES
from .discovery import expand
from .test_fuzz import SKIPPED, Fuzzer

# States a cycle waits in during the year: each lists somewhere (tasks, inbox, the
# secretariat's lists and counts, the committee's).
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


def _costs(fuzzer: Fuzzer, urls: list[str]) -> dict[tuple[str, str], int]:
    """Statements of every page that answers 200, by (role, URL)."""
    found = {}
    for role in [None, *ROLES]:
        client = fuzzer.client(role)
        for url in urls:
            _db.session.remove()  # each request starts afresh, as on a server
            with statements(_db.engine) as seen:
                response = client.get(url)
            if response.status_code == 200:
                found[(role or "anonymous", url)] = len(seen)
    return found


def test_no_page_costs_more_statements_when_the_data_grows(demo, db):
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
    _costs(fuzzer, urls)  # first visits may write once (a calendar feed's token)
    before = _costs(fuzzer, urls)
    _grow(db.session, datetime.now(UTC))
    after = _costs(fuzzer, urls)
    items = db.session.scalar(select(func.count(ReformItem.id)))
    assert items < 500, "grown past the related rows' batches of 500 ids"
    assert len(before) > 100, f"only {len(before)} pages answered: is discovery broken?"
    assert set(after) == set(before), "a page answered after one growth and not the other"
    grew = {key: (before[key], after[key]) for key in before if after[key] != before[key]}
    assert not grew, "\n".join(f"{who} {url}: {a} → {b}" for (who, url), (a, b) in grew.items())
