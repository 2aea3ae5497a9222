#!/usr/bin/env bash
# The whole suite: SQLite (browser tests included) and PostgreSQL (browser tests excluded)
# run side by side, each writing its own log; both logs are printed, and the exit status
# is a failure when either run fails. Extra arguments go to both pytest runs.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=.venv/bin/pytest
logs=$(mktemp -d)
started=$(date +%s)
$PYTEST -q --durations=15 "$@" >"$logs/sqlite.log" 2>&1 &
sqlite=$!
TEST_DB=postgres $PYTEST -q -p no:cacheprovider -m "not browser" --durations=15 "$@" >"$logs/postgres.log" 2>&1 &
postgres=$!
wait $sqlite; sqlite_status=$?
wait $postgres; postgres_status=$?
echo "=== SQLite (browser included): exit $sqlite_status"
cat "$logs/sqlite.log"
echo "=== PostgreSQL: exit $postgres_status"
cat "$logs/postgres.log"
echo "=== both runs took $(( $(date +%s) - started )) s"
rm -rf "$logs"
[ $sqlite_status -eq 0 ] && [ $postgres_status -eq 0 ]
