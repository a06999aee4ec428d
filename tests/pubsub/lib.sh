# lib.sh - the worker over Pub/Sub: reuses the Kafka integration tests'
# helpers (tests/integration/lib.sh: redis, targets, workers, polling) and
# replaces Kafka with Google's emulator. Source it, then call setup_pubsub.
set -euo pipefail
: "${PROFD_SOURCE_DIR:?}"
# shellcheck source=../support/pubsub.sh
. "$PROFD_SOURCE_DIR/tests/support/pubsub.sh"
# shellcheck source=../support/skip.sh
. "$PROFD_SOURCE_DIR/tests/support/skip.sh"
# Java and the emulator are not installed by scripts/install-deps.sh: optional.
if ! why=$(pubsub_available 2>&1); then
    skip_optional "$why"
fi
# shellcheck source=../integration/lib.sh
. "$PROFD_SOURCE_DIR/tests/integration/lib.sh"
trap 'rc=$?; pubsub_stop >/dev/null 2>&1 || true; set +e; (exit $rc); cleanup' EXIT

# Redis, the emulator, the topics and subscriptions; the worker environment.
setup_pubsub() {
    redis_start "$@"
    pubsub_start
    export PROFD_BUS=pubsub
    export PROFD_REQUEST_TOPIC=profiling.requests PROFD_DLQ_TOPIC=profiling.requests.dlq
    export PROFD_PUBSUB_EVENT_TOPIC=profiling-events PROFD_PUBSUB_SUBSCRIPTION=profd-workers
    pubsub_topic "$PROFD_REQUEST_TOPIC"
    pubsub_topic "$PROFD_PUBSUB_EVENT_TOPIC"
    pubsub_topic "$PROFD_DLQ_TOPIC"
    pubsub_sub "$PROFD_PUBSUB_SUBSCRIPTION" "$PROFD_REQUEST_TOPIC" 10
    pubsub_sub events-all "$PROFD_PUBSUB_EVENT_TOPIC" 10
    export PROFD_STORAGE="file://$T/blobs"
    export PROFD_SPOOL_DIR="$T/spool"
    export PROFD_SAMPLER=py-spy PROFD_PYSPY="$STANDIN_DIR/py-spy"
    export PROFD_DURATION_MIN=1 PROFD_LEASE_SECONDS=3 PROFD_SHUTDOWN_GRACE=5
    export PROFD_LOG_FORMAT=json PROFD_LOG_LEVEL=debug
    EVENTS="$T/events.jsonl"
    : >"$EVENTS"
}

# ps_produce JSON: one request on the request topic, keyed like profd does.
ps_produce() {
    local id
    id=$(printf '%s' "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("session_id",""))')
    pubsub_publish "$PROFD_REQUEST_TOPIC" "$1" ${id:+session_id=$id}
}

# collect_events: pull what the events subscription has into $EVENTS.
collect_events() { pubsub_pull_all events-all 100 >>"$EVENTS" || true; }

# events_for ID TYPE: how many TYPE events for ID arrived with the attribute
# session_id=ID (pulls first).
events_for() {
    collect_events
    python3 -c 'import json,sys
n=0
for line in open(sys.argv[1]):
    m=json.loads(line); ev=json.loads(m["data"])
    if m["attributes"].get("session_id")==sys.argv[2] and ev["session"]["session_id"]==sys.argv[2] and ev["type"]==sys.argv[3]:
        n+=1
print(n)' "$EVENTS" "$1" "$2"
}
has_events() { [ "$(events_for "$1" "$2")" -ge "${3:-1}" ]; }
