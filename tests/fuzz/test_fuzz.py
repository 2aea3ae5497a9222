"""A fuzzer over every route and every form, as every role.

It loads the demo (every stage of the cycle, published years, the committee, a substitute),
discovers the routes from the URL map and the forms from the pages each role is shown, then
sends Hypothesis-generated values: very long text, NUL and control characters, Unicode
digits, huge and negative numbers, impossible dates, wrong types (lists, files where text
is expected), missing and unexpected fields. Every answer must be below 500; every refusal
(4xx) must leave the data as it was (row counts, cycle versions, the audit log), and the
audit chains must verify at the end. FUZZ_SECONDS bounds the run (a minute per database,
the demo's loading included); a failing case is printed as Hypothesis found it.
"""

from __future__ import annotations

import io
import os
import time
import uuid
import zlib
from collections import Counter
from datetime import UTC, datetime

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.calendar import fiscal_year_of
from app.demo import DEMO_PASSWORD
from app.extensions import db as _db
from app.models import (
    AuditEntry,
    CommitteeOpinion,
    CommitteeQuestion,
    Cycle,
    Department,
    Publication,
    ReformItem,
    Substitution,
    User,
)
from tests.conftest import Client
from workflows import audit

from .conftest import ROLES
from .discovery import Form, expand, forms_of

# The whole run, the demo's loading included; every form gets at least one round.
FUZZ_SECONDS = float(os.environ.get("FUZZ_SECONDS", "60"))
# Logging out would end the fuzzing session; static files take no input; the health check
# answers 503 on purpose while the scheduler has not ticked (none runs here).
SKIPPED = {"auth.logout", "static", "health.healthz"}
QUERY_ARGS = [
    "fy", "plan", "page", "format", "status", "kind", "viewpoint", "department", "state",
    "stage", "grade", "sort", "days", "overdue", "stuck", "next",
]  # fmt: skip

NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x07\x1b[31m",
    "\r\nBcc: all@evil.example",
    "\ud7ff\ufffe\uffff",
    "²",
    "١٢٣",
    "１２３",
    "1,234",
    "-1",
    "0",
    "999999999999999.9999",
    "1e309",
    "NaN",
    "-Infinity",
    str(2**31),
    str(2**63),
    str(-(2**63) - 1),
    "9" * 400,
    "2026-02-30",
    "99999-12-31",
    "0000-00-00",
    "2026/13/01",
    '=HYPERLINK("http://evil.example")',
    "＝1+1",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "//evil.example/",
    "https://evil.example/",
]
TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.integers(min_value=4001, max_value=120_000).map(lambda n: "あ" * n),
)
FILES = st.sampled_from(
    [b"", b"plain text", b"PK\x03\x04broken", bytes(range(256)) * 4, b"\x00" * 2048]
).map(lambda data: (io.BytesIO(data), "upload.xlsx"))
KEEP, DROP = object(), object()


def value_strategy(form_field):
    """Usually what the page put there (so the other fields get checked too), else hostile."""
    options = [st.just(KEEP), st.just(KEEP), st.just(DROP), TEXT, st.lists(TEXT, max_size=3)]
    if form_field.options:
        options.append(st.sampled_from(form_field.options))
    if form_field.kind == "file":
        options = [FILES, FILES, st.just(DROP), TEXT]
    return st.one_of(options)


def bounded(examples: int):
    """Hypothesis settings for one batch: `examples` cases, no shrinking (the app's data
    moves between cases, so a shrunk case would not replay), nothing kept between runs."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def payload_strategy(form: Form):
    fields = {name: value_strategy(f) for name, f in form.fields.items()}
    extra = st.dictionaries(st.text(min_size=1, max_size=8), TEXT, max_size=2)
    return st.tuples(st.fixed_dictionaries(fields), extra)


def build(form: Form, chosen: dict, extra: dict) -> dict:
    data: dict = {}
    for name, value in chosen.items():
        if value is DROP:
            continue
        if value is KEEP:
            value = form.fields[name].value
            if name == "once":
                value = uuid.uuid4().hex  # a fresh page: not a repeat of an earlier example
            if form.fields[name].kind == "file":
                continue
        data[name] = value
    for name, value in extra.items():
        data.setdefault(name, value)
    if form.button is not None:
        data.setdefault(form.button[0], form.button[1])
    return data


def state_of(session) -> tuple:
    """What a refusal must leave as it was: every table's rows, cycle versions, the audit log."""
    tables = [t for t in _db.metadata.sorted_tables if t.name != "login_failure"]
    counts = [select(func.count()).select_from(t).scalar_subquery() for t in tables]
    extra = [
        select(func.coalesce(func.sum(Cycle.version), 0)).scalar_subquery(),
        select(func.coalesce(func.max(AuditEntry.id), 0)).scalar_subquery(),
    ]
    session.rollback()  # what the request left uncommitted ends with it, as on a server
    row = session.execute(select(*counts, *extra)).one()
    session.rollback()
    return tuple(row)


_PATH_SEPARATORS = str.maketrans({"?": "%3F", "#": "%23", "/": "%2F"})


class Fuzzer:
    def __init__(self, app):
        self.app = app
        self.requests: Counter = Counter()
        self.failures: list[str] = []
        app.test_client_class = Client

    def client(self, login: str | None):
        client = self.app.test_client()
        if login is not None:
            response = client.post("/login", data={"login": login, "password": DEMO_PASSWORD})
            assert response.status_code == 302, (login, response.status_code)
        return client

    def endpoint(self, path: str, method: str) -> str | None:
        try:
            endpoint, _args = self.app.url_map.bind("localhost").match(
                path.split("?")[0], method=method
            )
        except Exception:  # noqa: BLE001 - a 404/405 action is simply not fuzzed
            return None
        return endpoint

    def samples(self, session) -> dict[str, list]:
        def first(model, n=2, where=None):
            query = select(model.id).order_by(model.id)
            if where is not None:
                query = query.where(where)
            return list(session.scalars(query.limit(n)))

        states = session.execute(select(Cycle.state, func.min(Cycle.id)).group_by(Cycle.state))
        cycles = [cycle_id for _state, cycle_id in states]
        # Evaluations the committee has discussed: their pages carry reply and answer forms.
        for model in (CommitteeOpinion, CommitteeQuestion):
            cycles += session.scalars(select(model.cycle_id).distinct().limit(6))
        cycles = sorted(set(cycles))
        fy = fiscal_year_of(datetime.now(UTC))
        return {
            "item_id": first(ReformItem, 3),
            "cycle_id": cycles,
            "fy": [fy, fy - 1],
            "fiscal_year": [fy, fy - 1],
            "obj_id": first(Department, 1),
            "user_id": first(User, 1, User.login == "staff_shimin"),
            "publication_id": first(Publication, 1),
            "opinion_id": first(CommitteeOpinion, 1),
            "question_id": first(CommitteeQuestion, 1),
            "substitution_id": first(Substitution, 1),
            "token": ["not-a-token"],
            "name": ["1-1.eml"],
            "fmt": ["csv"],
            "code": ["ja"],
            "form": ["plan", "report", "check", "act"],
        }

    def discover(self, login: str | None, urls: list[str]) -> dict[tuple, Form]:
        client = self.client(login)
        found: dict[tuple, Form] = {}
        for url in urls:
            response = client.get(url)
            self.requests[login or "anonymous"] += 1
            self.check(response, f"GET {url} as {login}")
            if not response.mimetype == "text/html":
                continue
            for form in forms_of(response.get_data(as_text=True), url):
                endpoint = self.endpoint(form.action, "POST")
                if endpoint is None or endpoint in SKIPPED:
                    continue
                found.setdefault(form.key(endpoint), form)
        return found

    def discover_uploads(self, login: str) -> dict[tuple, Form]:
        """The apply forms appear only after an upload: send each upload page a workbook."""
        from openpyxl import load_workbook

        client = self.client(login)
        found: dict[tuple, Form] = {}
        template = client.get("/admin/transfers/template.xlsx").data
        book = load_workbook(io.BytesIO(template))
        sheet = book.active
        sheet.cell(row=2, column=3).value = "staff_shimin"
        sheet.cell(row=2, column=4).value = f"{fiscal_year_of(datetime.now(UTC)) + 1}-04-01"
        changed = io.BytesIO()
        book.save(changed)
        uploads = [
            ("/plan/import/preview", client.get("/plan/import/template.xlsx").data),
            ("/admin/transfers/preview", changed.getvalue()),
        ]
        for url, data in uploads:
            response = client.post(url, data={"file": (io.BytesIO(data), "upload.xlsx")})
            self.requests[login] += 1
            self.check(response, f"POST {url} as {login}")
            for form in forms_of(response.get_data(as_text=True), url):
                endpoint = self.endpoint(form.action, "POST")
                if endpoint is not None and endpoint not in SKIPPED:
                    found.setdefault(form.key(endpoint), form)
        return found

    def check(self, response, what: str) -> None:
        if response.status_code >= 500:
            self.failures.append(f"{response.status_code} on {what}")

    def fuzz_form(self, client, role: str, form: Form, examples: int, round_no: int):
        environ = {"REMOTE_ADDR": "10.77.0.1"} if role == "anonymous" else None

        @seed(round_no * 7919 + zlib.crc32(repr(form.key("")).encode()) % 7919)
        @bounded(examples)
        @given(payload_strategy(form))
        def one(generated):
            chosen, extra = generated
            data = build(form, chosen, extra)
            before = state_of(_db.session)
            response = client.post(form.action, data=data, environ_overrides=environ)
            self.requests[role] += 1
            status = response.status_code
            assert status < 500, f"{status} on POST {form.action} as {role}"
            if status >= 400:
                assert state_of(_db.session) == before, (
                    f"refused ({status}) POST {form.action} as {role} changed the data"
                )

        one()

    def fuzz_queries(self, client, role: str, rules: list, examples: int, round_no: int):
        paths = st.sampled_from(rules).flatmap(
            lambda rule: st.tuples(
                st.just(rule),
                st.lists(st.one_of(TEXT, st.integers(-(2**70), 2**70).map(str)), max_size=3),
                st.dictionaries(st.sampled_from(QUERY_ARGS), TEXT, max_size=4),
            )
        )

        @seed(round_no)
        @bounded(examples)
        @given(paths)
        def one(generated):
            rule, params, query = generated
            # "?", "#" and "/" percent-encoded, so that they stay inside the path parameter;
            # anything else (a stray "%" included) is sent as generated.
            values = iter(value.translate(_PATH_SEPARATORS) for value in params)
            url = expand(rule, {"default": [next(values, "1")], "int": [next(values, "1")]}) or [
                "/"
            ]
            response = client.get(url[0], query_string={k: v[:2000] for k, v in query.items()})
            self.requests[role] += 1
            assert response.status_code < 500, f"{response.status_code} on GET {url[0]} {query}"

        one()


def test_no_input_from_any_role_causes_a_server_error_or_a_partial_write(demo, db):
    started = demo.fuzz_started
    fuzzer = Fuzzer(demo)
    samples = fuzzer.samples(db.session)
    get_rules = sorted(
        (r for r in demo.url_map.iter_rules() if "GET" in r.methods and r.endpoint not in SKIPPED),
        key=lambda r: r.rule,
    )
    urls = [u for rule in get_rules for u in expand(rule.rule, samples)]
    admin_self = {f"/admin/users/{db.session.scalar(select(User.id).where(User.login == 'admin'))}"}

    forms: dict[str, dict[tuple, Form]] = {"anonymous": fuzzer.discover(None, ["/login"])}
    for role in ROLES:
        forms[role] = {
            key: form
            for key, form in fuzzer.discover(role, urls).items()
            if form.action not in admin_self  # an administrator locking themselves out
        }
    forms["admin"].update(fuzzer.discover_uploads("admin"))
    assert not fuzzer.failures, fuzzer.failures
    discovered = sum(len(f) for f in forms.values())
    assert discovered > 40, f"only {discovered} forms discovered: is discovery broken?"
    endpoints = {key[0] for per_role in forms.values() for key in per_role}
    # The JSON API takes no forms: Schemathesis fuzzes it against its schema (tests/api).
    posts = {
        r.endpoint
        for r in demo.url_map.iter_rules()
        if "POST" in r.methods and not r.rule.startswith("/api/")
    } - SKIPPED
    assert endpoints == posts, f"no form found for {sorted(posts - endpoints)}"

    deadline = started + FUZZ_SECONDS
    clients = {role: fuzzer.client(None if role == "anonymous" else role) for role in forms}
    round_no = 0
    while time.monotonic() < deadline or round_no < 1:
        round_no += 1
        for role, per_role in forms.items():
            for form in per_role.values():
                fuzzer.fuzz_form(clients[role], role, form, 2, round_no)
            if round_no > 1 and time.monotonic() >= deadline:
                break
        for role in ("anonymous", "staff_digital", "jimukyoku"):
            fuzzer.fuzz_queries(clients[role], role, [r.rule for r in get_rules], 25, round_no)
        if round_no >= 50:
            break

    problems = audit.verify(db.session)
    assert not problems, problems[:5]
    print(  # the figures, for `pytest tests/fuzz -s`
        f"\nfuzz: {sum(fuzzer.requests.values())} requests in {time.monotonic() - started:.0f} s"
        f" on {db.engine.dialect.name}, {round_no} rounds, {discovered} forms of"
        f" {len(endpoints)} endpoints; by role: {dict(fuzzer.requests)}"
    )
