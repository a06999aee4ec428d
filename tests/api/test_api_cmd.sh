#!/usr/bin/env bash
# test_api_cmd.sh - `profd api` as a process with a real redis-server behind it:
# it starts, answers /readyz, records a session in Redis that survives a
# restart of the API, reports the store unreachable on /readyz (503) when
# Redis goes away, and exits 0 on SIGTERM.
set -euo pipefail
PROFD=${PROFD_BIN:?}
SRC=${PROFD_SOURCE_DIR:?}
. "$(dirname "$0")/../support/skip.sh"
need_cmd curl
need_cmd redis-server
# shellcheck source=../support/redis.sh
source "$SRC/tests/support/redis.sh"
API_PID=""
WORK=$(mktemp -d /tmp/profd-apicmd.XXXXXX)
cleanup() {
    if [ -n "$API_PID" ]; then kill "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true; fi
    redis_stop || true
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$WORK/err" >&2 2>/dev/null || true; exit 1; }
redis_start || fail "redis-server did not start"

export PROFD_JWT_SECRET=cmd-test-secret PROFD_BUS=memory PROFD_STORAGE=file://$WORK/data
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B="http://127.0.0.1:$PORT"
start_api() {
    "$PROFD" api --listen "127.0.0.1:$PORT" 2> "$WORK/err" &
    API_PID=$!
    for _ in $(seq 1 100); do
        curl -fsS "$B/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$API_PID" 2>/dev/null || fail "profd api exited"
        sleep 0.1
    done
    fail "profd api did not answer"
}
stop_api() {
    kill -TERM "$API_PID"
    wait "$API_PID" || fail "profd api exited non-zero after SIGTERM"
    API_PID=""
}
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }

start_api
[ "$(code "$B/readyz")" = 200 ] || fail "not ready with Redis up"
TOKEN=$("$PROFD" api token --sub ci --role admin)
[ "$(code -X POST -H "Authorization: Bearer $TOKEN" "$B/api/v1/monitoring/profile/start" \
    -d '{"service_name":"cmd-svc","duration_seconds":15}')" = 201 ] || fail "start: $(cat "$WORK/body")"
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["session_id"])' "$WORK/body")
grep -q '"event":"audit".*action=start subject=ci service=cmd-svc' "$WORK/err" || fail "no audit line"
grep -q "$TOKEN" "$WORK/err" && fail "token in the log"
stop_api

# The record lives in Redis, not in the API process.
start_api
[ "$(code -H "Authorization: Bearer $TOKEN" "$B/api/v1/monitoring/profile/$ID")" = 200 ] \
    || fail "session lost across an API restart"
grep -q '"status":"queued"' "$WORK/body" || fail "unexpected record: $(cat "$WORK/body")"
[ "$(code -H "Authorization: Bearer $TOKEN" "$B/api/v1/monitoring/profile?service_name=cmd-svc")" = 200 ] \
    || fail "list"
grep -q "$ID" "$WORK/body" || fail "list misses the session"

redis_kill || true
[ "$(code "$B/readyz")" = 503 ] || fail "readyz not 503 without Redis"
grep -q "store" "$WORK/body" || fail "readyz does not name the store: $(cat "$WORK/body")"
[ "$(code -H "Authorization: Bearer $TOKEN" "$B/api/v1/monitoring/profile/$ID")" = 503 ] \
    || fail "GET without Redis not 503"
[ "$(code "$B/healthz")" = 200 ] || fail "healthz depends on Redis"
stop_api
echo "PASS"
