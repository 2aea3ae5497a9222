#!/usr/bin/env bash
# Make sure the services the test suite needs are there (PostgreSQL, Chromium, slapd). In CI (CI=true) they are
# mandatory: anything that cannot be started or installed is an error.
set -u
ci=false; [ "${CI:-}" = "true" ] && ci=true
fail() { echo "services: $*" >&2; if $ci; then exit 1; fi; }

pg_up() { python3 - <<'PY' 2>/dev/null
import socket; s = socket.create_connection(("127.0.0.1", 5432), timeout=2); s.close()
PY
}

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null; then
    ver=$(ls /etc/postgresql 2>/dev/null | head -1)
    [ -n "$ver" ] && pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do pg_up && break; sleep 1; done
  elif $ci; then
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    ver=$(ls /etc/postgresql 2>/dev/null | head -1)
    if [ -n "$ver" ]; then
      # The tests connect as postgres over loopback without a password (trust), as on the
      # development machines; Debian's default asks for one.
      hba=/etc/postgresql/$ver/main/pg_hba.conf
      grep -q "^host all all 127.0.0.1/32 trust" "$hba" \
        || sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
      pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    fi
    for _ in 1 2 3 4 5 6 7 8 9 10; do pg_up && break; sleep 1; done
  fi
  pg_up || fail "PostgreSQL is not reachable at 127.0.0.1:5432"
fi

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "services: installing Debian's chromium for the browser tests"
    (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk) >/dev/null 2>&1
  fi
  [ -x /usr/bin/chromium ] || fail "chromium is missing (apt-get install chromium)"
fi
if [ ! -x /usr/sbin/slapd ] || ! command -v ldapsearch >/dev/null; then
  # The directory sign-in tests start a private OpenLDAP server; Debian's service stays off.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "services: installing Debian's slapd and ldap-utils for the directory tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils) \
      >/dev/null 2>&1
  fi
  [ -x /usr/sbin/slapd ] || fail "slapd is missing (apt-get install slapd ldap-utils)"
fi
exit 0
