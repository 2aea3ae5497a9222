"""The simulated users of `python -m bench load`, run by Locust as a library.

    python -m bench.load_users PLAN.json RESULT.json

Started by bench/load.py in a process of its own: Locust patches the standard library with
gevent, which must happen before anything else is imported (a database driver imported
first would block every simulated user on each query). So this module imports nothing of
the app.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402  (after gevent's patching, on purpose)
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402  (a dependency of Locust)
from locust import HttpUser, between, task  # noqa: E402
from locust.env import Environment  # noqa: E402

from .forms import DECIDE_LINK, ITEM_LINK, YEAR_LINK, filled_in, forms_of, stage_forms  # noqa: E402

PLAN: dict = {}
# Answers that are the application working as designed under contention: someone else
# saved or decided first (409), or the draft is not complete enough to submit (422).
# They are counted apart, not as errors.
EXPECTED_REFUSALS = (409, 422)
REFUSED: dict[str, int] = {}


class Person(HttpUser):
    """A signed-in member of staff of the city; subclasses say what they do."""

    abstract = True
    wait_time = between(PLAN.get("think_min", 3), PLAN.get("think_max", 10))
    logins = ""  # the key of the plan's list of login IDs

    def on_start(self) -> None:
        login = self.login = random.choice(PLAN[self.logins])
        page = self.client.get("/login", name="/login").text
        fields = forms_of(page).get("", {})
        fields.update(login=login, password=PLAN["password"])
        with self.client.post(
            "/login", data=fields, name="/login POST", catch_response=True
        ) as response:
            if "/login" in response.url:
                response.failure(f"login of {login} refused")

    def get(self, path: str, name: str):
        with self.client.get(path, name=name, catch_response=True) as response:
            if response.status_code in EXPECTED_REFUSALS:
                response.success()
            return response

    def post(self, path: str, data: dict, name: str):
        with self.client.post(path, data=data, name=name, catch_response=True) as response:
            if response.status_code in EXPECTED_REFUSALS:
                key = f"{name} ({response.status_code})"
                REFUSED[key] = REFUSED.get(key, 0) + 1
                response.success()
            return response


class Staff(Person):
    """担当職員: opens the tasks, the item and its stage form; saves, sometimes submits."""

    weight = 50
    logins = "staff"

    @task
    def work_on_an_item(self) -> None:
        home = self.get("/", "/ (my tasks)").text
        items = [link[0] for link in ITEM_LINK.findall(home)]
        if not items:
            # Nothing waits for them: a look at the whole plan, then one of their own
            # items, to record how it goes (a progress report) where its page allows.
            self.get("/plan", "/plan")
            own = PLAN.get("own_items", {}).get(self.login)
            if not own:
                return
            items = [f"/items/{random.choice(own)}"]
        page = self.get(random.choice(items), "/items/[id]")
        forms = stage_forms(page.text)
        if not forms:
            return
        edit = random.choice(list(forms))
        submitting = random.random() < PLAN.get("submit_share", 0.3)
        fields = filled_in(page.text, edit, submitting, PLAN.get("fy"))
        fields["action"] = "submit" if submitting else "save"
        name = "[form] POST " + ("submit" if submitting else "save")
        self.post(edit, fields, name)


class Head(Person):
    """所管部長: opens the tasks and the submissions waiting, approves one."""

    weight = 15
    logins = "heads"

    @task
    def decide(self) -> None:
        home = self.get("/", "/ (my tasks)").text
        self.get("/inbox", "/inbox")
        links = DECIDE_LINK.findall(home)
        if not links:
            return
        path, _cycle = random.choice(links)
        page = self.get(path, "/cycles/[id]/decide")
        if page.status_code != 200:
            return
        fields = forms_of(page.text).get("", {})
        approve = re.search(r'name="trigger" value="(approve_\w+)"', page.text)
        if approve is None or "csrf_token" not in fields:
            return
        fields.update(trigger=approve.group(1), comment="承認します。")
        self.post(path, fields, "/cycles/[id]/decide POST approve")


class Secretariat(Person):
    """事務局: the dashboard, the list of items, now and then an Excel export."""

    weight = 10
    logins = "secretariat"

    @task(4)
    def dashboard(self) -> None:
        self.get("/secretariat/", "/secretariat/")
        self.get("/secretariat/items", "/secretariat/items")

    @task(1)
    def export(self) -> None:
        self.get("/secretariat/items?format=xlsx", "/secretariat/items?format=xlsx (export)")


class Citizen(HttpUser):
    """市民: reads the published results without signing in."""

    weight = 25
    wait_time = between(PLAN.get("think_min", 3), PLAN.get("think_max", 10))

    @task
    def read(self) -> None:
        page = self.client.get("/public/", name="/public/").text
        years = YEAR_LINK.findall(page)
        if years:
            self.client.get(f"/public/{random.choice(years)}", name="/public/[year]")


def summary(env: Environment, seconds: float) -> dict:
    """Per page: requests, failures, req/s, p50/p95/p99 (ms); and the totals."""
    rows = []
    for (name, method), entry in sorted(env.stats.entries.items()):
        rows.append(
            {
                "name": name,
                "method": method,
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "rps": entry.num_requests / seconds,
                "p50": entry.get_response_time_percentile(0.5),
                "p95": entry.get_response_time_percentile(0.95),
                "p99": entry.get_response_time_percentile(0.99),
            }
        )
    total = env.stats.total
    errors = [
        {"name": e.name, "method": e.method, "error": str(e.error), "count": e.occurrences}
        for e in env.stats.errors.values()
    ]
    return {
        "rows": rows,
        "requests": total.num_requests,
        "failures": total.num_failures,
        "rps": total.num_requests / seconds,
        "p95": total.get_response_time_percentile(0.95),
        "errors": errors,
    }


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) used so far by a process and its living children; this
    process's own when `pid` is None."""
    family = [psutil.Process(pid or os.getpid())]
    if pid:
        family += family[0].children(recursive=True)
    total = 0.0
    for process in family:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def database_cpu_seconds(database: str | None) -> float:
    """CPU time so far of the PostgreSQL backends serving `database` (their process title
    names it; the pools keep their connections, so they live through the measured time)."""
    total = 0.0
    for process in psutil.process_iter(["name", "cmdline"]):
        title = " ".join(process.info["cmdline"] or ())
        if process.info["name"] != "postgres" or not database or f" {database} " not in title:
            continue
        try:
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += times.user + times.system
    return total


def cpu_now(plan: dict) -> dict[str, float]:
    return {
        "server": cpu_seconds(plan.get("server_pid")),
        "database": database_cpu_seconds(plan.get("database")),
        "scheduler": cpu_seconds(plan.get("scheduler_pid")),
        "locust": cpu_seconds(None),
        "wall": time.perf_counter(),
    }


def run(plan: dict) -> dict:
    """Spawn the users, forget the warm-up (sign-ins), measure for the bounded time."""
    PLAN.update(plan)
    for person in (Staff, Head, Secretariat, Citizen):
        person.wait_time = between(plan["think_min"], plan["think_max"])
    env = Environment(user_classes=[Staff, Head, Secretariat, Citizen], host=plan["host"])
    runner = env.create_local_runner()
    runner.start(plan["users"], spawn_rate=plan["spawn_rate"])
    runner.spawning_greenlet.join()
    # Every user past their sign-in (a deliberately slow password hash) and first page.
    signed_in = env.stats.get("/login POST", "POST")
    staff = sum(n for name, n in runner.user_classes_count.items() if name != "Citizen")
    for _ in range(600):
        if signed_in.num_requests >= staff:
            break
        gevent.sleep(0.5)
    gevent.sleep(plan["think_max"])
    warm_up = summary(env, 1)
    env.stats.reset_all()
    REFUSED.clear()
    before = cpu_now(plan)
    gevent.sleep(plan["seconds"])
    after = cpu_now(plan)
    result = summary(env, plan["seconds"])
    result["cpu"] = {key: after[key] - before[key] for key in before}
    result["sign_in"] = [r for r in warm_up["rows"] if r["name"].startswith("/login")]
    result["warm_up_failures"] = warm_up["failures"]
    result["warm_up_errors"] = warm_up["errors"]
    result["refused"] = REFUSED
    runner.quit()
    return result


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as source:
        outcome = run(json.load(source))
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        json.dump(outcome, out, ensure_ascii=False, indent=1)
