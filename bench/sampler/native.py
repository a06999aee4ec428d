# native.py - what `--native` costs on top of plain pausing sampling, measured in the same run.
#
# Usage: python3 bench/sampler/native.py [PROFD_BIN] [--pairs N] [--threads T] [--python PY ...]
#
# The workload of bench.py (T threads, 50 Python frames deep, pure-Python arithmetic) is sampled
# at 100 Hz, N times in each of three configurations, interleaved (none, pausing, native, none,
# ...), so that load on the machine hits all three alike. Per configuration, the median of:
#   target CPU s    the workload's own process_time for its fixed work (its slowdown against the
#                   unsampled runs: the interference of sampling, independent of wall-clock noise)
#   paused us       how long the target is held stopped per sample (the sampler's summary), and
#   held us         the part of it after all threads have stopped: reading (and unwinding); the
#                   rest, waiting for the threads to stop, grows with the load on the machine
#   sampler CPU us  the sampler's user+sys time (wait4 rusage) per sample taken
#   unwind us       --native only: time spent unwinding one stopped thread (its summary line)
# and the ratios native / pausing. Not a test: nothing is asserted.
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.join(HERE, "workload.py")


def run_once(py, profd, mode, iters, threads):
    target = subprocess.Popen([py, WORKLOAD, str(iters), str(threads), "50"],
                              stdout=subprocess.PIPE, text=True)
    assert target.stdout.readline().strip() == "ready"
    sampler = None
    if mode != "none":
        args = [profd, "sample", "record", "--pid", str(target.pid), "--rate", "100",
                "--duration", "120", "--format", "raw", "-o", "/dev/null", "--idle"]
        if mode == "native":
            args.append("--native")
        sampler = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    cpu = float(target.stdout.readline().split()[1])  # wall, process CPU, signals
    target.wait()
    out = {"target_cpu": cpu}
    if sampler:
        _, _, ru = os.wait4(sampler.pid, 0)
        err = sampler.stderr.read()
        taken = int(re.search(r"(\d+) samples taken", err).group(1))
        m = re.search(r"([\d.]+) us per sample with the target paused \(([\d.]+) stopping", err)
        out["paused_us"], out["stop_us"] = float(m.group(1)), float(m.group(2))
        out["held_us"] = out["paused_us"] - out["stop_us"]
        out["cpu_us"] = 1e6 * (ru.ru_utime + ru.ru_stime) / max(taken, 1)
        m = re.search(r"native: \d+ thread stacks unwound, ([\d.]+) us each", err)
        if m:
            out["unwind_us"] = float(m.group(1))
    return out


def main():
    argv = sys.argv[1:]
    profd = argv.pop(0) if argv and not argv[0].startswith("--") else os.path.join(
        HERE, "..", "..", "build", "profd")
    pairs, threads, pys = 9, 1, []
    while argv:
        a = argv.pop(0)
        if a == "--pairs":
            pairs = int(argv.pop(0))
        elif a == "--threads":
            threads = int(argv.pop(0))
        elif a == "--python":
            pys.append(argv.pop(0))
    for py in pys or ["/usr/bin/python3"]:
        ver = subprocess.run([py, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
        runs = {"none": [], "pausing": [], "native": []}
        for _ in range(pairs):
            for mode in runs:
                runs[mode].append(run_once(py, profd, mode, 20_000_000, threads))
        med = {m: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
               for m, rs in runs.items()}
        base = med["none"]["target_cpu"]
        print("\n## CPython %s (%s): %d thread(s) x 50 frames, 100 Hz, %d interleaved runs each"
              % (ver, py, threads, pairs))
        print("\n| mode | target CPU s | CPU slowdown | paused us per sample | held us (read, "
              "unwind) | sampler CPU us per sample | unwind us per thread |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for m in runs:
            r = med[m]
            print("| %s | %.3f | %+.2f %% | %s | %s | %s | %s |" % (
                m, r["target_cpu"], 100 * (r["target_cpu"] - base) / base,
                "%.0f" % r["paused_us"] if "paused_us" in r else "-",
                "%.0f" % r["held_us"] if "held_us" in r else "-",
                "%.0f" % r["cpu_us"] if "cpu_us" in r else "-",
                "%.0f" % r["unwind_us"] if "unwind_us" in r else "-"))
        p, n = med["pausing"], med["native"]
        print("\nnative / pausing: paused time per sample x%.2f, held (read, unwind) x%.2f, "
              "sampler CPU per sample x%.2f" % (n["paused_us"] / p["paused_us"],
                                                n["held_us"] / p["held_us"],
                                                n["cpu_us"] / p["cpu_us"]))


main()
