# lib.sh - shared by the worker's integration tests: services, workers,
# targets, and polling helpers. Each test sources it, calls setup, and relies
# on the EXIT trap to stop everything it started.
set -euo pipefail

: "${PROFD_BIN:?PROFD_BIN must point at the profd binary}"
: "${PROFD_SOURCE_DIR:?}"
: "${PROFD_BUILD_DIR:?}"
SUPPORT="$PROFD_SOURCE_DIR/tests/support"
STANDIN_DIR="$PROFD_BUILD_DIR/tests/pyspy/bin"
# shellcheck source=../support/redis.sh
. "$SUPPORT/redis.sh"
# shellcheck source=../support/kafka.sh
. "$SUPPORT/kafka.sh"
# shellcheck source=../support/skip.sh
. "$SUPPORT/skip.sh"

T=$(mktemp -d /tmp/profd-it.XXXXXX)
PIDS=()

cleanup() {
    local rc=$?
    # Under a wrapper (valgrind: make valgrind), workers get SIGTERM and time
    # to exit, so the wrapper can write its report.
    [ -n "${PROFD_WORKER_WRAPPER:-}" ] && stop_all_gently
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    kafka_stop >/dev/null 2>&1 || true
    redis_stop >/dev/null 2>&1 || true
    if [ $rc -ne 0 ] && [ $rc -ne "$PROFD_SKIP_RC" ]; then
        echo "--- test failed (rc=$rc); worker logs:" >&2
        for f in "$T"/*.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 40 "$f" >&2; }; done
    fi
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT

stop_all_gently() {
    local p end=$((SECONDS + 60))
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
    done
}

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }

# wait_until SECONDS CMD...: poll CMD until it succeeds.
wait_until() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    until "$@"; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.2
    done
}

setup_services() {
    redis_start "$@"
    kafka_start
    export PROFD_REDIS_URL KAFKA_BROKERS
    export PROFD_KAFKA_BROKERS="$KAFKA_BROKERS"
    export PROFD_STORAGE="file://$T/blobs"
    export PROFD_SPOOL_DIR="$T/spool"
    export PROFD_SAMPLER=py-spy PROFD_PYSPY="$STANDIN_DIR/py-spy"
    export PROFD_DURATION_MIN=1 PROFD_LEASE_SECONDS=3 PROFD_SHUTDOWN_GRACE=5
    export PROFD_LOG_FORMAT=json PROFD_LOG_LEVEL=debug
    export PROFD_KAFKA_CONFIG="$T/kafka.conf"
    # Short group timings so the mock cluster's rebalances take a second, not ten.
    printf 'session.timeout.ms=6000\nheartbeat.interval.ms=500\ntopic.metadata.refresh.interval.ms=1000\n' >"$PROFD_KAFKA_CONFIG"
}

# start_target NAME: a live Python process the stand-in sampler can "profile";
# records it in the targets file. Sets TARGET_PID.
TARGETS_JSON="{}"
start_target() {
    python3 -c 'import time
while True: time.sleep(0.05)' &
    TARGET_PID=$!
    PIDS+=("$TARGET_PID")
    TARGETS_JSON=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d[sys.argv[2]]={"pid":int(sys.argv[3])}; print(json.dumps(d))' "$TARGETS_JSON" "$1" "$TARGET_PID")
    echo "$TARGETS_JSON" >"$T/targets.json"
    export PROFD_TARGETS="$T/targets.json"
}

# builtin_session SERVICE MIN: a 2 s session of SERVICE (running busy_target.py) completes with
# the built-in sampler, busy_target.py's call chain in stacks.txt, leaf_multiply in the flame
# graph, and more than MIN samples (of 200 expected).
BUSY_TARGET=$(dirname "${BASH_SOURCE[0]}")/busy_target.py
builtin_session() {
    local svc=$1 min=$2 id stacks count
    id=$(uuid)
    produce "$(request "$id" "$svc" 2)" "$id"
    wait_until 40 finished "$id" || fail "$svc: session stuck at $(field "$id" status)"
    [ "$(field "$id" status)" = completed ] ||
        fail "$svc: session $(field "$id" status): $(field "$id" error_message)"
    case "$(field "$id" sampler)" in profd-builtin*) ;; *) fail "$svc: sampler is $(field "$id" sampler)" ;; esac
    stacks="$T/blobs/sessions/$id/stacks.txt"
    grep -q 'outer_loop ([^)]*busy_target.py:[0-9]*);middle_layer ([^)]*:[0-9]*);leaf_multiply' "$stacks" ||
        fail "$svc: the call chain outer_loop;middle_layer;leaf_multiply is not in stacks.txt"
    grep -q leaf_multiply "$T/blobs/sessions/$id/flamegraph.html" || fail "$svc: flamegraph.html lacks leaf_multiply"
    count=$(field "$id" sample_count)
    [ "$count" -gt "$min" ] || fail "$svc: only $count samples in 2 s at 100 Hz"
    note "$svc: $count samples, chain outer_loop;middle_layer;leaf_multiply found"
}

# start_worker NAME [VAR=VALUE...]: a worker in the background, log in $T/NAME.log.
# PROFD_WORKER_WRAPPER (a command, split on spaces) runs it, e.g. under valgrind.
start_worker() {
    local name=$1; shift
    # shellcheck disable=SC2086
    env PYSPY_STANDIN_LOG="$T/$name.standin" "$@" ${PROFD_WORKER_WRAPPER:-} "$PROFD_BIN" worker >"$T/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    eval "WORKER_${name//-/_}=$pid"
    wait_until 20 grep -q '"worker.started"' "$T/$name.log" || fail "worker $name did not start"
}

stop_worker() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# produce JSON [KEY]: one message on the request topic through kcat.
produce() {
    printf '%s' "$1" >"$T/msg.json"
    kcat -b "$KAFKA_BROKERS" -P -t "${PROFD_REQUEST_TOPIC:-profiling.requests}" ${2:+-k "$2"} "$T/msg.json"
}

request() { # request ID SERVICE DURATION [HOST]
    local host=null
    [ -n "${4:-}" ] && host="\"$4\""
    printf '{"version":1,"type":"profile","session_id":"%s","service_name":"%s","duration_seconds":%s,"rate_hz":100,"host":%s,"trigger":"cli","requested_by":"it"}' \
        "$1" "$2" "$3" "$host"
}

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# field ID NAME: a field of the stored session record ("" when absent).
field() {
    rcli GET "profd:session:$1" | python3 -c 'import json,sys
t=sys.stdin.read().strip()
v=json.loads(t).get(sys.argv[1]) if t else None
print("" if v is None else v)' "$2"
}

status_is() { [ "$(field "$1" status)" = "$2" ]; }
finished() { local s; s=$(field "$1" status); [ "$s" = completed ] || [ "$s" = failed ]; }

# events TOPIC: every message on a topic, one per line (key, headers, value).
consume_all() {
    kcat -b "$KAFKA_BROKERS" -C -t "$1" -o beginning -e -q -f '%k\t%h\t%s\n' 2>/dev/null || true
}

uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }
