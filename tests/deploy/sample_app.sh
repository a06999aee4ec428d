#!/usr/bin/env bash
# sample_app.sh - the compose stack's sample service and allowlist work with
# profd: deploy/app/app.py is started the way compose starts it
# (python3 -u .../app/app.py), `profd serve` runs with PROFD_TARGETS =
# deploy/targets.json, and a capture of service web-api (found by the file's
# cmdline rule, no pid given) completes with the app's functions in its stacks.
# Captures are shortened to 2 s (PROFD_DURATION_MIN=1) to keep the test fast.
set -euo pipefail
SRC=${PROFD_SOURCE_DIR:?}
PROFD=${PROFD_BIN:?}
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }
PY=$(command -v python3) || { echo "SKIP: python3 is not installed"; exit 0; }
TMP=$(mktemp -d /tmp/profd-sample-app.XXXXXX)
APP_PID= SERVE_PID=
cleanup() {
    for p in $SERVE_PID $APP_PID; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$TMP/serve.log" ] && tail -20 "$TMP/serve.log"; exit 1; }

"$PY" -u "$SRC/deploy/app/app.py" > "$TMP/app.log" 2>&1 &
APP_PID=$!
SECRET=sample-app-test-secret
PROFD_JWT_SECRET=$SECRET PROFD_LISTEN=127.0.0.1:0 PROFD_TARGETS="$SRC/deploy/targets.json" \
    PROFD_STORAGE="file://$TMP/data" PROFD_SPOOL_DIR="$TMP/spool" PROFD_DURATION_MIN=1 \
    PROFD_LOG_FORMAT=text "$PROFD" serve > "$TMP/serve.log" 2>&1 &
SERVE_PID=$!
PORT=
for _ in $(seq 1 100); do
    PORT=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$TMP/serve.log" | head -1)
    [ -n "$PORT" ] && break
    sleep 0.05
done
[ -n "$PORT" ] || fail "profd serve did not start"
TOKEN=$("$PROFD" api token --sub sample-app-test --secret "$SECRET")
API=http://127.0.0.1:$PORT/api/v1/monitoring/profile
AUTH=(-H "Authorization: Bearer $TOKEN")

curl -sS "${AUTH[@]}" -H 'Content-Type: application/json' -X POST "$API/start" \
    -d '{"service_name": "web-api", "duration_seconds": 2}' > "$TMP/start.json"
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["session_id"])' "$TMP/start.json") \
    || fail "start refused: $(cat "$TMP/start.json")"
for _ in $(seq 1 100); do
    curl -sS "${AUTH[@]}" "$API/$ID" > "$TMP/session.json"
    STATUS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$TMP/session.json")
    [ "$STATUS" = completed ] || [ "$STATUS" = failed ] && break
    sleep 0.2
done
[ "$STATUS" = completed ] || fail "session $ID ended $STATUS: $(cat "$TMP/session.json")"
PID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$TMP/session.json")
[ "$PID" = "$APP_PID" ] || fail "the capture profiled pid $PID, not the app ($APP_PID)"
STACKS=$TMP/data/sessions/$ID/stacks.txt
[ -s "$STACKS" ] || fail "no stacks.txt stored"
for fn in handle_request compute_report fibonacci; do
    grep -q "$fn" "$STACKS" || fail "$fn is missing from the app's stacks"
done
curl -fsSL "${AUTH[@]}" -o "$TMP/flame.html" "$API/$ID/flamegraph" || fail "GET …/flamegraph"
grep -qi "<html" "$TMP/flame.html" || fail "…/flamegraph did not give the HTML flame graph"
echo "PASS: web-api resolved by deploy/targets.json to pid $PID; $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sample_count"])' "$TMP/session.json") samples"
