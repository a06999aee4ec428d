# bench.py - cost of the built-in sampler (`profd sample record`) on a CPU-bound Python target.
#
# Usage: python3 bench/sampler/bench.py [PROFD_BIN] [--runs N] [--python PY ...]
#
# 1. Slowdown: the workload (1 thread, 50 frames deep) runs N times in each of three
#    configurations, interleaved (none, pausing, nonblocking, none, ...): the median wall time of
#    each, its noise band (min..max of the runs), the slowdown of each sampled mode against the
#    unsampled run (median vs median, and best vs best, which is less sensitive to other load on
#    the machine), and the target's own CPU time.
# 2. Sampler cost: 8 threads x 50 frames at 100 Hz in each mode: the sampler's CPU time (user +
#    sys from wait4's rusage) as % of one core over its wall time, and per sample taken (us).
# Prints a table; not a test (nothing is asserted).
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.join(HERE, "workload.py")


def run_once(py, profd, mode, iters, threads, depth, rate=100):
    target = subprocess.Popen([py, WORKLOAD, str(iters), str(threads), str(depth)],
                              stdout=subprocess.PIPE, text=True)
    assert target.stdout.readline().strip() == "ready"
    sampler = None
    if mode:
        args = [profd, "sample", "record", "--pid", str(target.pid), "--rate", str(rate),
                "--duration", "120", "--format", "raw", "-o", "/dev/null", "--idle"]
        if mode == "nonblocking":
            args.append("--nonblocking")
        sampler = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        t_start = time.monotonic()
    elapsed = tuple(float(x) for x in target.stdout.readline().split())
    target.wait()
    if not sampler:
        return elapsed, None
    _, status, ru = os.wait4(sampler.pid, 0)
    wall = time.monotonic() - t_start
    err = sampler.stderr.read()
    sampler.returncode = os.waitstatus_to_exitcode(status)
    m = re.search(r"(\d+) samples taken", err)
    taken = int(m.group(1)) if m else 0
    m = re.search(r"([\d.]+) us per sample", err)
    read_us = float(m.group(1)) if m else 0.0
    cpu = ru.ru_utime + ru.ru_stime
    return elapsed, {"cpu": cpu, "wall": wall, "taken": taken, "read_us": read_us}


def slowdown(py, profd, runs, iters):
    walls = {"none": [], "pausing": [], "nonblocking": []}
    cpus = {"none": [], "pausing": [], "nonblocking": []}
    per_sample = {"none": [0.0], "pausing": [], "nonblocking": []}
    for _ in range(runs):
        for mode in walls:
            (wall, cpu), s = run_once(py, profd, None if mode == "none" else mode, iters, 1, 50)
            walls[mode].append(wall)
            cpus[mode].append(cpu)
            if s:
                per_sample[mode].append(s["read_us"])
    base, base_min = statistics.median(walls["none"]), min(walls["none"])
    rows = []
    for mode, ts in walls.items():
        med = statistics.median(ts)
        cpu, base_cpu = statistics.median(cpus[mode]), statistics.median(cpus["none"])
        rows.append((mode, med, min(ts), max(ts), 100.0 * (med - base) / base,
                     100.0 * (min(ts) - base_min) / base_min, cpu,
                     100.0 * (cpu - base_cpu) / base_cpu, statistics.median(per_sample[mode])))
    return rows


def cost(py, profd, iters):
    rows = []
    for mode in ("pausing", "nonblocking"):
        _, s = run_once(py, profd, mode, iters, 8, 50)
        rows.append((mode, 100.0 * s["cpu"] / s["wall"], 1e6 * s["cpu"] / max(s["taken"], 1),
                     s["read_us"], s["taken"]))
    return rows


def main():
    argv = sys.argv[1:]
    profd = argv.pop(0) if argv and not argv[0].startswith("--") else os.path.join(
        HERE, "..", "..", "build", "profd")
    runs, pys = 5, []
    while argv:
        a = argv.pop(0)
        if a == "--runs":
            runs = int(argv.pop(0))
        elif a == "--python":
            pys.append(argv.pop(0))
    pys = pys or ["/usr/bin/python3"]
    for py in pys:
        ver = subprocess.run([py, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
        print("\n## CPython %s (%s), %d interleaved runs per mode, 100 Hz" % (ver, py, runs))
        print("\n| 1 thread x 50 frames | median wall s | band (min..max) s | slowdown (median) |"
              " slowdown (best) | target CPU s (median) | CPU slowdown | us per sample "
              "(paused / reading) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for (mode, med, lo, hi, slow, slow_min, cpu, cslow,
             us) in slowdown(py, profd, runs, 25_000_000):
            print("| %s | %.3f | %.3f..%.3f | %+.2f %% | %+.2f %% | %.3f | %+.2f %% | %.0f |" % (
                mode, med, lo, hi, slow, slow_min, cpu, cslow, us))
        print("\n| 8 threads x 50 frames | sampler CPU % of a core | sampler CPU us per sample | "
              "us per sample (paused / reading) | pause bound on slowdown | samples |")
        print("| --- | --- | --- | --- | --- | --- |")
        for mode, pct, us, read_us, taken in cost(py, profd, 4_000_000):
            bound = "%.2f %%" % (read_us * 100 / 1e4) if mode == "pausing" else "n/a"
            print("| %s | %.2f %% | %.0f | %.0f | %s | %d |" % (mode, pct, us, read_us, bound,
                                                               taken))


main()
