#!/usr/bin/env bash
# test_memory_api.sh - a memory session through the REST API of `profd serve` (docs/memory.md):
# POST /start with "profile_type": "memory" for a CPython 3.14 target (sid root) answers 201
# with profile_type memory, the session completes with bytes_total and blocks_total, its
# flame graph (GET /{id}/flamegraph) is in bytes; the start is audit-logged with its type;
# a token without the admin role gets 403 and starts nothing; a bad profile_type is a 422
# naming the field.
set -euo pipefail
PROFD=${PROFD_BIN:?}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../support/skip.sh"
. "$HERE/../support/pythons.sh"
need_cmd curl
set +u
profd_py_require 3.14
set -u
WORK=$(mktemp -d /tmp/profd-memapi.XXXXXX)
SERVE_PID=""
cleanup() {
    [ -n "$SERVE_PID" ] && { kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; }
    kill "${PROFD_PY_LAUNCHER:-}" 2>/dev/null || true
    profd_py_cleanup
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$WORK/err" >&2 || true; exit 1; }

profd_py_launch 3.14 chroot "$WORK/pid" "$HERE/../sampler_memory/fixture.py" 60 {RUNDIR} plain >"$WORK/fx.out" 2>&1
RUN=$PROFD_PY_RUNDIR
pid=$(profd_py_wait_pid "$WORK/pid")
printf '{"mem-app": {"pid": %d}}\n' "$pid" >"$WORK/targets.json"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SECRET=memory-api-test-secret-0123456789abcdef
env -u PROFD_REDIS_URL PROFD_JWT_SECRET=$SECRET PROFD_TARGETS="$WORK/targets.json" \
    PROFD_STORAGE="file://$WORK/data" PROFD_DURATION_MIN=1 PROFD_LOG_FORMAT=json \
    "$PROFD" serve --listen "127.0.0.1:$PORT" >"$WORK/out" 2>"$WORK/err" &
SERVE_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVE_PID" 2>/dev/null || fail "profd serve exited"
    sleep 0.1
done
ADMIN=$("$PROFD" api token --secret $SECRET --sub alice)
VIEWER=$("$PROFD" api token --secret $SECRET --sub bob --role viewer)
B="http://127.0.0.1:$PORT/api/v1/monitoring/profile"
BODY='{"service_name":"mem-app","duration_seconds":3,"profile_type":"memory","memory_frames":16}'

code=$(curl -s -o "$WORK/r" -w '%{http_code}' -H "Authorization: Bearer $VIEWER" -X POST "$B/start" -d "$BODY")
[ "$code" = 403 ] || fail "viewer token: $code $(cat "$WORK/r")"
code=$(curl -s -o "$WORK/r" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" -X POST "$B/start" \
    -d '{"service_name":"mem-app","profile_type":"heap"}')
[ "$code" = 422 ] && grep -q 'profile_type' "$WORK/r" || fail "bad profile_type: $code $(cat "$WORK/r")"

code=$(curl -s -o "$WORK/r" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" -X POST "$B/start" -d "$BODY")
[ "$code" = 201 ] || fail "start: $code $(cat "$WORK/r")"
get() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }
ID=$(get "$WORK/r" session_id)
[ "$(get "$WORK/r" profile_type)" = memory ] || fail "201 body profile_type: $(cat "$WORK/r")"
grep -q "\"audit\".*action=start subject=alice service=mem-app type=memory" "$WORK/err" ||
    fail "no audit line with type=memory"
for _ in $(seq 400); do
    d=$(ls -d "/proc/$pid/root/tmp/profd-memory."* 2>/dev/null | head -1 || true)
    [ -n "$d" ] && [ ! -e "$d/capture.py" ] && break
    sleep 0.05
done
[ -n "$d" ] || fail "no capture directory appeared in the target's /tmp"
touch "$RUN/grow"
for _ in $(seq 600); do
    curl -s -o "$WORK/s" -H "Authorization: Bearer $ADMIN" "$B/$ID"
    case "$(get "$WORK/s" status)" in completed | failed) break ;; esac
    sleep 0.1
done
[ "$(get "$WORK/s" status)" = completed ] || fail "session: $(cat "$WORK/s")"
[ "$(get "$WORK/s" profile_type)" = memory ] || fail "profile_type: $(cat "$WORK/s")"
bytes=$(get "$WORK/s" bytes_total)
[ "$bytes" -ge $((50 * 1048576)) ] || fail "bytes_total $bytes"
[ "$(get "$WORK/s" blocks_total)" -ge 50 ] || fail "blocks_total: $(cat "$WORK/s")"
curl -sL -o "$WORK/fg.html" -H "Authorization: Bearer $ADMIN" "$B/$ID/flamegraph"
grep -q '"unit":"bytes"' "$WORK/fg.html" || fail "the flame graph is not in bytes"
grep -q 'grow_cache' "$WORK/fg.html" || fail "the flame graph lacks grow_cache"
kill -0 "$pid" || fail "the target died"
echo "ok: memory session $ID completed through the API: $bytes bytes, overhead $(get "$WORK/s" overhead_percent)"
