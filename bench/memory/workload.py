# workload.py - the target of bench/memory/bench.py: one thread doing "requests" and timing
# each one itself.
#
#   workload.py KIND PACE SECONDS OUT
#
# KIND: alloc (each request builds and drops 200 small dicts with strings: allocation-heavy,
# what tracemalloc slows most) or compute (a 3000-term sum of squares: almost no allocation).
# PACE: a number of requests per second (a server under a fixed load; it sleeps between
# requests) or 0 (saturated: back to back). At the end OUT gets one line per request:
# "MONOTONIC_START THREAD_CPU_SECONDS" (time.monotonic is CLOCK_MONOTONIC, comparable with the
# bench's own clock; time.thread_time is this thread's CPU time).
import sys
import time

kind, pace, seconds, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]


def alloc():
    keep = []
    for i in range(200):
        keep.append({"id": i, "name": "item-%d" % i, "tags": ["a", "b", str(i)]})
    return len(keep)


def compute():
    return sum(i * i for i in range(3000))


work = alloc if kind == "alloc" else compute
records = []
print("ready", flush=True)
end = time.monotonic() + seconds
next_at = time.monotonic()
while True:
    now = time.monotonic()
    if now >= end:
        break
    if pace > 0 and now < next_at:
        time.sleep(next_at - now)
        continue
    t0, c0 = time.monotonic(), time.thread_time()
    work()
    records.append("%.6f %.9f" % (t0, time.thread_time() - c0))
    next_at += 1.0 / pace if pace > 0 else 0
with open(out, "w") as f:
    f.write("\n".join(records) + "\n")
