# bench.py - what a memory session costs the target (docs/memory.md).
#
# Usage: python3 bench/memory/bench.py [PROFD_BIN] [--window S] [--python NAME]
#
# For each workload (alloc-heavy and compute-only; paced at a fixed request rate, and
# saturated), a CPython 3.14 target from the sid root (tests/support/pythons.sh's manifest)
# runs workload.py, timing every request itself. `profd sample memory` captures it for
# --window seconds (default 10) after a baseline of the same length. Printed per workload:
#   truth      the target's own CPU time per request during the window against the window
#              just before it, minus 1 (what tracemalloc really costs each request); and, when
#              saturated, its requests per second during against before;
#   reported   the overhead_percent profd computed for the session: the target's CPU-time rate
#              during the capture against the baseline (process CPU from /proc, all threads,
#              including the snapshot at the end).
# Both come from the same run. Not a test: nothing is asserted.
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def manifest_python(name):
    path = os.path.join(os.environ.get("PROFD_PYTHONS", "/opt/profd-pythons"), "manifest.tsv")
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if f[0] == name:
            return f[2], f[3]
    sys.exit("bench: %s is not in %s (scripts/provision-pythons.sh)" % (name, path))


def one(profd, py, root, kind, pace, window):
    run = tempfile.mkdtemp(prefix="profd-bench-", dir=os.path.join(root, "tmp"))
    os.chmod(run, 0o755)
    shutil.copy(os.path.join(HERE, "workload.py"), run)
    inside = run[len(root):]
    seconds = 2 * window + 25
    target = subprocess.Popen(["chroot", root, py, inside + "/workload.py", kind, str(pace),
                               str(seconds), inside + "/records.txt"],
                              stdout=subprocess.PIPE, text=True)
    assert target.stdout.readline().strip() == "ready"
    time.sleep(2)
    summary = os.path.join(run, "summary.json")
    cap = subprocess.Popen([profd, "sample", "memory", "--pid", str(target.pid), "--duration",
                            str(window), "--baseline", str(window), "-o", os.path.join(run, "stacks"),
                            "--summary", summary], stderr=subprocess.PIPE, text=True)
    start = None
    while cap.poll() is None:  # the window begins when the script has removed itself
        dirs = [d for d in os.listdir(os.path.join(root, "tmp")) if d.startswith("profd-memory.")]
        for d in dirs:
            if start is None and not os.path.exists(os.path.join(root, "tmp", d, "capture.py")):
                start = time.monotonic()
        time.sleep(0.02)
    stop = time.monotonic()
    err = cap.stderr.read()
    target.wait()
    if cap.returncode != 0 or start is None:
        sys.exit("bench: capture failed (%s): %s" % (cap.returncode, err))
    s = json.load(open(summary))
    recs = [tuple(map(float, l.split())) for l in open(os.path.join(run, "records.txt")) if l.strip()]
    shutil.rmtree(run)
    span = stop - start
    before = [c for t, c in recs if start - span <= t < start]
    during = [c for t, c in recs if start <= t < stop]
    truth = statistics.mean(during) / statistics.mean(before) - 1
    rate = (len(during) / span) / (len(before) / span) - 1
    return {"truth_cpu_per_request": 100 * truth, "requests_per_s": 100 * rate,
            "reported": s["overhead_percent"], "before_n": len(before), "during_n": len(during),
            "base_rate": s["baseline_cpu_rate"], "capture_rate": s["capture_cpu_rate"]}


def main():
    args = sys.argv[1:]
    profd = args.pop(0) if args and not args[0].startswith("--") else "build/profd"
    window, name = 10, "3.14"
    while args:
        a = args.pop(0)
        if a == "--window":
            window = int(args.pop(0))
        elif a == "--python":
            name = args.pop(0)
    py, root = manifest_python(name)
    print("CPython %s from %s, window %d s, baseline %d s" % (name, root, window, window))
    print("%-8s %-10s %10s %10s %12s %10s %10s" % ("kind", "pace", "truth %", "req/s %",
                                                    "reported %", "cpu before", "cpu during"))
    for kind in ("alloc", "compute"):
        for pace in (100, 0):
            r = one(profd, py, root, kind, pace, window)
            rep = "n/a" if r["reported"] is None else "%.1f" % r["reported"]
            print("%-8s %-10s %10.1f %10.1f %12s %10.2f %10.2f" % (
                kind, "%d/s" % pace if pace else "saturated", r["truth_cpu_per_request"],
                r["requests_per_s"], rep, r["base_rate"], r["capture_rate"]), flush=True)


main()
