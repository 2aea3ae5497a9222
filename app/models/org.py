"""The organisation: departments, sections, posts held over time, users and roles."""

from __future__ import annotations

import secrets
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .base import Base
from .types import LabeledEnum, UTCDateTime, enum_column, utcnow


class Role(LabeledEnum):
    """Roles granted to a user outright; staff, heads and the like come from posts."""

    SECRETARIAT = "secretariat", "事務局", "Secretariat"
    COMMITTEE = "committee", "推進委員", "Committee member"
    ADMIN = "admin", "システム管理者", "Administrator"


class PostKind(Base):
    """A kind of post (部長, 課長, 職員, 副市長 ...); the workflow's roles name kinds by code.

    Administrators add kinds in the admin pages; a definition that names a kind no post has
    resolves that role to nobody (`kaikaku workflows check` says so).
    """

    __tablename__ = "post_kind"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100), default="")
    position: Mapped[int] = mapped_column(default=0)

    def label(self, locale: str = "ja") -> str:
        return (self.name_en or self.name) if str(locale).startswith("en") else self.name

    @classmethod
    def ensure(cls, session, code: str, name: str, name_en: str = "") -> PostKind:
        """The kind with `code`, added (flushed) when it is not there yet."""
        found = session.scalar(sa.select(cls).where(cls.code == code))
        if found is None:
            found = cls(code=code, name=name, name_en=name_en)
            session.add(found)
            session.flush()
        return found

    def __repr__(self) -> str:
        return f"<PostKind {self.code} {self.name}>"


# The kinds every organisation starts with (the first migration adds them too).
DEFAULT_POST_KINDS = (
    ("head", "部長", "Department head"),
    ("chief", "課長", "Section chief"),
    ("staff", "職員", "Staff"),
)


class Department(Base):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100), default="")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    sections: Mapped[list[Section]] = relationship(
        back_populates="department", order_by="Section.position"
    )
    posts: Mapped[list[Post]] = relationship(back_populates="department")

    def __repr__(self) -> str:
        return f"<Department {self.code} {self.name}>"


class Section(Base):
    __tablename__ = "section"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100), default="")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    department: Mapped[Department] = relationship(back_populates="sections")

    def __repr__(self) -> str:
        return f"<Section {self.code} {self.name}>"


class Post(Base):
    """A position (役職) such as 企画部長; rights follow the post, not the person."""

    __tablename__ = "post"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind_code: Mapped[str] = mapped_column("kind", sa.ForeignKey("post_kind.code"))
    # None for a city-wide post (副市長); the department of a department or section post.
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    section_id: Mapped[int | None] = mapped_column(sa.ForeignKey("section.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)

    kind: Mapped[PostKind] = relationship(lazy="joined")
    department: Mapped[Department | None] = relationship(back_populates="posts")
    section: Mapped[Section | None] = relationship()
    assignments: Mapped[list[PostAssignment]] = relationship(
        back_populates="post", order_by="PostAssignment.starts_on"
    )

    def holders(self, on: date) -> list[User]:
        return [a.user for a in self.assignments if a.covers(on)]

    def __repr__(self) -> str:
        return f"<Post {self.code} {self.name}>"


class PostAssignment(Base):
    """A user holding a post from `starts_on` to `ends_on` (inclusive; open when None)."""

    __tablename__ = "post_assignment"
    __table_args__ = (
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("post.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]

    post: Mapped[Post] = relationship(back_populates="assignments")
    user: Mapped[User] = relationship(back_populates="assignments")

    def covers(self, on: date) -> bool:
        return self.starts_on <= on and (self.ends_on is None or on <= self.ends_on)

    def __repr__(self) -> str:
        period = f"{self.starts_on}..{self.ends_on}"
        return f"<PostAssignment post={self.post_id} user={self.user_id} {period}>"


class UserRole(Base):
    """A role granted to a user outright (secretariat, committee, admin)."""

    __tablename__ = "user_role"
    __table_args__ = (sa.UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(enum_column(Role))

    def __repr__(self) -> str:
        return f"<UserRole {self.user_id} {self.role}>"


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(60), unique=True)
    email: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(100))
    name_kana: Mapped[str] = mapped_column(sa.String(100), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(256), default="")
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str] = mapped_column(sa.String(5), default="ja")
    wants_digest: Mapped[bool] = mapped_column(default=False)
    reminders_enabled: Mapped[bool] = mapped_column(default=True)
    session_token: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "local": signs in with the password kept here; "directory": with the city's LDAP /
    # Active Directory, which also supplies the name, e-mail, section and granted roles.
    auth_source: Mapped[str] = mapped_column(sa.String(20), default="local", server_default="local")
    directory_dn: Mapped[str | None] = mapped_column(sa.String(500))

    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan")
    assignments: Mapped[list[PostAssignment]] = relationship(back_populates="user")

    def set_password(self, password: str) -> None:
        self.set_password_hash(generate_password_hash(password))

    def set_password_hash(self, password_hash: str) -> None:
        """Store an already computed hash (bulk loads hash a shared password once)."""
        self.password_hash = password_hash
        # A new token ends every session opened with the old password.
        self.end_sessions()

    def end_sessions(self) -> None:
        """Issue a new session token: every session and remember-me cookie of the old one ends."""
        self.session_token = secrets.token_hex(16)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    # What Flask-Login asks of a user object; the model itself does not import Flask.
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return self.active

    def granted_roles(self) -> set[Role]:
        return {r.role for r in self.roles}

    def has_role(self, role: Role) -> bool:
        """Whether the user was granted `role` (secretariat, committee, administrator)."""
        return role in self.granted_roles()

    def posts_on(self, on: date) -> list[Post]:
        return [a.post for a in self.assignments if a.covers(on)]

    def sections_on(self, on: date) -> set[int]:
        return {p.section_id for p in self.posts_on(on) if p.section_id is not None}

    def departments_on(self, on: date) -> set[int]:
        return {p.department_id for p in self.posts_on(on) if p.department_id is not None}

    def __repr__(self) -> str:
        return f"<User {self.login}>"


class Substitution(Base):
    """A substitute (代理) who may decide for a post's holder between two dates."""

    __tablename__ = "substitution"
    __table_args__ = (sa.CheckConstraint("ends_on >= starts_on", name="dates_ordered"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("post.id"), index=True)
    substitute_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    post: Mapped[Post] = relationship()
    substitute: Mapped[User] = relationship(foreign_keys=[substitute_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])

    def covers(self, on: date) -> bool:
        return self.revoked_at is None and self.starts_on <= on <= self.ends_on

    def __repr__(self) -> str:
        period = f"{self.starts_on}..{self.ends_on}"
        return f"<Substitution post={self.post_id} by={self.substitute_id} {period}>"
