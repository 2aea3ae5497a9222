#!/usr/bin/env bash
# Make sure the services and the Debian packages the test suite needs are there (PostgreSQL,
# Chromium, slapd, fonts, LibreOffice). In CI (CI=true) they are
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

# Debian packages the tests and the reports need, installed with apt when missing (as root):
# Chromium for the browser tests; Japanese fonts and HarfBuzz's subsetter for the PDF report
# (WeasyPrint embeds subsets of the fonts; without libharfbuzz-subset0 it takes 15 times
# longer); LibreOffice Calc to print the Excel exports to PDF in the tests; poppler-utils
# (pdffonts) to check that the PDF embeds its fonts; BIZ UDGothic, the font the workbooks
# name, so that LibreOffice lays them out as Windows PCs will; slapd and ldap-utils for the
# directory sign-in tests, which start a private OpenLDAP server (Debian's service stays off).
needed() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
  ls /usr/lib/*/libharfbuzz-subset.so.0 >/dev/null 2>&1 || missing+=(libharfbuzz-subset0)
  command -v soffice >/dev/null || missing+=(libreoffice-calc)
  command -v pdffonts >/dev/null || missing+=(poppler-utils)
  [ -d /usr/share/fonts/truetype/bizud-gothic ] || missing+=(fonts-morisawa-bizud-gothic)
  [ -x /usr/sbin/slapd ] || missing+=(slapd)
  command -v ldapsearch >/dev/null || missing+=(ldap-utils)
  echo "${missing[@]}"
}

missing=$(needed)
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "services: installing with apt: $missing"
  # LibreOffice without its recommends (Java, the other office programs): Calc is enough.
  recommends=$(echo " $missing " | sed 's/ libreoffice-calc / /')
  (apt-get update -qq \
    && { [ -z "${recommends// /}" ] \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $recommends; } \
    && { [[ " $missing " != *" libreoffice-calc "* ]] \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        libreoffice-calc; }) >/dev/null 2>&1
  missing=$(needed)
fi
[ -z "$missing" ] || fail "missing Debian packages: $missing (apt-get install $missing)"
exit 0
