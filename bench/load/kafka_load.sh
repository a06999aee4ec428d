#!/usr/bin/env bash
# bench/load/kafka_load.sh BUILD_DIR [COUNT] [WORKERS] [CONCURRENCY] [SECONDS]
#
# COUNT requests (default 1000) through the librdkafka mock cluster to WORKERS
# workers (default 3) sharing one Redis, each running up to CONCURRENCY
# captures at once (default 100) of SECONDS each (default 10) with the py-spy
# stand-in. Distinct target processes (sleep) keep the per-target lock out of
# the way. Reports throughput, end-to-end latency percentiles (produced ->
# session completed) and peak RSS per worker, and checks nothing was lost.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
COUNT=${2:-1000}
WORKERS=${3:-3}
CONC=${4:-100}
SECS=${5:-10}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export PROFD_BUILD_DIR=$BUILD PROFD_SOURCE_DIR=$SRC
. "$SRC/tests/support/redis.sh"
. "$SRC/tests/support/kafka.sh"
T=$(mktemp -d /tmp/profd-load.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 $p 2>/dev/null || true; done; kafka_stop >/dev/null 2>&1 || true; redis_stop >/dev/null 2>&1 || true; rm -rf "$T"' EXIT
redis_start >/dev/null
kafka_start --topic profiling.requests:6 --topic profiling.events:1 --topic profiling.requests.dlq:1 >/dev/null
NT=$((WORKERS * CONC))
{
    echo -n "{"
    for i in $(seq 0 $((NT - 1))); do
        sleep 3600 &
        PIDS+=($!)
        [ "$i" -gt 0 ] && echo -n ","
        echo -n "\"bench-$i\":{\"pid\":$!}"
    done
    echo "}"
} >"$T/targets.json"
printf 'consumer.fetch.wait.max.ms=5\n' >"$T/kafka.conf"
for w in $(seq "$WORKERS"); do
    env PROFD_KAFKA_CONFIG="$T/kafka.conf" PROFD_KAFKA_BROKERS="$KAFKA_BROKERS" PROFD_HOST=load \
        PROFD_TARGETS="$T/targets.json" PROFD_STORAGE="file://$T/blobs" PROFD_SPOOL_DIR="$T/spool-$w" \
        PROFD_SAMPLER=py-spy PROFD_PYSPY="$BUILD/tests/pyspy/bin/py-spy" PROFD_DURATION_MIN=1 \
        PROFD_MAX_CONCURRENT="$CONC" PROFD_LEASE_SECONDS=30 PROFD_LOG_LEVEL=info \
        "$BUILD/profd" worker 2>"$T/worker-$w.log" &
    PIDS+=($!)
    echo $! >"$T/worker-$w.pid"
done
for w in $(seq "$WORKERS"); do
    for _ in $(seq 150); do grep -q '"kafka.assigned"' "$T/worker-$w.log" && break; sleep 0.1; done
done
sleep 2
# peak RSS per worker, sampled every 200 ms
( while sleep 0.2; do for w in $(seq "$WORKERS"); do
    awk -v w="$w" '/VmRSS/{print w, $2}' "/proc/$(cat "$T/worker-$w.pid")/status" 2>/dev/null; done; done ) >"$T/rss.txt" &
PIDS+=($!)
start=$(date +%s.%N)
python3 - "$COUNT" "$NT" "$SECS" >"$T/requests.txt" <<'PY'
import sys, uuid
count, nt, secs = map(int, sys.argv[1:])
for i in range(count):
    sid = str(uuid.uuid4())
    print(sid + '\t{"session_id":"%s","service_name":"bench-%d","duration_seconds":%d,"trigger":"cli"}' % (sid, i % nt, secs))
PY
cut -f2 "$T/requests.txt" | kcat -b "$KAFKA_BROKERS" -P -t profiling.requests
echo "produced $COUNT requests in $(python3 -c "import sys,time; print(f'{time.time()-float(sys.argv[1]):.1f}')" "$start") s"
cut -f1 "$T/requests.txt" >"$T/ids.txt"
python3 - "$T/ids.txt" "$REDIS_PORT" "$start" "$COUNT" "$T/rss.txt" "$WORKERS" "$CONC" "$SECS" <<'PY'
import json, socket, sys, time
from datetime import datetime
ids = [l.strip() for l in open(sys.argv[1])]
port, start, count = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
def redis(*args):
    s = socket.create_connection(("127.0.0.1", port))
    out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args))
    s.sendall(out)
    f = s.makefile("rb")
    def read():
        line = f.readline()
        t, rest = line[:1], line[1:-2]
        if t == b"*":
            return [read() for _ in range(int(rest))]
        if t == b"$":
            n = int(rest)
            return None if n < 0 else f.read(n + 2)[:-2].decode()
        return rest.decode()
    r = read(); s.close(); return r
deadline = time.time() + 1800
done = {}
while time.time() < deadline:
    pending = [i for i in ids if i not in done]
    if not pending:
        break
    for k in range(0, len(pending), 200):
        batch = pending[k:k + 200]
        for sid, rec in zip(batch, redis("MGET", *["profd:session:" + i for i in batch])):
            if rec:
                o = json.loads(rec)
                if o["status"] in ("completed", "failed"):
                    done[sid] = o
    time.sleep(0.5)
end = max((datetime.strptime(o["completed_at"][:19], "%Y-%m-%dT%H:%M:%S").timestamp() for o in done.values()), default=start)
lat = sorted(datetime.strptime(o["completed_at"][:19], "%Y-%m-%dT%H:%M:%S").timestamp() + 0.5 - start for o in done.values())
completed = sum(o["status"] == "completed" for o in done.values())
failed = {}
for o in done.values():
    if o["status"] == "failed":
        failed[o["error_code"]] = failed.get(o["error_code"], 0) + 1
p = lambda q: lat[min(len(lat) - 1, int(q / 100 * len(lat)))] if lat else float("nan")
print(f"workers {sys.argv[6]} x concurrency {sys.argv[7]}, {sys.argv[8]} s captures")
print(f"finished {len(done)}/{count}: completed {completed}, failed {failed or 'none'}, lost {count - len(done)}")
print(f"throughput {len(done) / max(1, end - start):.1f} sessions/s over {end - start:.0f} s")
print(f"end-to-end (produced -> completed): p50 {p(50):.1f} s  p90 {p(90):.1f} s  p99 {p(99):.1f} s  (captures alone take {sys.argv[8]} s)")
peak = {}
for line in open(sys.argv[5]):
    w, kb = line.split()
    peak[w] = max(peak.get(w, 0), int(kb))
print("peak RSS per worker: " + ", ".join(f"w{w} {kb / 1024:.1f} MB" for w, kb in sorted(peak.items())))
sys.exit(0 if len(done) == count else 1)
PY
