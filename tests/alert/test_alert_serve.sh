#!/usr/bin/env bash
# test_alert_serve.sh - an alert through the real binary, end to end: `profd
# serve` (API + worker in one process) gets an Alertmanager notification with
# basic auth, queues a capture of a real spinning Python process (py-spy
# stand-in), and the session completes with trigger alert, the alert's labels
# and a flame graph; a Cloud Monitoring incident for the same service with
# ?auth_token= is then held off by the cooldown; the secret never reaches the
# logs.
set -euo pipefail
PROFD=${PROFD_BIN:?}
SRC=${PROFD_SOURCE_DIR:?}
PYSPY="${PROFD_BUILD_DIR:?}/tests/pyspy/bin/py-spy"
WORK=$(mktemp -d /tmp/profd-alert-serve.XXXXXX)
SERVE_PID=""
BUSY_PID=""
cleanup() {
    if [ -n "$BUSY_PID" ]; then kill "$BUSY_PID" 2>/dev/null || true; wait "$BUSY_PID" 2>/dev/null || true; fi
    if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$WORK/err" ] && tail -20 "$WORK/err" >&2; exit 1; }
. "$(dirname "$0")/../support/skip.sh"
need_cmd curl
[ -x "$PYSPY" ] || skip_provided "the py-spy stand-in is not built ($PYSPY)"

SECRET="alert-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -c 'import time
while True: sum(i * i for i in range(1000))' &
BUSY_PID=$!
printf '{"web-api": {"pid": %d}}\n' "$BUSY_PID" > "$WORK/targets.json"
cd "$WORK"
env -u PROFD_JWT_SECRET -u PROFD_JWT_PUBLIC_KEY -u PROFD_REDIS_URL \
    PROFD_TARGETS="$WORK/targets.json" PROFD_STORAGE="file://$WORK/data" \
    PROFD_SAMPLER=py-spy PROFD_PYSPY="$PYSPY" PYSPY_STANDIN_LOG="$WORK/standin.log" \
    PROFD_DURATION_MIN=1 PROFD_ALERT_DURATION=2 PROFD_ALERT_TOKEN="$SECRET" \
    PROFD_LOG_FORMAT=json PROFD_LOG_LEVEL=debug \
    "$PROFD" serve --listen "127.0.0.1:$PORT" > "$WORK/out" 2> "$WORK/err" &
SERVE_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVE_PID" 2>/dev/null || fail "profd serve exited"
    sleep 0.1
done
# The API answers a moment before serve prints its welcome: wait for the token.
TOKEN=""
for _ in $(seq 1 50); do
    TOKEN=$(sed -n 's/^ *export PROFD_TOKEN=//p' "$WORK/out")
    [ -n "$TOKEN" ] && break
    sleep 0.1
done
[ -n "$TOKEN" ] || fail "no admin token printed"
A="http://127.0.0.1:$PORT/api/v1/monitoring/alerts"
B="http://127.0.0.1:$PORT/api/v1/monitoring/profile"

# The admin JWT is not the webhook secret.
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    --data-binary @"$SRC/tests/alert/fixtures/am_firing.json" "$A/alertmanager")
[ "$CODE" = 401 ] || fail "admin JWT accepted as the alert token ($CODE)"

R=$(curl -s -u "alertmanager:$SECRET" -H 'Content-Type: application/json' \
    --data-binary @"$SRC/tests/alert/fixtures/am_firing.json" -w '\n%{http_code}' "$A/alertmanager")
[ "$(echo "$R" | tail -1)" = 202 ] || fail "alertmanager webhook: $R"
ID=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert len(d["started"])==1, d; print(d["started"][0])' \
    "$(echo "$R" | head -1)") || fail "no capture started: $R"

for _ in $(seq 1 150); do
    S=$(curl -s -H "Authorization: Bearer $TOKEN" "$B/$ID")
    case "$S" in *'"status":"completed"'*|*'"status":"failed"'*) break ;; esac
    sleep 0.1
done
python3 - "$S" "$BUSY_PID" <<'EOF' || fail "session: $S"
import json, sys
s = json.loads(sys.argv[1])
assert s["status"] == "completed", s
assert s["trigger"] == "alert" and s["requested_by"] == "alertmanager", s
assert s["pid"] == int(sys.argv[2]), s
assert s["labels"]["alertname"] == "HighCPU" and s["labels"]["team"] == "payments", s
assert s["duration_seconds"] == 2 and s["sample_count"] > 0, s
EOF
[ -s "$WORK/data/sessions/$ID/flamegraph.html" ] || fail "no flame graph stored"

# Cloud Monitoring, token in the URL: same service, within the cooldown.
R=$(curl -s -H 'Content-Type: application/json' \
    --data-binary @"$SRC/tests/alert/fixtures/gcp_open.json" "$A/gcp?auth_token=$SECRET")
case "$R" in *'"reason":"cooldown"'*'"service":"web-api"'*) ;; *) fail "gcp: $R" ;; esac

M=$(curl -s "http://127.0.0.1:$PORT/metrics")
echo "$M" | grep -q '^profd_alerts_received_total{source="alertmanager"} 1$' || fail "received metric"
echo "$M" | grep -q '^profd_alerts_received_total{source="gcp"} 1$' || fail "gcp received metric"
echo "$M" | grep -q '^profd_alerts_skipped_total{reason="cooldown"} 1$' || fail "cooldown metric"
echo "$M" | grep -q '^profd_sessions_started_total{service="web-api",trigger="alert"} 1$' \
    || fail "started metric"
grep -q '"alert.capture"' "$WORK/err" || fail "no alert.capture log line"
if grep -q "$SECRET" "$WORK/err" "$WORK/out"; then fail "the alert secret appeared in the output"; fi
echo "ok: alert -> capture $ID completed; cooldown held the second notification"
