"""Sign-in with the city's directory (LDAP / Active Directory) through ldap3.

With LDAP_URL set, a login ID that has no local password is checked against the directory:
the service account (LDAP_BIND_DN) searches LDAP_USER_BASE with LDAP_USER_FILTER for exactly
one entry, then Kaikaku binds as that entry with the password typed. An account outside the
filter (disabled, locked, moved away) is unknown here. On success the local user is created
or brought up to date: name, e-mail and section from the attributes named in
LDAP_ATTRIBUTES, the granted roles from membership of the LDAP_GROUP_* groups.

The section attribute holds a section code (Section.code); the user then holds that
section's staff post (担当, made when the section has none) from today. A user holding a
head or chief post keeps their posts: those follow the administrators' 人事異動.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Post, PostAssignment, PostKind, Role, Section, User, UserRole

log = logging.getLogger("kaikaku.directory")

DIRECTORY = "directory"
GROUP_SETTINGS = {
    Role.SECRETARIAT: "LDAP_GROUP_SECRETARIAT",
    Role.COMMITTEE: "LDAP_GROUP_COMMITTEE",
    Role.ADMIN: "LDAP_GROUP_ADMIN",
}


class DirectoryUnavailable(Exception):
    """The directory cannot answer (down, unreachable, service account refused)."""


@dataclass(frozen=True)
class DirectorySettings:
    url: str
    bind_dn: str | None
    bind_password: str | None
    user_base: str
    user_filter: str
    attributes: Mapping[str, str]
    groups: Mapping[Role, tuple[str, ...]]
    member_attribute: str = "member"
    starttls: bool = False
    ca_file: str | None = None
    timeout: float = 5.0

    @classmethod
    def from_config(cls, config: Mapping) -> DirectorySettings | None:
        """The directory settings, or None when no directory is configured."""
        if not config.get("LDAP_URL"):
            return None
        return cls(
            url=config["LDAP_URL"],
            bind_dn=config.get("LDAP_BIND_DN"),
            bind_password=config.get("LDAP_BIND_PASSWORD"),
            user_base=config["LDAP_USER_BASE"],
            user_filter=config["LDAP_USER_FILTER"],
            attributes=dict(config["LDAP_ATTRIBUTES"]),
            groups={role: tuple(config.get(name) or ()) for role, name in GROUP_SETTINGS.items()},
            member_attribute=config.get("LDAP_GROUP_MEMBER_ATTRIBUTE") or "member",
            starttls=bool(config.get("LDAP_STARTTLS")),
            ca_file=config.get("LDAP_CA_FILE"),
            timeout=float(config.get("LDAP_TIMEOUT") or 5),
        )

    @property
    def managed_roles(self) -> set[Role]:
        """Roles the directory decides; the others stay with the administrators."""
        return {role for role, dns in self.groups.items() if dns}


@dataclass
class DirectoryAccount:
    """What the directory says about a person who just proved their password."""

    dn: str
    login: str
    name: str
    email: str
    section_code: str
    roles: set[Role] = field(default_factory=set)


def _first(value) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value or "").strip()


def _connection(settings: DirectorySettings, user: str | None, password: str | None) -> Connection:
    tls = None
    if settings.starttls or settings.url.startswith("ldaps://"):
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=settings.ca_file)
    server = Server(settings.url, connect_timeout=settings.timeout, tls=tls, get_info=NONE)
    connection = Connection(
        server,
        user=user,
        password=password,
        receive_timeout=max(1, round(settings.timeout)),
        read_only=True,
        auto_referrals=False,
        raise_exceptions=False,
    )
    try:
        connection.open()
        if settings.starttls:
            connection.start_tls()
    except LDAPException:
        # ldap3 keeps the socket of a failed attempt open; close it here.
        if getattr(connection, "socket", None) is not None:
            connection.socket.close()
        raise
    return connection


def _entries(connection: Connection) -> list[dict]:
    return [r for r in connection.response or [] if r.get("type") == "searchResEntry"]


def authenticate(settings: DirectorySettings, login: str, password: str) -> DirectoryAccount | None:
    """The account when the password is right; None when unknown, disabled or wrong.

    Raises DirectoryUnavailable when the directory cannot be asked at all.
    """
    # An empty password would be an "unauthenticated bind", which directories accept.
    if not login or not password:
        return None
    service = None
    try:
        service = _connection(settings, settings.bind_dn, settings.bind_password)
        if not service.bind():
            raise DirectoryUnavailable(
                f"the service account was refused: {service.result.get('description')}"
            )
        query = settings.user_filter.replace("{login}", escape_filter_chars(login))
        service.search(
            settings.user_base,
            query,
            SUBTREE,
            attributes=list(settings.attributes.values()),
            size_limit=2,
        )
        found = _entries(service)
        if len(found) != 1:
            return None
        entry = found[0]
        person = _connection(settings, entry["dn"], password)
        try:
            if not person.bind():
                return None
        finally:
            person.unbind()
        attributes = entry.get("attributes") or {}
        account = DirectoryAccount(
            dn=entry["dn"],
            login=login,
            name=_first(attributes.get(settings.attributes["name"])),
            email=_first(attributes.get(settings.attributes["email"])),
            section_code=_first(attributes.get(settings.attributes["section"])),
        )
        member = f"({settings.member_attribute}={escape_filter_chars(account.dn)})"
        for role, group_dns in settings.groups.items():
            for group_dn in group_dns:
                service.search(group_dn, member, BASE, attributes=[])
                if _entries(service):
                    account.roles.add(role)
                    break
        return account
    except LDAPException as exc:
        raise DirectoryUnavailable(str(exc) or type(exc).__name__) from exc
    finally:
        if service is not None:
            service.unbind()


def uses_directory(user: User | None) -> bool:
    """Whether this login ID signs in with the directory (when one is configured).

    Unknown IDs do (first sign-in), and so do users without a local password; a local
    account with a password (the administrator, say) keeps signing in locally.
    """
    return user is None or user.auth_source == DIRECTORY or not user.password_hash


def sync_user(
    session: Session, settings: DirectorySettings, account: DirectoryAccount, today: date
) -> User:
    """Create or update the local user from the directory account; flushes."""
    user = session.scalar(select(User).where(User.login == account.login))
    if user is None:
        user = session.scalar(select(User).where(User.directory_dn == account.dn))
    if user is None:
        user = User(login=account.login[:60], name="", email="")
        session.add(user)
        log.info("directory: first sign-in, user created")
    user.auth_source = DIRECTORY
    user.directory_dn = account.dn[:500]
    user.name = (account.name or user.name or account.login)[:100]
    user.email = _checked_email(account.email) or user.email
    _sync_roles(user, settings.managed_roles, account.roles)
    session.flush()
    if account.section_code:
        _sync_section(session, user, account.section_code, today)
        session.flush()
    return user


def _checked_email(address: str | None) -> str:
    """The directory's mail address when a mail server would take it, else "" (logged)."""
    from app.validation import Invalid, parse_email

    try:
        return parse_email(address or "")
    except Invalid:
        log.warning("directory: a mail address no mail server would take was ignored")
        return ""


def _sync_roles(user: User, managed: set[Role], granted: set[Role]) -> None:
    held = {row.role: row for row in user.roles}
    for role in managed:
        if role in granted and role not in held:
            user.roles.append(UserRole(role=role))
        elif role not in granted and role in held:
            user.roles.remove(held[role])


# The post kind a directory user's section places them in (the default 職員 kind).
STAFF_KIND = "staff"


def staff_post(session: Session, section: Section) -> Post:
    """The section's staff post (担当), made when the section has none yet."""
    post = session.scalar(
        select(Post)
        .where(Post.section_id == section.id, Post.kind_code == STAFF_KIND, Post.active)
        .order_by(Post.id)
    )
    if post is None:
        PostKind.ensure(session, STAFF_KIND, "職員", "Staff")
        post = Post(
            code=f"{section.code}-STAFF"[:40],
            name=f"{section.name} 担当"[:100],
            kind_code=STAFF_KIND,
            department_id=section.department_id,
            section=section,
        )
        session.add(post)
        session.flush()
    return post


def _sync_section(session: Session, user: User, code: str, today: date) -> None:
    section = session.scalar(select(Section).where(Section.code == code, Section.active))
    if section is None:
        log.warning("directory: section code %r matches no section of Kaikaku", code)
        return
    current = [a for a in user.assignments if a.covers(today)]
    if any(a.post.kind_code != STAFF_KIND for a in current):
        return  # heads, chiefs and other posts move by the administrators' transfers
    post = staff_post(session, section)
    if any(a.post_id == post.id for a in current):
        return
    for assignment in current:
        if assignment.post.kind_code != STAFF_KIND:
            continue
        if assignment.starts_on >= today:
            user.assignments.remove(assignment)
            session.delete(assignment)
        else:
            assignment.ends_on = today - timedelta(days=1)
    session.add(PostAssignment(post=post, user=user, starts_on=today))
    log.info("directory: user %s now holds post %s", user.id, post.code)
