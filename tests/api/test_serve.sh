#!/usr/bin/env bash
# test_serve.sh - `profd serve` secure defaults and `profd api` startup checks,
# through the real binary: with no JWT settings serve binds loopback only
# (even when asked for 0.0.0.0), prints a working admin token and a curl line,
# cancels a running capture through the worker, and stops cleanly on SIGTERM; `profd api` refuses to start without keys.
set -euo pipefail
PROFD=${PROFD_BIN:?}
WORK=$(mktemp -d /tmp/profd-serve-test.XXXXXX)
SERVE_PID=""
BUSY_PID=""
cleanup() {
    if [ -n "$BUSY_PID" ]; then kill "$BUSY_PID" 2>/dev/null || true; wait "$BUSY_PID" 2>/dev/null || true; fi
    if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$WORK/err" ] && cat "$WORK/err" >&2; exit 1; }
. "$(dirname "$0")/../support/skip.sh"
need_cmd curl

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import time
def spin():
    while True: sum(i * i for i in range(1000))
spin()' &
BUSY_PID=$!
printf '{"nothing": {"pid": %d}, "busy": {"pid": %d}}\n' $$ "$BUSY_PID" > "$WORK/targets.json"
cd "$WORK"
env -u PROFD_JWT_SECRET -u PROFD_JWT_PUBLIC_KEY -u PROFD_REDIS_URL \
    PROFD_TARGETS="$WORK/targets.json" PROFD_STORAGE="file://$WORK/data" \
    "$PROFD" serve --listen "0.0.0.0:$PORT" > "$WORK/out" 2> "$WORK/err" &
SERVE_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVE_PID" 2>/dev/null || fail "profd serve exited"
    sleep 0.1
done
grep -q "loopback only" "$WORK/err" || fail "no loopback notice on stderr"
# Bound to 127.0.0.1 (0100007F in /proc/net/tcp), not the wildcard.
HEXPORT=$(printf '%04X' "$PORT")
grep -q "0100007F:$HEXPORT 00000000:0000 0A" /proc/net/tcp || fail "not bound to loopback"
grep -q "00000000:$HEXPORT 00000000:0000 0A" /proc/net/tcp && fail "bound to the wildcard address"

# The API answers a moment before serve prints its welcome: wait for the token.
TOKEN=""
for _ in $(seq 1 50); do
    TOKEN=$(sed -n 's/^ *export PROFD_TOKEN=//p' "$WORK/out")
    [ -n "$TOKEN" ] && break
    sleep 0.1
done
[ -n "$TOKEN" ] || fail "no token printed"
grep -q "curl -sS -X POST http://127.0.0.1:$PORT/api/v1/monitoring/profile/start" "$WORK/out" \
    || fail "no curl line printed"
grep -q "$TOKEN" "$WORK/err" && fail "the token appeared in the logs"
B="http://127.0.0.1:$PORT/api/v1/monitoring/profile"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$B")" = 401 ] || fail "no token: not 401"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$B")" = 200 ] \
    || fail "printed token refused"
OTHER=$("$PROFD" api token --secret not-this-one --sub x)
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OTHER" "$B")" = 401 ] \
    || fail "foreign token accepted"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz")" = 200 ] \
    || fail "not ready"
# A service nobody can resolve is accepted (queued) and then fails in the worker.
R=$(curl -s -H "Authorization: Bearer $TOKEN" -X POST "$B/start" \
    -d '{"service_name":"unknown-svc","duration_seconds":10}')
ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["session_id"])' "$R")
for _ in $(seq 1 50); do
    S=$(curl -s -H "Authorization: Bearer $TOKEN" "$B/$ID")
    case "$S" in *'"status":"failed"'*) break ;; esac
    sleep 0.1
done
case "$S" in *'"status":"failed"'*) ;; *) fail "unknown service did not fail: $S" ;; esac

# Cancel a running capture: 202, and the worker ends it failed / cancelled.
R=$(curl -s -H "Authorization: Bearer $TOKEN" -X POST "$B/start" \
    -d '{"service_name":"busy","duration_seconds":60}')
ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["session_id"])' "$R") \
    || fail "start busy: $R"
for _ in $(seq 1 100); do
    S=$(curl -s -H "Authorization: Bearer $TOKEN" "$B/$ID")
    case "$S" in *'"status":"running"'*) break ;; esac
    sleep 0.1
done
case "$S" in *'"status":"running"'*) ;; *) fail "capture not running: $S" ;; esac
[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOKEN" "$B/$ID")" = 202 ] \
    || fail "cancel of a running session not 202"
for _ in $(seq 1 100); do
    S=$(curl -s -H "Authorization: Bearer $TOKEN" "$B/$ID")
    case "$S" in *'"status":"failed"'*) break ;; esac
    sleep 0.1
done
case "$S" in *'"error_code":"cancelled"'*) ;; *) fail "not cancelled within 10 s: $S" ;; esac
[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOKEN" "$B/$ID")" = 409 ] \
    || fail "cancel of a finished session not 409"
grep -q '"event":"audit".*action=cancel subject=local-admin service=busy was=running' "$WORK/err" \
    || fail "no audit line for the cancel"

kill -TERM "$SERVE_PID"
for _ in $(seq 1 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVE_PID" 2>/dev/null && fail "serve did not stop on SIGTERM"
wait "$SERVE_PID" || fail "serve exited non-zero after SIGTERM"
SERVE_PID=""

# profd api refuses to run without JWT configuration.
set +e
env -u PROFD_JWT_SECRET -u PROFD_JWT_PUBLIC_KEY "$PROFD" api --listen 127.0.0.1:0 2> "$WORK/api.err"
RC=$?
set -e
[ "$RC" = 2 ] || fail "profd api without keys exited $RC"
grep -q "PROFD_JWT_SECRET" "$WORK/api.err" || fail "no hint about PROFD_JWT_SECRET"
echo "PASS"
