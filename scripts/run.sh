#!/usr/bin/env bash
# Run Kaikaku for a newcomer: a local mail catcher and the scheduler in the background,
# the web server (kaikaku serve) in the foreground. Ctrl-C stops all three.
#   bash scripts/run.sh [HOST] [PORT]
# Mail goes to the catcher on 127.0.0.1:1025 unless SMTP_HOST/SMTP_PORT say otherwise;
# what was sent is listed at /dev/mailbox/ (secretariat or administrator login).
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

case "${MAIL_CATCHER,,}" in
    1|true|yes|on)
        "$KAIKAKU" mail catcher --host "$SMTP_HOST" --port "$SMTP_PORT" &
        children+=("$!")
        ;;
esac

"$KAIKAKU" scheduler run &
children+=("$!")

echo
echo "  Kaikaku:         http://${HOST}:${PORT}/"
case "${MAIL_CATCHER,,}" in
    1|true|yes|on) echo "  Mail sent:       http://${HOST}:${PORT}/dev/mailbox/  (secretariat or admin login)" ;;
esac
echo "  Mail server:     ${SMTP_HOST}:${SMTP_PORT}   Stop everything with Ctrl-C."
echo

# The production server (gunicorn), as on a city's server; one JSON line per request.
"$KAIKAKU" serve --bind "$HOST:$PORT" --workers 2
