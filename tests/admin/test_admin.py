"""Departments, sections, posts, users and roles."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db as _db
from app.models import AuditEntry, Department, Role, User


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
