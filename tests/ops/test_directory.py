"""Sign-in with the city's directory, against a real OpenLDAP server (see slapd.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE
from sqlalchemy import select

from app.calendar import local_date
from app.models import Department, Post, Role, Section, User

from .slapd import SUFFIX


@pytest.fixture
def app_overrides(directory):
    return directory.settings()


@pytest.fixture
def sections(db, make):
    """Two sections of the city; only デジタル行政推進課 has its staff post already."""
    make.post_kinds()
    dept = Department(code="KIKAKU", name="企画部")
    digital = Section(department=dept, code="S-DIGITAL", name="デジタル行政推進課")
    shimin = Section(department=dept, code="S-SHIMIN", name="市民課")
    post = Post(
        code="S-DIGITAL-STAFF", name="デジタル担当", kind_code="staff", department=dept,
        section=digital,
    )  # fmt: skip
    db.session.add_all([dept, digital, shimin, post])
    db.session.commit()
    return {"digital": digital, "shimin": shimin, "digital_post": post}


def sign_in(client, login: str, password: str):
    client.post("/logout")
    return client.post("/login", data={"login": login, "password": password})


def user_named(db, login: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.login == login))


def today() -> date:
    return local_date(datetime.now(UTC))


def test_first_sign_in_creates_the_user_with_name_mail_section_and_roles(client, db, sections):
    response = sign_in(client, "yamada", "yamada-pass")
    assert response.status_code == 302
    assert "あなたの対応待ち" in client.get("/").get_data(as_text=True)

    yamada = user_named(db, "yamada")
    assert (yamada.name, yamada.email) == ("山田 太郎", "yamada@city.example")
    assert yamada.auth_source == "directory"
    assert yamada.directory_dn == f"uid=yamada,ou=people,{SUFFIX}"
    assert yamada.password_hash == ""  # the password stays in the directory
    assert yamada.posts_on(today()) == [sections["digital_post"]]
    assert [p.kind_code for p in yamada.posts_on(today())] == ["staff"]
    assert yamada.granted_roles() == set()

    suzuki_page = sign_in(client, "suzuki", "suzuki-pass")
    assert suzuki_page.status_code == 302
    assert user_named(db, "suzuki").granted_roles() == {Role.SECRETARIAT}
    assert client.get("/secretariat/").status_code == 200


def test_wrong_password_locked_account_and_odd_ids_are_refused_and_throttled(client, db, sections):
    wrong = sign_in(client, "yamada", "not-the-password")
    assert wrong.status_code == 401
    assert "ログインIDまたはパスワードが正しくありません" in wrong.get_data(as_text=True)
    # kato's account is locked in the directory: the right password does not help.
    assert sign_in(client, "kato", "kato-pass").status_code == 401
    # A filter wildcard is a character, not a pattern; an empty password is no bind.
    assert sign_in(client, "*", "yamada-pass").status_code == 401
    assert sign_in(client, "yamada", "").status_code in (401, 422)  # the form refuses it
    assert user_named(db, "yamada") is None and user_named(db, "kato") is None
    assert client.get("/plan").status_code == 302

    for _ in range(4):
        assert sign_in(client, "yamada", "guess").status_code == 401
    throttled = sign_in(client, "yamada", "yamada-pass")
    assert throttled.status_code == 429
    assert "しばらくログインできません" in throttled.get_data(as_text=True)


def test_group_and_section_changes_in_the_directory_apply_at_the_next_sign_in(
    client, db, sections, directory
):
    assert sign_in(client, "suzuki", "suzuki-pass").status_code == 302
    assert user_named(db, "suzuki").granted_roles() == {Role.SECRETARIAT}

    suzuki_dn = f"uid=suzuki,ou=people,{SUFFIX}"
    directory.modify(
        f"cn=kaikaku-secretariat,ou=groups,{SUFFIX}", {"member": [(MODIFY_DELETE, [suzuki_dn])]}
    )
    directory.modify(
        f"cn=kaikaku-committee,ou=groups,{SUFFIX}", {"member": [(MODIFY_ADD, [suzuki_dn])]}
    )
    directory.modify(
        suzuki_dn,
        {
            "departmentNumber": [(MODIFY_REPLACE, ["S-SHIMIN"])],
            "displayName": [(MODIFY_REPLACE, ["高橋 花子"])],
        },
    )
    # The session already open keeps its rights until the next sign-in.
    assert client.get("/secretariat/").status_code == 200

    assert sign_in(client, "suzuki", "suzuki-pass").status_code == 302
    suzuki = user_named(db, "suzuki")
    assert suzuki.granted_roles() == {Role.COMMITTEE}
    assert suzuki.name == "高橋 花子"
    [post] = suzuki.posts_on(today())
    assert (post.section, post.kind_code, post.code) == (
        sections["shimin"],
        "staff",
        "S-SHIMIN-STAFF",
    )
    assert client.get("/secretariat/").status_code == 403
    assert client.get("/committee/").status_code == 200


def test_local_accounts_still_work_and_a_directory_that_is_down_is_said(
    client, db, make, sections, directory
):
    admin = make.user("admin", roles=[Role.ADMIN])
    db.session.commit()
    assert sign_in(client, "admin", "password").status_code == 302
    # The directory's own "admin" is not asked: the local account has a password.
    assert user_named(db, "admin").auth_source == "local"

    directory.process.terminate()
    directory.process.wait(timeout=10)
    down = sign_in(client, "yamada", "yamada-pass")
    assert down.status_code == 503
    assert "ディレクトリサーバーに接続できない" in down.get_data(as_text=True)
    assert sign_in(client, admin.login, "password").status_code == 302
