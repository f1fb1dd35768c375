#!/usr/bin/env bash
# Fuzz the running API as a new user would: `healthmon api` on a fresh SQLite database, and the
# schemathesis CLI (every check, every phase including stateful) against its /openapi.json, with a random
# seed printed first and last so a finding can be replayed with --seed.
#
# Usage: scripts/fuzz-api.sh [--seed N] [--max-examples N] [extra schemathesis run args...]
#   FUZZ_BIN   directory holding `healthmon` and `schemathesis` (default: .venv/bin of the repository)
#   FUZZ_PORT  port of the API inside the namespace (default 18765)
# Exit status: schemathesis's (0: no failure), or 3 when no private network namespace can be made.
#
# Nothing leaves the machine: everything runs in a private network namespace (unshare --net, as an
# unprivileged user namespace) holding only a loopback interface. The API resolves the host of every
# generated url and webhook_url (the address guard), and those lookups fail there at once instead of
# reaching a real DNS server; only the API runs (no checker, so no check is ever sent). Hooks
# (scripts/fuzz_hooks.py) repair generated bodies for the rules no OpenAPI 3.0 keyword states; settings
# (scripts/schemathesis.toml) count a 413 as a rejection of an invalid body. Reports (JUnit)
# go to $FUZZ_REPORT_DIR (default: a new temporary directory, printed at the end).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXIT_NO_NAMESPACE=3

if [ "${FUZZ_IN_NAMESPACE:-}" != "1" ]; then
  if ! unshare --user --map-root-user --net true 2>/dev/null; then
    echo "error: cannot create a private network namespace (unshare --user --net); refusing to fuzz" \
         "with the machine's own network, where generated host names would be looked up in real DNS" >&2
    exit "$EXIT_NO_NAMESPACE"
  fi
  FUZZ_IN_NAMESPACE=1 exec unshare --user --map-root-user --net "$0" "$@"
fi

SEED="$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
MAX_EXAMPLES=50
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) SEED="$2"; shift 2 ;;
    --max-examples) MAX_EXAMPLES="$2"; shift 2 ;;
    *) break ;;
  esac
done
BIN="${FUZZ_BIN:-$ROOT/.venv/bin}"
PORT="${FUZZ_PORT:-18765}"
WORK="$(mktemp -d)"
REPORT_DIR="${FUZZ_REPORT_DIR:-$WORK/report}"
API_PID=""
cleanup() {
  if [ -n "$API_PID" ]; then kill "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true; fi
  rm -f "$WORK"/healthmon.db*
}
trap cleanup EXIT

ip link set lo up 2>/dev/null || true  # a new namespace's loopback starts down
echo "fuzz-api: seed $SEED (replay: scripts/fuzz-api.sh --seed $SEED --max-examples $MAX_EXAMPLES)"

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export DATABASE_URL="sqlite:///$WORK/healthmon.db" HOST=127.0.0.1 PORT="$PORT" WEB_CONCURRENCY=2 LOG_LEVEL=WARNING
# Private targets are allowed (never link-local or metadata ones): generated addresses like 10.1.2.3 are
# then stored instead of refused with a 400 the schema cannot describe; nothing is checked either way.
export ALLOWED_PRIVATE_CIDRS="10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,127.0.0.0/8,100.64.0.0/10,::1/128,fc00::/7"
"$BIN/healthmon" init-db >/dev/null 2>&1
KEY="$("$BIN/healthmon" api-key create --name fuzz 2>/dev/null)"
"$BIN/healthmon" api >"$WORK/api.log" 2>&1 &
API_PID=$!

status=0
SCHEMATHESIS_HOOKS="$ROOT/scripts/fuzz_hooks.py" "$BIN/schemathesis" --config-file "$ROOT/scripts/schemathesis.toml" \
  run "http://127.0.0.1:$PORT/openapi.json" \
  --wait-for-schema 30 -H "Authorization: Bearer $KEY" --checks all \
  --phases examples,coverage,fuzzing,stateful --seed "$SEED" --max-examples "$MAX_EXAMPLES" \
  --generation-database none --no-color --report junit --report-dir "$REPORT_DIR" "$@" || status=$?
if grep -q "Traceback" "$WORK/api.log"; then
  echo "fuzz-api: the API logged a traceback ($WORK/api.log)" >&2
  [ "$status" -ne 0 ] || status=1
fi
echo "fuzz-api: seed $SEED, exit $status, report in $REPORT_DIR, API log $WORK/api.log"
exit "$status"
