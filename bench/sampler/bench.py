# bench.py - cost of the built-in sampler (`profd sample record`) to its target and to itself.
#
# Usage: python3 bench/sampler/bench.py [PROFD_BIN] [--pairs N] [--python NAME=PATH ...]
#        (PATH may be chroot:ROOT:PATH for an interpreter inside a root filesystem)
#                                       [--rows slowdown,idle,signals,cost]
#
# Wall time on a shared 2-core machine swings by tens of percent from other load alone, more
# than the effects measured here. So the slowdown is measured as the target's own CPU time
# (time.process_time) for a fixed amount of work: it grows only through the sampler's
# interference (ptrace stop/continue work charged to the target, cache and TLB disruption, a
# signal-heavy target's extra wake-ups). Runs are interleaved in pairs (unsampled, sampled) so
# that both halves of a pair see the same load; the row reports the median of the per-pair
# ratios and their spread (min..max), with at least 9 pairs. Wall time is shown beside it, for
# what it is worth here.
#
# Rows, per interpreter, at 100 Hz:
#   slowdown   1 thread x 50 frames, pausing and nonblocking
#   idle       1 busy thread x 50 frames + 100 idle threads (default mode, no --idle)
#   signals    1 thread x 50 frames with a 1 ms SIGALRM timer and Python handler (pausing)
#   cost       8 threads x 50 frames, --idle, nonblocking and pausing: the sampler's CPU time
#              (user + sys from wait4) as % of one core for a whole 12 s capture, and in the
#              steady state: the 12 s capture minus a 2 s one, per extra sample (the fixed
#              cost of attaching and reading symbols is in the first figure only; 3 runs,
#              the median by steady-state cost)
# Targets: slowdown <= 1 % nonblocking, <= 3 % pausing; sampler CPU <= 2 % of a core at
# 8 x 50 on 3.11+ nonblocking. Prints markdown tables; asserts nothing. An interpreter the
# sampler refuses gets a line saying so.
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.join(HERE, "workload.py")
DEFAULT_PYTHONS = [
    ("3.8", "/root/.pyenv/versions/3.8.18/bin/python"),
    ("3.9", "/root/.pyenv/versions/3.9.18/bin/python"),
    ("3.10", "/root/.pyenv/versions/3.10.13/bin/python"),
    ("3.11", "/usr/bin/python3.11"),
    ("3.12", "/root/.pyenv/versions/3.12.1/bin/python"),
    ("3.13", "/root/.pyenv/versions/3.13.0/bin/python"),
    ("3.13t", "/opt/profd-pythons/3.13t/bin/python3.13t"),
    ("3.14", "chroot:/opt/profd-pythons/sid-root:/usr/bin/python3.14"),
    ("3.15", "chroot:/opt/profd-pythons/sid-root:/usr/bin/python3.15"),
]


class Refused(Exception):
    pass


def command(py):
    """How to start the workload: PATH, or chroot:ROOT:PATH for an interpreter inside a root
    filesystem (the Debian sid root of scripts/provision-pythons.sh); chroot execs, so the pid
    is Python's."""
    if not py.startswith("chroot:"):
        return [py, WORKLOAD]
    _, root, inner = py.split(":", 2)
    shutil.copy(WORKLOAD, os.path.join(root, "tmp", "profd-bench-workload.py"))
    return ["chroot", root, inner, "/tmp/profd-bench-workload.py"]


def run_once(py, profd, flags, work, rate=100):
    """One workload run; flags None = unsampled. Returns (wall, cpu, sampler dict or None)."""
    iters, threads, depth, idle, signal_ms = work
    target = subprocess.Popen(command(py) + [str(iters), str(threads), str(depth), str(idle),
                                             str(signal_ms)], stdout=subprocess.PIPE, text=True)
    assert target.stdout.readline().strip() == "ready"
    sampler = None
    if flags is not None:
        args = [profd, "sample", "record", "--pid", str(target.pid), "--rate", str(rate),
                "--duration", "300", "--format", "raw", "-o", "/dev/null"] + flags
        sampler = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        t_start = time.monotonic()
    wall, cpu, _ = target.stdout.readline().split()
    target.wait()
    if not sampler:
        return float(wall), float(cpu), None
    _, status, ru = os.wait4(sampler.pid, 0)
    swall = time.monotonic() - t_start
    err = sampler.stderr.read()
    if "Failed to profile" in err:
        raise Refused(err.strip().splitlines()[-1])
    m = re.search(r"(\d+) samples taken", err)
    taken = int(m.group(1)) if m else 0
    m = re.search(r"([\d.]+) us per sample", err)
    us = float(m.group(1)) if m else 0.0
    return float(wall), float(cpu), {"cpu": ru.ru_utime + ru.ru_stime, "wall": swall,
                                     "taken": taken, "us": us}


def pct(x):
    return "%+.2f %%" % (100 * x)


def pairs(py, profd, flags, work, n):
    """n interleaved (unsampled, sampled) pairs -> CPU ratios, wall ratios, us per sample."""
    cpu_r, wall_r, us = [], [], []
    for _ in range(n):
        w0, c0, _ = run_once(py, profd, None, work)
        w1, c1, s = run_once(py, profd, flags, work)
        cpu_r.append(c1 / c0 - 1)
        wall_r.append(w1 / w0 - 1)
        us.append(s["us"])
    return cpu_r, wall_r, us


def slowdown_rows(py, profd, n, rows):
    one = (2_000_000, 1, 50, 0, 0)
    print("\n| target (100 Hz, %d pairs) | mode | CPU slowdown median | CPU spread (min..max) "
          "| wall slowdown median | us per sample |" % n)
    print("| --- | --- | --- | --- | --- | --- |")
    plan = []
    if "slowdown" in rows:
        plan += [("1 thread x 50", "pausing", [], one),
                 ("1 thread x 50", "nonblocking", ["--nonblocking"], one)]
    if "idle" in rows:
        idle = (2_000_000, 1, 50, 100, 0)
        plan += [("1 busy x 50 + 100 idle", "pausing", [], idle),
                 ("1 busy x 50 + 100 idle", "nonblocking", ["--nonblocking"], idle)]
    if "signals" in rows:
        plan += [("1 x 50, 1 ms SIGALRM", "pausing", [], (2_000_000, 1, 50, 0, 1.0))]
    for label, mode, flags, work in plan:
        c, w, us = pairs(py, profd, flags, work, n)
        print("| %s | %s | %s | %s..%s | %s | %.0f |" % (
            label, mode, pct(statistics.median(c)), pct(min(c)), pct(max(c)),
            pct(statistics.median(w)), statistics.median(us)))
        sys.stdout.flush()


def cost_once(py, profd, flags, seconds):
    """The sampler's CPU time (user + sys, wait4) and samples for one capture of `seconds` of an
    8 threads x 50 frames target that is already running (it is stopped afterwards)."""
    target = subprocess.Popen(command(py) + [str(10**9), "8", "50", "0", "0"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert target.stdout.readline().strip() == "ready"
        time.sleep(0.7)  # its threads are at work
        args = [profd, "sample", "record", "--pid", str(target.pid), "--rate", "100",
                "--duration", str(seconds), "--format", "raw", "-o", "/dev/null"] + flags
        sampler = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        _, _, ru = os.wait4(sampler.pid, 0)
        err = sampler.stderr.read()
    finally:
        target.kill()
        target.wait()
    if "Failed to profile" in err:
        raise Refused(err.strip().splitlines()[-1])
    m = re.search(r"(\d+) samples taken", err)
    return ru.ru_utime + ru.ru_stime, int(m.group(1)) if m else 0


def cost_rows(py, profd):
    """Two figures: a whole SHORT_S-second capture (attach, symbols and layout included), and
    the steady state: (CPU of a LONG_S capture - CPU of a SHORT_S one) / (their extra samples),
    the cost of each further sample, which is what a long capture pays per second."""
    short_s, long_s = 2, 12
    print("\n| 8 threads x 50 frames, --idle, 100 Hz | whole %d s capture: sampler CPU %% of a core "
          "| steady state: sampler CPU %% of a core | steady state: us per sample "
          "| samples (%d s) |" % (long_s, long_s))
    print("| --- | --- | --- | --- | --- |")
    for mode, flags in (("nonblocking", ["--nonblocking", "--idle"]), ("pausing", ["--idle"])):
        runs = []
        for _ in range(3):
            c_short, n_short = cost_once(py, profd, flags, short_s)
            c_long, n_long = cost_once(py, profd, flags, long_s)
            per = (c_long - c_short) / max(n_long - n_short, 1)
            runs.append((per, c_long, n_long))
        runs.sort()
        per, c_long, n_long = runs[1]  # the median run by steady-state cost
        print("| %s | %.2f %% | %.2f %% | %.0f | %d |" % (
            mode, 100 * c_long / long_s, 100 * per * n_long / long_s, 1e6 * per, n_long))
        sys.stdout.flush()


def main():
    argv = sys.argv[1:]
    profd = argv.pop(0) if argv and not argv[0].startswith("--") else os.path.join(
        HERE, "..", "..", "build", "profd")
    n, pys, rows = 9, [], {"slowdown", "idle", "signals", "cost"}
    while argv:
        a = argv.pop(0)
        if a == "--pairs":
            n = max(9, int(argv.pop(0)))
        elif a == "--python":
            name, _, path = argv.pop(0).partition("=")
            pys.append((name, path or name))
        elif a == "--rows":
            rows = set(argv.pop(0).split(","))
    for name, py in pys or DEFAULT_PYTHONS:
        exe = py
        if py.startswith("chroot:"):
            exe = os.path.join(py.split(":")[1], py.split(":", 2)[2].lstrip("/"))
        if not os.access(exe, os.X_OK):
            print("\n## CPython %s: %s is not there (skipped)" % (name, py))
            continue
        ver = subprocess.run(command(py)[:-1] + ["-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
        print("\n## CPython %s (%s)" % (ver, py))
        try:
            if rows & {"slowdown", "idle", "signals"}:
                slowdown_rows(py, profd, n, rows)
            if "cost" in rows:
                cost_rows(py, profd)
        except Refused as e:
            print("\nrefused by the sampler: %s" % e)


main()
