#!/usr/bin/env python3
"""bench/render/bench.py - profd render --format html against the issue's
reference figures, and against flamegraph.pl / inferno-flamegraph when they
are on PATH (run side by side in the same run).

usage: bench.py [--profd PATH] [--1m] [--dir DIR] [--runs N]

Inputs come from ../shared/bench/gen_collapsed.py (10k and 100k lines; 1M
with --1m, about 1.45 GB and several minutes to generate) and are cached in
DIR. Each tool runs as a child process; wall time is measured around it and
peak RSS comes from the child's rusage (wait4), so the numbers are those of
the tool alone. MB = 10^6 bytes. CPU seconds (user + system, the read-ahead
thread included) are printed too: unlike wall time they do not depend on what
else the machine is doing. With --runs N the best of N runs is kept
for throughput (a single run by default, as the issue asks)."""
import argparse, os, shutil, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GEN = os.path.join(ROOT, "..", "shared", "bench", "gen_collapsed.py")
# The measurements on these 2-core machines.
REF = {"inferno": {"mbps": 265.0, "rss": {100000: 228e6, 1000000: 2.2e9}},
       "flamegraph.pl": {"mbps": 9.0, "rss": {1000000: 7.8e9}}}


def inputs(d, sizes):
    os.makedirs(d, exist_ok=True)
    out = {}
    for n in sizes:
        path = os.path.join(d, "gen_%d.folded" % n)
        if not os.path.exists(path):
            print("generating %s ..." % path, file=sys.stderr, flush=True)
            with open(path + ".tmp", "w") as f:
                subprocess.run([sys.executable, GEN, str(n)], stdout=f, check=True)
            os.rename(path + ".tmp", path)
        out[n] = path
    return out


def run(argv, stdin_path, out_path):
    with open(stdin_path, "rb") as fin, open(out_path, "wb") as fout:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=subprocess.PIPE)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        err = p.stderr.read().decode(errors="replace")
        p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("%s failed: %s" % (argv[0], err.strip()[:300]))
    return wall, ru.ru_maxrss * 1024, os.path.getsize(out_path), ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profd", default=os.path.join(ROOT, "build", "profd"))
    ap.add_argument("--1m", dest="one_m", action="store_true")
    ap.add_argument("--dir", default="/tmp/profd-render-bench")
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args()
    if not os.path.exists(GEN):
        sys.exit("bench: %s not found (the shared/ directory beside the checkout)" % GEN)
    if not os.access(a.profd, os.X_OK):
        sys.exit("bench: no profd binary at %s (build it, or pass --profd)" % a.profd)
    sizes = [10000, 100000] + ([1000000] if a.one_m else [])
    files = inputs(a.dir, sizes)
    tools = [("profd", [a.profd, "render", "--format", "html"])]
    for name, exe in (("inferno", "inferno-flamegraph"), ("flamegraph.pl", "flamegraph.pl")):
        path = shutil.which(exe)
        if path:
            tools.append((name, [path]))
        else:
            print("note: %s not on PATH; compared with the issue's figures only" % exe)
    rows = []
    for n in sizes:
        size = os.path.getsize(files[n])
        for name, argv in tools:
            if name == "flamegraph.pl" and n > 100000:
                print("note: flamegraph.pl skipped at %d lines (minutes, GBs of RAM)" % n)
                continue
            best = None
            for _ in range(a.runs):
                out = os.path.join(a.dir, "out_%s_%d.html" % (name.replace(".", "_"), n))
                wall, rss, osz, cpu = run(argv, files[n], out)
                if best is None or wall < best[0]:
                    best = (wall, rss, osz, cpu)
            rows.append((n, name, size, *best))
    print()
    print("load average before the table: %.2f %.2f %.2f (2 cores: above 2, other work "
          "competes for the CPU and wall-clock MB/s drops)" % os.getloadavg())
    print()
    print("| lines | tool | input MB | seconds | MB/s | CPU s | MB per CPU s | peak RSS MB | output KB |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, name, size, wall, rss, osz, cpu in rows:
        print("| %d | %s | %.1f | %.3f | %.0f | %.3f | %.0f | %.1f | %.0f |"
              % (n, name, size / 1e6, wall, size / 1e6 / wall, cpu, size / 1e6 / max(cpu, 1e-6),
                 rss / 1e6, osz / 1e3))
    print()
    print("Ratios of profd against the issue's reference figures (targets in brackets):")
    for n, name, size, wall, rss, osz, cpu in rows:
        if name != "profd":
            continue
        mbps = size / 1e6 / wall
        line = ["%7d lines: %.2fx inferno's 265 MB/s [>= 2x], %.1fx flamegraph.pl's 9 MB/s [>= 30x]"
                % (n, mbps / REF["inferno"]["mbps"], mbps / REF["flamegraph.pl"]["mbps"])]
        if n in REF["inferno"]["rss"]:
            line.append("RSS %.3f of inferno's %.0f MB [<= 0.25]"
                        % (rss / REF["inferno"]["rss"][n], REF["inferno"]["rss"][n] / 1e6))
        if n == 1000000:
            line.append("HTML %.2f MB [<= 3 MB]" % (osz / 1e6))
        print("; ".join(line))
    for n, name, size, wall, rss, osz, cpu in rows:
        if name == "profd":
            continue
        mine = [r for r in rows if r[0] == n and r[1] == "profd"][0]
        print("%7d lines: profd vs %s measured side by side: %.1fx throughput, %.2fx RSS"
              % (n, name, wall / mine[3], mine[4] / rss))


if __name__ == "__main__":
    main()
