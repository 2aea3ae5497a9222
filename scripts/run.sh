#!/usr/bin/env bash
# Run Kaikaku for a newcomer: a local mail catcher and the scheduler in the background,
# the web server (kaikaku serve) in the foreground. Ctrl-C stops all three.
#   bash scripts/run.sh [HOST] [PORT]        (make run PORT=5001 SMTP_PORT=1026)
# Mail goes to the catcher on 127.0.0.1:1025 unless SMTP_HOST/SMTP_PORT say otherwise;
# what was sent is listed at /dev/mailbox/ (secretariat or administrator login).
# A port that is already in use stops the run with one line saying which setting to change.
set -euo pipefail

HOST="${1:-127.0.0.1}"
PORT="${2:-5000}"
cd "$(dirname "$0")/.."

KAIKAKU=".venv/bin/kaikaku"
export FLASK_APP="app:create_app"
export SMTP_HOST="${SMTP_HOST:-127.0.0.1}"
export SMTP_PORT="${SMTP_PORT:-1025}"
# The local catcher stands in for the mail server only when mail stays on this machine.
case "$SMTP_HOST" in
    127.0.0.1|localhost|::1) export MAIL_CATCHER="${MAIL_CATCHER:-1}" ;;
    *) export MAIL_CATCHER="${MAIL_CATCHER:-0}" ;;
esac
export BASE_URL="${BASE_URL:-http://${HOST}:${PORT}}"

# Whether HOST:PORT can be listened on (nothing else uses it).
port_free() {
    .venv/bin/python - "$1" "$2" <<'PY'
import socket
import sys

with socket.socket() as s:
    try:
        s.bind((sys.argv[1], int(sys.argv[2])))
    except OSError:
        sys.exit(1)
PY
}

catcher_on() { case "${MAIL_CATCHER,,}" in 1|true|yes|on) return 0 ;; *) return 1 ;; esac; }

if ! port_free "$HOST" "$PORT"; then
    echo "kaikaku: port $PORT on $HOST is in use: choose another web port, e.g. make run PORT=$((PORT + 1))" >&2
    exit 1
fi
if catcher_on && ! port_free "$SMTP_HOST" "$SMTP_PORT"; then
    echo "kaikaku: port $SMTP_PORT on $SMTP_HOST (the local mail catcher) is in use: choose another, e.g. make run SMTP_PORT=$((SMTP_PORT + 1))" >&2
    exit 1
fi

children=()
stop_children() {
    trap - EXIT INT TERM
    for pid in "${children[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${children[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if catcher_on; then
    "$KAIKAKU" mail catcher --host "$SMTP_HOST" --port "$SMTP_PORT" &
    children+=("$!")
    # Taken between the check and now: the catcher said why in one line; stop here too.
    sleep 1
    kill -0 "${children[-1]}" 2>/dev/null || exit 1
fi

"$KAIKAKU" scheduler run &
children+=("$!")

echo
echo "  Kaikaku:         http://${HOST}:${PORT}/"
catcher_on && echo "  Mail sent:       http://${HOST}:${PORT}/dev/mailbox/  (secretariat or admin login)"
echo "  Mail server:     ${SMTP_HOST}:${SMTP_PORT}   Stop everything with Ctrl-C."
echo

# The production server (gunicorn), as on a city's server; one JSON line per request.
"$KAIKAKU" serve --bind "$HOST:$PORT" --workers 2
