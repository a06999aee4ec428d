#!/usr/bin/env bash
# test_api_kafka.sh - `profd api` publishing on Kafka (librdkafka's mock
# cluster over TCP, read back with kcat): a start puts the request on
# profiling.requests keyed by its session id and session.queued on
# profiling.events; a cancel of the queued session puts a cancel request.
set -euo pipefail
PROFD=${PROFD_BIN:?}
SRC=${PROFD_SOURCE_DIR:?}
. "$(dirname "$0")/../support/skip.sh"
need_cmd curl
need_cmd kcat
# shellcheck source=../support/kafka.sh
source "$SRC/tests/support/kafka.sh"
API_PID=""
WORK=$(mktemp -d /tmp/profd-apikafka.XXXXXX)
cleanup() {
    if [ -n "$API_PID" ]; then kill "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true; fi
    kafka_stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$WORK/err" >&2 2>/dev/null || true; exit 1; }
kafka_start --topic profiling.requests:1 --topic profiling.events:1 \
    || skip_provided "kafka_mock unavailable (not built, or it did not start)"

export PROFD_JWT_SECRET=kafka-test-secret PROFD_BUS=kafka PROFD_KAFKA_BROKERS=$KAFKA_BROKERS
export PROFD_REDIS_URL=memory PROFD_STORAGE=file://$WORK/data
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
B="http://127.0.0.1:$PORT/api/v1/monitoring/profile"
"$PROFD" api --listen "127.0.0.1:$PORT" 2> "$WORK/err" &
API_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    kill -0 "$API_PID" 2>/dev/null || fail "profd api exited"
    sleep 0.1
done
TOKEN=$("$PROFD" api token --sub kafka-ci)
R=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" "$B/start" -d '{"service_name":"kafka-svc"}')
ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["session_id"])' "$R") \
    || fail "start: $R"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOKEN" "$B/$ID")" = 202 ] \
    || fail "cancel"

consume() { # topic count
    kcat -C -b "$KAFKA_BROKERS" -t "$1" -o beginning -c "$2" -e -q -f '%k\t%s\n' 2>/dev/null
}
REQS=$(timeout 20 bash -c "$(declare -f consume); KAFKA_BROKERS=$KAFKA_BROKERS consume profiling.requests 2") \
    || fail "requests not on Kafka"
EVENTS=$(timeout 20 bash -c "$(declare -f consume); KAFKA_BROKERS=$KAFKA_BROKERS consume profiling.events 2") \
    || fail "events not on Kafka"
python3 - "$ID" "$REQS" "$EVENTS" <<'PY' || fail "unexpected messages"
import json, sys
sid, reqs, events = sys.argv[1], sys.argv[2].splitlines(), sys.argv[3].splitlines()
msgs = [(k, json.loads(v)) for k, v in (l.split("\t", 1) for l in reqs)]
assert [k for k, _ in msgs] == [sid, sid], msgs
assert msgs[0][1]["type"] == "profile" and msgs[0][1]["session_id"] == sid
assert msgs[0][1]["requested_by"] == "kafka-ci" and msgs[0][1]["trigger"] == "api"
assert msgs[1][1]["type"] == "cancel" and msgs[1][1]["session_id"] == sid
evs = [(k, json.loads(v)) for k, v in (l.split("\t", 1) for l in events)]
assert [e["type"] for _, e in evs] == ["session.queued", "session.failed"], evs
assert evs[1][1]["session"]["error_code"] == "cancelled"
PY
kill -TERM "$API_PID"
wait "$API_PID" || fail "profd api exited non-zero after SIGTERM"
API_PID=""
echo "PASS"
