#!/usr/bin/env bash
# bench/worker/latency.sh BUILD_DIR [COUNT] [RATE]
#
# Latency from a request being produced to its sampler being spawned, over
# COUNT requests (default 1000) at RATE per second (default 200), through the
# librdkafka mock cluster and a real redis-server. The py-spy stand-in exits
# at once (exit mode after 0 samples) and logs its start time; $TARGETS (200) target
# processes and PROFD_MAX_CONCURRENT=${BENCH_MAX_CONCURRENT:-64} keep any request from waiting for a
# slot or a target lock. Then the idle worker's RSS and CPU over 10 s.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
COUNT=${2:-1000}
RATE=${3:-200}
TARGETS=${TARGETS:-200}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export PROFD_BUILD_DIR=$BUILD PROFD_SOURCE_DIR=$SRC
. "$SRC/tests/support/redis.sh"
. "$SRC/tests/support/kafka.sh"
T=$(mktemp -d /tmp/profd-bench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 $p 2>/dev/null || true; done; kafka_stop >/dev/null 2>&1 || true; redis_stop >/dev/null 2>&1 || true; [ -n "${BENCH_KEEP:-}" ] && cp -r "$T" "$BENCH_KEEP"; rm -rf "$T"' EXIT

redis_start >/dev/null
kafka_start >/dev/null
echo -n "{" >"$T/targets.json"
for i in $(seq 0 $((TARGETS - 1))); do
    sleep 3600 & PIDS+=($!)
    [ "$i" -gt 0 ] && echo -n "," >>"$T/targets.json"
    echo -n "\"bench-$i\":{\"pid\":$!}" >>"$T/targets.json"
done
echo "}" >>"$T/targets.json"

# The mock broker does not answer a waiting fetch when data arrives (a real broker
# does), so without this every delivery waits out fetch.wait.max.ms (500 ms).
printf 'consumer.fetch.wait.max.ms=5\n' >"$T/kafka.conf"
env PROFD_KAFKA_CONFIG="$T/kafka.conf" PROFD_KAFKA_BROKERS="$KAFKA_BROKERS" PROFD_HOST=bench PROFD_TARGETS="$T/targets.json" \
    PROFD_STORAGE="file://$T/blobs" PROFD_SPOOL_DIR="$T/spool" PROFD_SAMPLER=py-spy \
    PROFD_PYSPY="$BUILD/tests/pyspy/bin/py-spy" PYSPY_STANDIN_MODE=exit PYSPY_STANDIN_EXIT_AFTER=0 \
    PYSPY_STANDIN_LOG="$T/spawn.log" PROFD_DURATION_MIN=1 PROFD_MAX_CONCURRENT=${BENCH_MAX_CONCURRENT:-64} \
    PROFD_LOG_LEVEL=info "$BUILD/profd" worker 2>"$T/worker.log" &
WORKER=$!
PIDS+=($WORKER)
for _ in $(seq 1 100); do # until the consumer group has assigned the partitions
    grep -q '"kafka.assigned"' "$T/worker.log" && break
    sleep 0.1
done
sleep 1

"$BUILD/bench/worker/produce" "$KAFKA_BROKERS" profiling.requests "$COUNT" "$RATE" "$TARGETS" >"$T/produced.txt"
for _ in $(seq 1 100); do
    [ "$(wc -l <"$T/spawn.log" 2>/dev/null || echo 0)" -ge "$COUNT" ] && break
    sleep 0.2
done

python3 - "$T/produced.txt" "$T/spawn.log" "$COUNT" "$RATE" "$T/worker.log" <<'PY'
import json, re, sys
from datetime import datetime
def pct(v, p):
    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v))) - 1))]
def ts(o):
    return datetime.strptime(o["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
queued, started = {}, {}
for line in open(sys.argv[5]):
    try: o = json.loads(line)
    except ValueError: continue
    if o.get("event") == "session.queued": queued[o["session_id"]] = ts(o)
    if o.get("event") == "capture.started": started[o["session_id"]] = ts(o)
inside = sorted((started[k] - queued[k]) * 1000 for k in started if k in queued)
rows = [l.split() for l in open(sys.argv[1])]
produced = {r[0]: r[1] for r in rows}
produced_wall = {r[0]: float(r[2]) for r in rows}
lat = []
for line in open(sys.argv[2]):
    m = re.search(r'/([0-9a-f-]{36})/raw\.txt', line)
    if m and m.group(1) in produced:
        lat.append((float(line.split()[0]) - float(produced[m.group(1)])) * 1000)
lat.sort()
n = len(lat)
if n == 0:
    sys.exit("no sampler was spawned")
print(f"requests: {sys.argv[3]} at {sys.argv[4]}/s, spawned: {n}")
print(f"produce -> spawn latency:   p50 {pct(lat,50):.2f} ms  p90 {pct(lat,90):.2f} ms  p99 {pct(lat,99):.2f} ms  max {lat[-1]:.2f} ms  (target p99 <= 20 ms)")
delivery = sorted((queued[k] - produced_wall[k]) * 1000 for k in queued if k in produced_wall)
if delivery:
    print(f"bus delivery (produced -> recorded by the worker): p50 {pct(delivery,50):.2f} ms  p99 {pct(delivery,99):.2f} ms  max {delivery[-1]:.2f} ms")
if inside:
    print(f"in the worker (recorded -> sampler started): p50 {pct(inside,50):.2f} ms  p99 {pct(inside,99):.2f} ms  max {inside[-1]:.2f} ms")
PY

sleep 3
ticks=$(getconf CLK_TCK)
cpu0=$(awk '{print $14+$15}' /proc/$WORKER/stat)
sleep 10
cpu1=$(awk '{print $14+$15}' /proc/$WORKER/stat)
rss=$(awk '/VmRSS/{print $2}' /proc/$WORKER/status)
python3 -c "import sys; t,c0,c1,r=map(int,sys.argv[1:]); print(f'idle worker: RSS {r/1024:.1f} MB (target <= 15 MB), CPU {(c1-c0)/t/10*100:.2f}% of a core over 10 s')" "$ticks" "$cpu0" "$cpu1" "$rss"
