"""A private OpenLDAP server (Debian's slapd) on a free loopback port, for the tests.

The directory is built with slapadd from directory/city.ldif into a temporary folder and
served by `slapd -h ldap://127.0.0.1:PORT`; SIGTERM stops it. In CI (CI=true) a missing
slapd is a failure, like a missing PostgreSQL; elsewhere the directory tests are skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from .helpers import free_port, wait_for_port

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
LDIF = Path(__file__).parent / "directory" / "city.ldif"
SUFFIX = "dc=city,dc=example"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret"
SERVICE_DN = f"cn=kaikaku,ou=system,{SUFFIX}"
SERVICE_PASSWORD = "service-secret"

CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {folder}/slapd.pid
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "{admin}"
rootpw {admin_password}
directory {folder}/data
overlay ppolicy
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="{service}" read by self read by * none
"""


@dataclass
class Directory:
    url: str
    process: subprocess.Popen

    def settings(self, **overrides) -> dict:
        """App settings that sign in against this directory."""
        return {
            "LDAP_URL": self.url,
            "LDAP_BIND_DN": SERVICE_DN,
            "LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
            "LDAP_USER_BASE": f"ou=people,{SUFFIX}",
            # Locked accounts (OpenLDAP's password policy) are outside the filter.
            "LDAP_USER_FILTER": "(&(objectClass=inetOrgPerson)(uid={login})"
            "(!(pwdAccountLockedTime=*)))",
            "LDAP_ATTRIBUTES": {
                "name": "displayName",
                "email": "mail",
                "section": "departmentNumber",
            },
            "LDAP_GROUP_SECRETARIAT": (f"cn=kaikaku-secretariat,ou=groups,{SUFFIX}",),
            "LDAP_GROUP_COMMITTEE": (f"cn=kaikaku-committee,ou=groups,{SUFFIX}",),
            "LDAP_GROUP_ADMIN": (f"cn=kaikaku-admin,ou=groups,{SUFFIX}",),
            "LDAP_TIMEOUT": 5,
            **overrides,
        }

    def modify(self, dn: str, changes: dict) -> None:
        """Change an entry as the directory's administrator (ldap3 modify changes)."""
        from ldap3 import Connection, Server

        conn = Connection(Server(self.url), ADMIN_DN, ADMIN_PASSWORD, auto_bind=True)
        try:
            assert conn.modify(dn, changes), conn.result
        finally:
            conn.unbind()


def start_slapd(folder: Path) -> Directory:
    if not (os.path.exists(SLAPD) and os.path.exists(SLAPADD)):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{SLAPD} is mandatory in CI and missing (apt-get install slapd)")
        pytest.skip(f"{SLAPD} is missing (apt-get install slapd ldap-utils)")
    (folder / "data").mkdir(parents=True)
    config = folder / "slapd.conf"
    config.write_text(
        CONFIG.format(
            folder=folder,
            suffix=SUFFIX,
            admin=ADMIN_DN,
            admin_password=ADMIN_PASSWORD,
            service=SERVICE_DN,
        )
    )
    subprocess.run(
        [SLAPADD, "-f", str(config), "-l", str(LDIF)], check=True, capture_output=True, timeout=30
    )
    port = free_port()
    url = f"ldap://127.0.0.1:{port}"
    # -d 0 keeps slapd in the foreground, so the test owns the process and can stop it.
    process = subprocess.Popen(
        [SLAPD, "-f", str(config), "-h", url, "-d", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process)
    return Directory(url, process)


@pytest.fixture
def directory(tmp_path):
    """A fresh directory of a small city (directory/city.ldif) on a loopback port."""
    server = start_slapd(tmp_path / "slapd")
    yield server
    server.process.terminate()
    server.process.wait(timeout=10)
    shutil.rmtree(tmp_path / "slapd", ignore_errors=True)
