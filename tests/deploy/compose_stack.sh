#!/usr/bin/env bash
# compose_stack.sh [kafka|pubsub] - the compose stack's api and worker, run
# outside Docker with exactly the environment docker-compose gives them
# (tests/deploy/compose_env.py on `PROFD_BUS=BUS docker-compose config`), their
# service names pointed at local stand-ins:
#   kafka:9092   -> librdkafka's mock cluster (tests/support/kafka_mock, real protocol)
#   pubsub:8085  -> Google's Pub/Sub emulator, set up by deploy/init-gcp.sh pubsub
#                   (the compose stack's gcp-init), whose subscription must carry
#                   the documented dead-letter policy; a second run is a no-op
#   redis:6379   -> a real redis-server
#   gcs:4443     -> tests/blob/gcs_server.py (the GCS JSON API subset profd uses)
# plus deploy/app/app.py as the app, and deploy/targets.json where the compose
# file mounts it. Then deploy/try.sh, the documented quick start, must save a
# flame graph of the app; the worker's compose healthcheck URL must answer and
# its /metrics count the session.
# Test-only overrides: PROFD_DURATION_MIN=1 (a 2 s capture), the listen
# addresses (free loopback ports), and PROFD_SAMPLER=builtin when py-spy is not
# installed (the image has py-spy).
set -euo pipefail
SRC=${PROFD_SOURCE_DIR:?}
PROFD=${PROFD_BIN:?}
BUILD=${PROFD_BUILD_DIR:?}
. "$(dirname "$0")/../support/skip.sh"
need_cmd docker-compose
python3 -c 'import yaml' 2>/dev/null || skip_provided "python3-yaml is not installed"
need_cmd redis-server
need_cmd curl
BUS=${1:-kafka}
EMU=/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator
case "$BUS" in
    kafka) [ -x "$BUILD/tests/support/kafka_mock" ] || skip_provided "kafka_mock is not built ($BUILD/tests/support/kafka_mock)" ;;
    pubsub) [ -x "$EMU" ] || skip_optional "the Pub/Sub emulator is not installed ($EMU)" ;;
    *) echo "usage: compose_stack.sh [kafka|pubsub]"; exit 2 ;;
esac

TMP=$(mktemp -d /tmp/profd-compose-stack.XXXXXX)
PIDS=()
cleanup() {
    # SIGKILL: a graceful worker stop would wait out the mock coordinator's
    # rebalance (session.timeout.ms, 45 s by default); shutdown is tested in
    # tests/integration, not here. Samplers die with the worker (PDEATHSIG).
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    kafka_stop 2>/dev/null || true
    redis_stop 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    for f in api worker gcs; do [ -f "$TMP/$f.log" ] && { echo "--- $f.log"; tail -15 "$TMP/$f.log"; }; done
    exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

. "$SRC/tests/support/redis.sh"
. "$SRC/tests/support/kafka.sh"
redis_start || fail "redis-server did not start"
SWAPS=("redis://redis:6379=redis://127.0.0.1:$REDIS_PORT")
if [ "$BUS" = kafka ]; then
    kafka_start || fail "kafka_mock did not start"
    SWAPS+=("kafka:9092=$KAFKA_BROKERS")
else
    PS_PORT=$(free_port)
    "$EMU" --host=127.0.0.1 --port="$PS_PORT" > "$TMP/pubsub.log" 2>&1 &
    PIDS+=($!)
    SWAPS+=("pubsub:8085=127.0.0.1:$PS_PORT")
fi
python3 "$SRC/tests/blob/gcs_server.py" > "$TMP/gcs.port" 2> "$TMP/gcs.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$TMP/gcs.port" ] && break; sleep 0.05; done
GCS_PORT=$(head -1 "$TMP/gcs.port")
[ -n "$GCS_PORT" ] || fail "gcs_server.py did not start"

(cd "$SRC" && unset PROFD_JWT_SECRET && PROFD_BUS=$BUS docker-compose -f docker-compose.yml config) \
    > "$TMP/resolved.yml" || fail "docker-compose config"
SWAPS+=("gcs:4443=127.0.0.1:$GCS_PORT")
mapfile -d '' API_ENV < <(python3 "$SRC/tests/deploy/compose_env.py" "$TMP/resolved.yml" api "$SRC" "${SWAPS[@]}")
mapfile -d '' WORKER_ENV < <(python3 "$SRC/tests/deploy/compose_env.py" "$TMP/resolved.yml" worker "$SRC" "${SWAPS[@]}")
[ ${#API_ENV[@]} -gt 5 ] && [ ${#WORKER_ENV[@]} -gt 5 ] || fail "no environment read from the compose file"
printf '%s\n' "${WORKER_ENV[@]}" | grep -qx "PROFD_TARGETS=$SRC/deploy/targets.json" \
    || fail "the worker's PROFD_TARGETS is not the mounted deploy/targets.json"
printf '%s\n' "${WORKER_ENV[@]}" | grep -qx "PROFD_BUS=$BUS" || fail "PROFD_BUS=$BUS did not reach the worker"

if [ "$BUS" = pubsub ]; then
    # gcp-init's Pub/Sub half, with the project and names compose gives it.
    PROJECT=$(printf '%s\n' "${WORKER_ENV[@]}" | sed -n 's/^GOOGLE_CLOUD_PROJECT=//p')
    INIT=(env "PUBSUB_URL=http://127.0.0.1:$PS_PORT" "GOOGLE_CLOUD_PROJECT=$PROJECT" sh "$SRC/deploy/init-gcp.sh")
    "${INIT[@]}" pubsub > "$TMP/init1" 2>&1 || { cat "$TMP/init1"; fail "init-gcp.sh pubsub"; }
    BASE=http://127.0.0.1:$PS_PORT/v1/projects/$PROJECT
    curl -fsS "$BASE/subscriptions/profiling-requests-workers" > "$TMP/sub.json" || fail "no subscription"
    python3 - "$TMP/sub.json" "$PROJECT" <<'PY' || fail "the subscription is not as docs/deploy.md says"
import json, sys
s, p = json.load(open(sys.argv[1])), "projects/" + sys.argv[2]
assert s["topic"] == p + "/topics/profiling.requests", s
assert s["ackDeadlineSeconds"] == 60, s
dl = s.get("deadLetterPolicy") or {}
assert dl.get("deadLetterTopic") == p + "/topics/profiling.requests.dlq", s
assert dl.get("maxDeliveryAttempts") == 10, s
PY
    for t in profiling.requests profiling.requests.dlq profiling-events; do
        curl -fsS -o /dev/null "$BASE/topics/$t" || fail "topic $t was not created"
    done
    "${INIT[@]}" pubsub > "$TMP/init2" 2>&1 || { cat "$TMP/init2"; fail "a second init-gcp.sh run failed"; }
    grep -q -- "-> 409" "$TMP/init2" || fail "the second init-gcp.sh run did not find its resources in place"
    if "${INIT[@]}" nonsense >/dev/null 2>&1; then fail "init-gcp.sh accepted an unknown step"; fi
    echo "ok: init-gcp.sh made the topics and the dead-lettering subscription; a second run is a no-op"
fi
API_PORT=$(free_port)
METRICS_PORT=$(free_port)
SAMPLER=()
command -v py-spy >/dev/null || SAMPLER=(PROFD_SAMPLER=builtin)

python3 -u "$SRC/deploy/app/app.py" > "$TMP/app.log" 2>&1 &
APP_PID=$!
PIDS+=("$APP_PID")
env "${API_ENV[@]}" PROFD_LISTEN=127.0.0.1:$API_PORT PROFD_DURATION_MIN=1 \
    "$PROFD" api > "$TMP/api.log" 2>&1 &
PIDS+=($!)
env "${WORKER_ENV[@]}" PROFD_METRICS_LISTEN=127.0.0.1:$METRICS_PORT PROFD_DURATION_MIN=1 \
    PROFD_SPOOL_DIR="$TMP/spool" "${SAMPLER[@]}" "$PROFD" worker > "$TMP/worker.log" 2>&1 &
PIDS+=($!)

# The compose healthchecks: the api's (Dockerfile) and the worker's (compose file).
for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$API_PORT/healthz" 2>/dev/null \
        && curl -fsS -o /dev/null "http://127.0.0.1:$METRICS_PORT/healthz" 2>/dev/null && break
    sleep 0.05
done
curl -fsS -o /dev/null "http://127.0.0.1:$API_PORT/readyz" || fail "the api is not ready"
curl -fsS -o /dev/null "http://127.0.0.1:$METRICS_PORT/healthz" || fail "the worker's healthcheck URL does not answer"

SECRET=$(printf '%s\n' "${API_ENV[@]}" | sed -n 's/^PROFD_JWT_SECRET=//p')
TOKEN=$("$PROFD" api token --sub compose-test --secret "$SECRET")
(cd "$TMP" && TOKEN=$TOKEN API_URL=http://127.0.0.1:$API_PORT bash "$SRC/deploy/try.sh" 2 flame.html) \
    > "$TMP/try.out" 2>&1 || { cat "$TMP/try.out"; fail "deploy/try.sh"; }
cat "$TMP/try.out"
grep -qi "<html" "$TMP/flame.html" || fail "try.sh did not save an HTML flame graph"
for fn in handle_request fibonacci; do
    grep -q "$fn" "$TMP/flame.html" || fail "$fn is not in the flame graph"
done
curl -fsS -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$API_PORT/api/v1/monitoring/profile?service_name=web-api" > "$TMP/list.json"
PID=$(python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); print(l[0]["pid"] if len(l) == 1 else "?")' \
    "$TMP/list.json")
[ "$PID" = "$APP_PID" ] || fail "the session profiled pid $PID, not the app ($APP_PID): $(cat "$TMP/list.json")"
curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" > "$TMP/metrics"
grep -q '^profd_sessions_finished_total{status="completed"} 1$' "$TMP/metrics" \
    || { cat "$TMP/metrics"; fail "the worker's /metrics did not count the completed session"; }
grep -q '^profd_bytes_stored_total [1-9]' "$TMP/metrics" || fail "the worker's /metrics counted no stored bytes"
echo "PASS: compose api+worker settings on $BUS, local stand-ins: try.sh saved a flame graph of web-api"
