"""Departments, sections, posts, users and roles."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.extensions import db as _db
from app.models import AuditEntry, Department, Role, Section, User


def test_only_administrators_get_in(client, make, login_as):
    secretariat = make.user(roles=["secretariat"])
    _db.session.commit()
    login_as(secretariat)
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/users").status_code == 403


def test_create_a_department_with_validation(client, make, login_as):
    admin = make.user(roles=["admin"])
    make.org("既存")
    _db.session.commit()
    login_as(admin)
    existing = _db.session.scalar(select(Department))
    bad = client.post(
        "/admin/departments", data={"code": existing.code, "name": "", "position": "x"}
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "既に使われています" in text and "名称を入力してください" in text
    client.post(
        "/admin/departments",
        data={"code": "KIKAKU", "name": "企画部", "position": "1", "active": "1"},
    )
    created = _db.session.scalar(select(Department).where(Department.code == "KIKAKU"))
    assert created.name == "企画部" and created.active
    entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "departments_create"))
    assert entry.scope == "admin"


def test_grant_roles_to_a_user_and_export_the_list(client, make, login_as):
    admin = make.user("root", roles=["admin"])
    _db.session.commit()
    login_as(admin)
    response = client.post(
        "/admin/users/new",
        data={
            "login": "iin2",
            "name": "委員 花子",
            "email": "iin2@example.jp",
            "active": "1",
            "roles": ["committee"],
            "password": "long-enough-1",
        },
    )
    assert response.status_code == 302
    user = _db.session.scalar(select(User).where(User.login == "iin2"))
    assert user.has_role(Role.COMMITTEE) and user.check_password("long-enough-1")
    refused = client.post(
        f"/admin/users/{admin.id}",
        data={"login": "root", "name": "x", "email": "r@example.jp", "active": "1"},
        follow_redirects=True,
    )
    assert "権限は外せません" in refused.get_data(as_text=True)
    assert admin.has_role(Role.ADMIN)
    csv = client.get("/admin/users?format=csv").data.decode("utf-8-sig")
    assert "委員 花子" in csv and "推進委員" in csv


def test_sections_and_posts_are_edited_through_their_pages(client, make, login_as):
    admin = make.user(roles=["admin"])
    tax, parks = make.org("税務"), make.org("公園")
    _db.session.commit()
    login_as(admin)
    for path in (
        "/admin/",
        "/admin/sections",
        "/admin/posts",
        "/admin/users/new",
        f"/admin/posts/{tax.head_post.id}",
        f"/admin/sections/{tax.section.id}",
    ):
        assert client.get(path).status_code == 200, path
    client.post(
        "/admin/sections",
        data={
            "code": "S-NEW",
            "name": "収納課",
            "department_id": str(tax.department.id),
            "position": "2",
            "active": "1",
        },
    )
    created = _db.session.scalar(select(Section).where(Section.code == "S-NEW"))
    assert created.department_id == tax.department.id and created.name == "収納課"
    mismatch = client.post(
        "/admin/posts",
        data={
            "code": "P-NEW",
            "name": "収納課長",
            "kind_code": "chief",
            "department_id": str(parks.department.id),
            "section_id": str(tax.section.id),
        },
    )
    assert mismatch.status_code == 422
    assert "課が選んだ部に属していません" in mismatch.get_data(as_text=True)
    renamed = client.post(
        f"/admin/posts/{tax.head_post.id}",
        data={
            "code": tax.head_post.code,
            "name": "税務部長（兼）",
            "kind_code": "head",
            "department_id": str(tax.department.id),
            "active": "1",
        },
    )
    assert renamed.status_code == 302
    assert tax.head_post.name == "税務部長（兼）"
    listing = client.get("/admin/posts").get_data(as_text=True)
    assert tax.head.name in listing  # the holder today is shown
    entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "posts_update"))
    assert (
        entry.data["before"]["name"] == "税務部長"
        and entry.data["after"]["name"] == "税務部長（兼）"
    )


def test_department_and_section_lists_export(client, make, login_as):
    admin = make.user(roles=["admin"])
    make.org("会計")
    _db.session.commit()
    login_as(admin)
    csv = client.get("/admin/sections?format=csv").data.decode("utf-8-sig")
    lines = csv.split("\r\n")
    assert lines[0].startswith("コード,名称") and "会計課" in csv and "会計部" in csv
    xlsx = client.get("/admin/departments?format=xlsx")
    assert "spreadsheetml" in xlsx.headers["Content-Type"]


def _user_form(user: User, **changes) -> dict:
    form = {"login": user.login, "name": user.name, "email": user.email}
    return {**form, **changes}


def test_deactivating_the_last_head_or_staff_of_owned_items_is_refused(client, make, login_as):
    admin = make.user(roles=["admin"])
    tax, parks = make.org("税務"), make.org("公園")  # only tax owns an item
    make.item(tax)
    _db.session.commit()
    login_as(admin)

    refused = client.post(f"/admin/users/{tax.head.id}", data=_user_form(tax.head))
    assert refused.status_code == 422
    assert "「税務部」が所管する改革項目の所管部長がいなくなります" in refused.get_data(
        as_text=True
    )
    refused = client.post(f"/admin/users/{tax.staff.id}", data=_user_form(tax.staff))
    assert refused.status_code == 422
    assert "「税務課」が所管する改革項目の担当職員がいなくなります" in refused.get_data(
        as_text=True
    )
    _db.session.expire_all()
    assert tax.head.active and tax.staff.active
    assert _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user_update")) is None

    kept = client.post(f"/admin/users/{parks.head.id}", data=_user_form(parks.head))
    assert kept.status_code == 302
    successor = make.user("koukei")
    make.assign(successor, tax.head_post, date(2021, 4, 1))
    _db.session.commit()
    allowed = client.post(f"/admin/users/{tax.head.id}", data=_user_form(tax.head))
    assert allowed.status_code == 302
    _db.session.expire_all()
    assert not tax.head.active and not parks.head.active


def _post_form(post, **changes) -> dict:
    form = {
        "code": post.code,
        "name": post.name,
        "kind_code": post.kind_code,
        "department_id": str(post.department_id),
        "section_id": str(post.section_id or ""),
        "active": "1",
    }
    return {**form, **changes}


def test_deactivating_or_moving_what_owns_items_is_refused(client, make, login_as):
    admin = make.user(roles=["admin"])
    tax, parks = make.org("税務"), make.org("公園")
    make.item(tax)
    headless = Department(code="NEW", name="新設部", position=9)
    _db.session.add(headless)
    _db.session.commit()
    login_as(admin)

    form = _post_form(tax.staff_post, name="税務課職員（旧）")
    del form["active"]
    refused = client.post(f"/admin/posts/{tax.staff_post.id}", data=form)
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "「税務課」が所管する改革項目の担当職員がいなくなります" in text
    assert "税務課職員（旧）" in text  # what was typed is kept
    moved = _post_form(
        tax.staff_post, department_id=str(parks.department.id), section_id=str(parks.section.id)
    )
    assert client.post(f"/admin/posts/{tax.staff_post.id}", data=moved).status_code == 422
    section = {
        "code": tax.section.code,
        "name": tax.section.name,
        "department_id": str(headless.id),
        "position": "1",
        "active": "1",
    }
    refused = client.post(f"/admin/sections/{tax.section.id}", data=section)
    assert refused.status_code == 422
    assert "「新設部」が所管する改革項目の所管部長がいなくなります" in refused.get_data(
        as_text=True
    )
    _db.session.expire_all()
    assert tax.staff_post.active and tax.staff_post.section_id == tax.section.id
    assert tax.section.department_id == tax.department.id

    section["department_id"] = str(parks.department.id)  # parks has a head
    assert client.post(f"/admin/sections/{tax.section.id}", data=section).status_code == 302
    form = _post_form(parks.staff_post)
    del form["active"]  # parks' section owns no item
    assert client.post(f"/admin/posts/{parks.staff_post.id}", data=form).status_code == 302
