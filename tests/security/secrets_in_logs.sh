# Secrets never appear in logs: a full `profd serve` run with a JWT secret,
# an alert token and a password-protected Redis, driven through every kind of
# request (good, bad and forged tokens, alert webhooks with the token in each
# of its three forms, a capture to completion), then grep everything profd
# wrote for each secret and for the tokens it was handed.
set -euo pipefail
: "${PROFD_BIN:?}" "${PROFD_SOURCE_DIR:?}"
. "$PROFD_SOURCE_DIR/tests/support/redis.sh"
. "$(dirname "$0")/../support/skip.sh"
need_cmd redis-server
need_cmd redis-cli redis-tools
T=$(mktemp -d /tmp/profd-secrets.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    redis_stop >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

JWT_SECRET="jwt-SECRET-$RANDOM$RANDOM-do-not-log"
ALERT_TOKEN="alert-TOKEN-$RANDOM$RANDOM-do-not-log"
REDIS_PASS="redis-PASS-$RANDOM$RANDOM-do-not-log"
redis_start >/dev/null || fail "redis-server did not start"
redis-cli -p "$REDIS_PORT" CONFIG SET requirepass "$REDIS_PASS" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PY=/usr/bin/python3; [ -x "$PY" ] || PY=$(command -v python3)
"$PY" -c 'import time
def busy():
    while True: sum(i * i for i in range(1000))
busy()' &
PIDS+=($!)
echo "{\"web-api\": {\"pid\": $!}}" >"$T/targets.json"
env PROFD_JWT_SECRET="$JWT_SECRET" PROFD_ALERT_TOKEN="$ALERT_TOKEN" \
    PROFD_REDIS_URL="redis://:$REDIS_PASS@127.0.0.1:$REDIS_PORT/0" PROFD_LISTEN="127.0.0.1:$PORT" \
    PROFD_TARGETS="$T/targets.json" PROFD_STORAGE="file://$T/data" PROFD_SPOOL_DIR="$T/spool" \
    PROFD_DURATION_MIN=1 PROFD_SAMPLER=builtin PROFD_LOG_LEVEL=debug PROFD_LOG_FORMAT=json \
    "$PROFD_BIN" serve >"$T/serve.out" 2>"$T/serve.err" &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
TOKEN=$("$PROFD_BIN" api token --secret "$JWT_SECRET" --sub tester --role admin)
BAD=$("$PROFD_BIN" api token --secret "not-the-secret" --sub mallory --role admin)
API="http://127.0.0.1:$PORT/api/v1/monitoring"
H=(-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json")
id=$(curl -fsS "${H[@]}" -d '{"service_name":"web-api","duration_seconds":1}' "$API/profile/start" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])')
curl -s -o /dev/null -H "Authorization: Bearer $BAD" "$API/profile/$id"
curl -s -o /dev/null -H "Authorization: Bearer ${TOKEN%?}x" "$API/profile/$id"
curl -s -o /dev/null "${H[@]}" -d '{"service_name":"../etc","duration_seconds":1}' "$API/profile/start"
AM='{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"service":"web-api"}}]}'
curl -s -o /dev/null -H "Authorization: Bearer $ALERT_TOKEN" -d "$AM" "$API/alerts/alertmanager"
curl -s -o /dev/null -u "am:$ALERT_TOKEN" -d "$AM" "$API/alerts/alertmanager"
curl -s -o /dev/null -d "$AM" "$API/alerts/alertmanager?auth_token=$ALERT_TOKEN"
curl -s -o /dev/null -d "$AM" "$API/alerts/alertmanager?auth_token=wrong-$ALERT_TOKEN"
for _ in $(seq 100); do
    st=$(curl -fsS "${H[@]}" "$API/profile/$id" | python3 -c 'import json,sys; o=json.load(sys.stdin); print(o["status"], o["error_message"] or "")')
    case $st in completed*|failed*) break ;; esac
    sleep 0.2
done
[ "$st" = "completed " ] || fail "the capture did not complete ($st)"
kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
lines=$(cat "$T/serve.err" "$T/serve.out" | wc -l)
[ "$lines" -gt 10 ] || fail "only $lines log lines: the run logged too little to prove anything"
for secret in "$JWT_SECRET" "$ALERT_TOKEN" "$REDIS_PASS" "$TOKEN" "$BAD"; do
    if grep -rqF -- "$secret" "$T/serve.err" "$T/serve.out" "$T/data" 2>/dev/null; then
        grep -rF -- "$secret" "$T/serve.err" "$T/serve.out" "$T/data" | head -3 | cut -c1-300 >&2
        fail "a secret or token appears in profd's output: ${secret:0:12}..."
    fi
done
echo "# $lines log lines checked: no JWT secret, alert token, Redis password or bearer token"
echo "1 passed, 0 failed"
