#!/usr/bin/env bash
# demo.sh PROFD_BIN - a newcomer's first capture, end to end (`make demo`).
#
# Starts a CPU-busy sample Python service (demo/app.py), allows it in a
# PROFD_TARGETS file (make demo may run as root, and a root worker profiles
# only what the allowlist names), starts `profd serve` on a free loopback port
# with a known secret, mints a token with `profd api token`, POSTs a 10 s
# capture, polls until it completes, and prints the flame graph's path and
# URL, and the console's one-time sign-in link to the session. At a terminal
# (or with PROFD_DEMO_WAIT=1) it keeps profd serve running until Enter or
# Ctrl-C, so the links work; PROFD_DEMO_WAIT=0 never waits. Everything it
# started is stopped on exit. Results stay in
# $PROFD_DEMO_DIR (default /tmp/profd-demo) so the files can be opened after.
# Works with py-spy or, when it is absent, the built-in sampler.
set -euo pipefail

PROFD=${1:-build/profd}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${PROFD_DEMO_DIR:-/tmp/profd-demo}
DURATION=${PROFD_DEMO_DURATION:-10}

die() { echo "demo: $*" >&2; exit 1; }

[ -x "$PROFD" ] || die "no profd binary at $PROFD (run 'make build' first)"
PROFD=$(cd "$(dirname "$PROFD")" && pwd)/$(basename "$PROFD")
command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
PY=""
for p in /usr/bin/python3 "$(command -v python3 || true)"; do
    if [ -n "$p" ] && [ -x "$p" ]; then PY=$p; break; fi
done
[ -n "$PY" ] || die "python3 is needed for the sample app (apt-get install python3)"

rm -rf "$DIR"
mkdir -p "$DIR"
APP_PID="" SERVE_PID=""
cleanup() {
    local rc=$?
    if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
    if [ -n "$APP_PID" ]; then kill "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true; fi
    exit "$rc"
}
trap cleanup EXIT

json_field() { # json_field FIELD < json
    "$PY" -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$1"
}

echo "demo: starting the sample app (demo/app.py)"
"$PY" "$HERE/demo/app.py" &
APP_PID=$!
printf '{"demo-app": {"pid": %d}}\n' "$APP_PID" > "$DIR/targets.json"

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SECRET=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')
BASE="http://127.0.0.1:$PORT"

echo "demo: starting profd serve on $BASE (log: $DIR/serve.log)"
PROFD_JWT_SECRET=$SECRET PROFD_TARGETS=$DIR/targets.json PROFD_STORAGE=file://$DIR/data \
    PROFD_SPOOL_DIR=$DIR/spool PROFD_LOG_FORMAT=text PROFD_BUS=memory \
    "$PROFD" serve --listen "127.0.0.1:$PORT" > "$DIR/serve.log" 2>&1 &
SERVE_PID=$!
echo "$APP_PID $SERVE_PID" > "$DIR/pids"
for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$DIR/serve.log" >&2; die "profd serve exited"; }
    sleep 0.1
done
curl -fsS "$BASE/readyz" >/dev/null || die "profd serve is not ready (see $DIR/serve.log)"

TOKEN=$(PROFD_JWT_SECRET=$SECRET "$PROFD" api token --sub demo --role admin --ttl 600)
AUTH="Authorization: Bearer $TOKEN"

echo "demo: POST /api/v1/monitoring/profile/start (demo-app, ${DURATION} s)"
RESP=$(curl -sS -X POST "$BASE/api/v1/monitoring/profile/start" -H "$AUTH" \
    -H 'Content-Type: application/json' \
    -d "{\"service_name\": \"demo-app\", \"duration_seconds\": $DURATION}")
ID=$(json_field session_id <<<"$RESP")
[ -n "$ID" ] || die "the API refused the request: $RESP"
echo "demo: session $ID queued; polling"

STATUS=""
for _ in $(seq 1 $((DURATION * 2 + 60))); do
    SESSION=$(curl -sS "$BASE/api/v1/monitoring/profile/$ID" -H "$AUTH")
    STATUS=$(json_field status <<<"$SESSION")
    case "$STATUS" in completed | failed) break ;; esac
    printf '.'
    sleep 1
done
echo
case "$STATUS" in
completed) ;;
failed) die "the capture failed: $(json_field error_message <<<"$SESSION") (log: $DIR/serve.log)" ;;
*) die "the capture did not finish in time (status '$STATUS'; log: $DIR/serve.log)" ;;
esac

FILE="$DIR/data/sessions/$ID/flamegraph.html"
[ -s "$FILE" ] || die "completed, but $FILE is missing"
URL=$(json_field flame_graph_url <<<"$SESSION")
echo "demo: completed: $(json_field sample_count <<<"$SESSION") samples by $(json_field sampler <<<"$SESSION"), overhead $(json_field overhead_percent <<<"$SESSION")%"
echo "demo: flame graph file: $FILE"
echo "demo: flame graph URL:  $URL   (valid while profd serve runs)"
echo "demo: raw (speedscope): $DIR/data/sessions/$ID/profile.json"
# profd serve printed a one-time sign-in link for the console; with #/s/ID it opens this session.
SIGNIN=$(sed -n 's|^ *\(http://[^ ]*/?code=[0-9a-f]*\)$|\1|p' "$DIR/serve.log" | head -1)
[ -n "$SIGNIN" ] && echo "demo: console:          $SIGNIN#/s/$ID   (one use: signs you in and opens this session)"
# At a terminal, keep profd serve up for the console and the links; otherwise stop (tests, CI).
if [ "${PROFD_DEMO_WAIT:-auto}" = 1 ] || { [ "${PROFD_DEMO_WAIT:-auto}" = auto ] && [ -t 0 ] && [ -t 1 ]; }; then
    echo "demo: profd serve keeps running on $BASE for the console; press Enter or Ctrl-C to stop it"
    read -r _ || true
fi
