"""Read endpoints: what a user may read, cursors, filters, ETags, tasks, the console."""

from __future__ import annotations

from app.models import Role

from .conftest import FY


def test_items_carry_indicators_with_targets_and_actuals(world, api, db):
    cycle = world.cycle("doing")
    db.session.commit()
    body = api(world.org.staff).get(f"/items/{cycle.item_id}").get_json()
    indicator = body["indicators"][0]
    assert indicator["name"] == "オンライン申請可能な手続数" and indicator["unit"] == "件"
    assert {"fiscal_year": FY, "target": 100, "actual": None} in indicator["values"]
    assert body["cycles"] == [
        {"id": cycle.id, "fiscal_year": FY, "state": "doing", "version": cycle.version}
    ]


def test_an_item_of_another_department_is_refused(world, api, db):
    cycle = world.cycle("doing", org=world.other)
    db.session.commit()
    response = api(world.org.staff).get(f"/items/{cycle.item_id}")
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    listed = api(world.org.staff).get("/items").get_json()["items"]
    assert cycle.item_id not in [i["id"] for i in listed]


def test_the_cursor_walks_every_item_exactly_once(world, api, db, make):
    ids = {world.cycle("plan_draft").item_id for _ in range(7)}
    for _ in range(3):  # not the staff's: never listed
        world.cycle("plan_draft", org=world.other)
    db.session.commit()
    client = api(world.org.staff)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = client.get("/items", query_string=query).get_json()
        seen += [i["id"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert pages == 3
    # The secretariat sees all ten, in pages too.
    secretariat = api(world.secretariat)
    first = secretariat.get("/items", query_string={"limit": 8}).get_json()
    rest = secretariat.get("/items", query_string={"cursor": first["next_cursor"]}).get_json()
    assert len(first["items"]) + len(rest["items"]) == 10 and rest["next_cursor"] is None


def test_a_cursor_not_ours_is_a_400_problem(world, api):
    response = api(world.org.staff).get("/items", query_string={"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert response.get_json()["code"] == "bad_cursor"


def test_cycles_show_stage_contents_state_deadline_and_who_must_act(world, api, db):
    cycle = world.cycle("plan_submitted", goal="申請の8割をオンラインに")
    cycle.submitted_by_id = world.org.staff.id
    db.session.commit()
    body = api(world.org.staff, language="en").get(f"/cycles/{cycle.id}").get_json()
    assert body["plan"]["goal"] == "申請の8割をオンラインに"
    assert body["state"]["code"] == "plan_submitted"
    assert body["state"]["ja"] == "計画承認待ち" and body["state"]["en"]
    assert body["deadline"] is not None
    assert [p["id"] for p in body["must_act"]] == [world.org.head.id]
    assert body["actions"] == ["withdraw"]
    listed = api(world.org.head).get("/cycles", query_string={"fiscal_year": FY}).get_json()
    assert [c["id"] for c in listed["cycles"]] == [cycle.id]
    assert listed["cycles"][0]["must_act"][0]["name"] == world.org.head.name


def test_etag_answers_304_until_something_changes(world, api, db):
    cycle = world.cycle("plan_draft")
    db.session.commit()
    client = api(world.org.staff)
    first = client.get(f"/cycles/{cycle.id}")
    tag = first.headers["ETag"]
    assert tag.startswith(f'"{cycle.version}.')
    again = client.get(f"/cycles/{cycle.id}", headers={"If-None-Match": tag})
    assert again.status_code == 304 and not again.data
    cycle.goal = "変わった目標"
    db.session.commit()
    changed = client.get(f"/cycles/{cycle.id}", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag


def test_my_tasks_and_counts_for_the_portal(world, api, db):
    world.cycle("plan_draft")
    world.cycle("plan_submitted", submitted_by_id=world.org.staff.id)
    db.session.commit()
    staff = api(world.org.staff).get("/me/tasks/counts").get_json()
    head = api(world.org.head).get("/me/tasks/counts").get_json()
    assert staff == {"staff": 1, "decide": 0, "confirm": 0, "total": 1}
    assert head["decide"] == 1 and head["total"] >= 1
    lists = api(world.org.head).get("/me/tasks").get_json()
    assert len(lists["to_decide"]) == 1 and lists["counts"] == head


def test_the_console_is_for_the_secretariat(world, api, db):
    assert api(world.org.staff).get("/secretariat/dashboard").status_code == 403
    assert api(world.committee).get("/secretariat/stuck").status_code == 403


def test_dashboard_and_stuck_list_follow_the_page_filters(world, api, db, make):
    from datetime import UTC, date, datetime, timedelta

    make.schedule(FY, due={"plan": date(FY + 1, 3, 1)})  # nothing overdue: stuck by time
    old = datetime.now(UTC) - timedelta(days=60)
    stuck = world.cycle("plan_draft", state_since=old)
    world.cycle("plan_draft", org=world.other, state_since=old)
    world.cycle("plan_draft")  # fresh: not stuck
    db.session.commit()
    client = api(world.secretariat)
    board = client.get("/secretariat/dashboard", query_string={"fy": FY}).get_json()
    assert board["fiscal_year"] == FY and board["stuck_total"] == 2
    row = next(r for r in board["rows"] if r["department"]["id"] == world.org.department.id)
    assert row["counts"]["plan"] == 2
    assert {"code": "plan", "ja": "計画", "en": "Plan"} in board["columns"]
    listed = client.get(
        "/secretariat/stuck", query_string={"fy": FY, "department": world.org.department.id}
    ).get_json()
    assert [c["cycle_id"] for c in listed["cycles"]] == [stuck.id] and listed["total"] == 1
    assert listed["cycles"][0]["must_act"][0]["id"] == world.org.staff.id


def test_administrators_may_look_at_the_console_as_on_the_page(world, api, make, db):
    admin = make.user("kanri", roles=[Role.ADMIN.value])
    db.session.commit()
    assert api(admin).get("/secretariat/dashboard").status_code == 200


def test_lists_show_exactly_the_items_a_user_may_open_among_many_others(world, api, db):
    """The lists read only what the user reaches (owning and related sections), whatever
    the number of other departments' items before them."""
    for _ in range(12):
        world.cycle("plan_draft", org=world.other)
    related = world.cycle("doing", org=world.other)
    related.item.related_sections.append(world.org.section)
    own = world.cycle("plan_submitted")
    db.session.commit()
    client = api(world.org.staff)
    items = client.get("/items", query_string={"limit": 2}).get_json()
    assert [i["id"] for i in items["items"]] == sorted([related.item_id, own.item_id])
    assert items["next_cursor"] is None
    cycles = client.get("/cycles", query_string={"limit": 2}).get_json()
    assert [c["id"] for c in cycles["cycles"]] == sorted([related.id, own.id])
    committee = api(world.committee).get("/items").get_json()
    assert committee["items"] == []
