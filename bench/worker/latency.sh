#!/usr/bin/env bash
# bench/worker/latency.sh BUILD_DIR [COUNT] [RATE]
#
# Latency from a request being produced to its sampler being spawned, over
# COUNT requests (default 1000) at RATE per second (default 200), through the
# librdkafka mock cluster and a real redis-server. The py-spy stand-in exits
# at once (exit mode after 0 samples) and logs its start time; $TARGETS (200)
# target processes and PROFD_MAX_CONCURRENT=${BENCH_MAX_CONCURRENT:-64} keep any
# request from waiting for a slot or a target lock. The latency is split into
# legs: bus (produced -> session recorded), worker (recorded -> capture
# started) and spawn (capture started -> the sampler's first instruction).
# Then the worker's RSS fresh and after the burst, and its CPU over 10 idle s.
#
# Two settings stand in for production, and are why the figures are the
# worker's own (docs/worker.md, "Latency and footprint"):
#   - consumer.fetch.wait.max.ms=5: a real broker answers a waiting fetch as
#     soon as data arrives; the mock answers only when the wait runs out, so
#     with the default 500 ms every delivery would wait that long.
#   - the spool and the file blob store live in $BENCH_DIR (default /dev/shm).
#     The stand-in exits at once, so 200 captures finish every second, each
#     writing and fsync'ing its files: on this VM's disk that I/O, not the
#     worker, can set the tail (p99 10-25 ms across runs). BENCH_DIR=/tmp
#     measures it on disk.
# BENCH_KEEP=DIR keeps the logs and timings.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
COUNT=${2:-1000}
RATE=${3:-200}
TARGETS=${TARGETS:-200}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export PROFD_BUILD_DIR=$BUILD PROFD_SOURCE_DIR=$SRC
. "$SRC/tests/support/redis.sh"
. "$SRC/tests/support/kafka.sh"
T=$(mktemp -d "${BENCH_DIR:-/dev/shm}/profd-bench.XXXXXX")
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 $p 2>/dev/null || true; done; kafka_stop >/dev/null 2>&1 || true; redis_stop >/dev/null 2>&1 || true; [ -n "${BENCH_KEEP:-}" ] && cp -r "$T" "$BENCH_KEEP"; rm -rf "$T"' EXIT

redis_start >/dev/null
kafka_start >/dev/null
echo -n "{" >"$T/targets.json"
for i in $(seq 0 $((TARGETS - 1))); do
    sleep 3600 &
    PIDS+=($!)
    [ "$i" -gt 0 ] && echo -n "," >>"$T/targets.json"
    echo -n "\"bench-$i\":{\"pid\":$!}" >>"$T/targets.json"
done
echo "}" >>"$T/targets.json"

# start_worker HOST KAFKA_CONFIG LOG: one worker in the background; its pid in $STARTED.
start_worker() {
    env PROFD_KAFKA_CONFIG="$2" PROFD_KAFKA_BROKERS="$KAFKA_BROKERS" PROFD_HOST="$1" PROFD_TARGETS="$T/targets.json" \
        PROFD_STORAGE="file://$T/blobs" PROFD_SPOOL_DIR="$T/spool" PROFD_SAMPLER=py-spy \
        PROFD_PYSPY="$BUILD/tests/pyspy/bin/py-spy" PYSPY_STANDIN_MODE=exit PYSPY_STANDIN_EXIT_AFTER=0 \
        PYSPY_STANDIN_LOG="$T/spawn.log" PROFD_DURATION_MIN=1 PROFD_MAX_CONCURRENT=${BENCH_MAX_CONCURRENT:-64} \
        PROFD_LOG_LEVEL=info "$BUILD/profd" worker 2>"$3" &
    STARTED=$!
    PIDS+=($STARTED)
    for _ in $(seq 1 100); do # until the consumer group has assigned the partitions
        grep -q '"kafka.assigned"' "$3" && break
        sleep 0.1
    done
}
# cpu_percent PID SECONDS: its CPU use over that long, in % of one core.
cpu_percent() {
    local c0 c1
    c0=$(awk '{print $14+$15}' /proc/$1/stat)
    sleep "$2"
    c1=$(awk '{print $14+$15}' /proc/$1/stat)
    python3 -c "import sys; print(f'{(int(sys.argv[2])-int(sys.argv[1]))/int(sys.argv[3])/int(sys.argv[4])*100:.2f}')" \
        "$c0" "$c1" "$(getconf CLK_TCK)" "$2"
}

printf 'consumer.fetch.wait.max.ms=5\n' >"$T/kafka.conf"
start_worker bench "$T/kafka.conf" "$T/worker.log"
WORKER=$STARTED
sleep 1
rss_fresh=$(awk '/VmRSS/{print $2}' /proc/$WORKER/status)

"$BUILD/bench/worker/produce" "$KAFKA_BROKERS" profiling.requests "$COUNT" "$RATE" "$TARGETS" \
    >"$T/produced.txt" 2>"$T/produce.err"
for _ in $(seq 1 100); do
    [ "$(wc -l <"$T/spawn.log" 2>/dev/null || echo 0)" -ge "$COUNT" ] && break
    sleep 0.2
done

python3 - "$T" "$COUNT" "$RATE" <<'PY'
import json, re, sys
from datetime import datetime
d, count, rate = sys.argv[1:4]
def pct(v, p):
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v))) - 1))]
def ts(o):
    return datetime.strptime(o["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
queued, started = {}, {}
for line in open(d + "/worker.log"):
    try: o = json.loads(line)
    except ValueError: continue
    if o.get("event") == "session.queued": queued[o["session_id"]] = ts(o)
    if o.get("event") == "capture.started": started[o["session_id"]] = ts(o)
rows = [l.split() for l in open(d + "/produced.txt")]
mono = {r[0]: float(r[1]) for r in rows}
wall = {r[0]: float(r[2]) for r in rows}
to_wall = sum(wall[k] - mono[k] for k in mono) / len(mono)
spawned = {}
for line in open(d + "/spawn.log"):
    m = re.search(r'/([0-9a-f-]{36})/raw\.txt', line)
    if m and m.group(1) in mono:
        spawned[m.group(1)] = float(line.split()[0])
if not spawned:
    sys.exit("no sampler was spawned")
def leg(name, a, b, shift=0.0):
    v = sorted((b[k] + shift - a[k]) * 1000 for k in a if k in b)
    if v:
        print(f"{name:44s} p50 {pct(v,50):6.2f} ms  p90 {pct(v,90):6.2f} ms  p99 {pct(v,99):6.2f} ms  max {v[-1]:6.2f} ms")
print(f"requests: {count} at {rate}/s, spawned: {len(spawned)}")
leg("produced -> sampler spawned (target p99 20)", mono, spawned)
leg("  bus: produced -> recorded by the worker", wall, queued)
leg("  worker: recorded -> capture started", queued, started)
leg("  spawn: capture started -> sampler running", started, spawned, to_wall)
PY
cat "$T/produce.err"

sleep 3
cpu=$(cpu_percent $WORKER 10)
rss=$(awk '/VmRSS/{print $2}' /proc/$WORKER/status)
python3 -c "import sys; f,r=map(int,sys.argv[1:3]); print(f'idle worker: RSS {f/1024:.1f} MB fresh, {r/1024:.1f} MB after the burst (target <= 15 MB); CPU {sys.argv[3]}% of a core over 10 s')" \
    "$rss_fresh" "$rss" "$cpu"
# The idle CPU above includes asking the mock for data every 5 ms. A second
# worker with librdkafka's default 500 ms fetch wait idles as it would against
# a real broker, which holds the fetch. It is a group of its own, so it first
# reads the burst's requests (all finished: nothing to do), then idles.
: >"$T/default.conf"
start_worker idle "$T/default.conf" "$T/idle.log"
sleep 10
echo "idle worker with the default fetch wait: CPU $(cpu_percent $STARTED 20)% of a core over 20 s"
