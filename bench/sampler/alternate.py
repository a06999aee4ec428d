# alternate.py - the sampler's cost to its target, measured inside one target process.
#
# Usage: python3 bench/sampler/alternate.py [PROFD_BIN] [--python PATH] [--windows N]
#                                           [--mode pausing|nonblocking] [--rate HZ]
#
# bench.py compares separate target runs, and on a shared VM the CPU time of the same fixed
# work moves by tens of percent between runs. Here one target (alternate_target.py) runs a
# fixed chunk of pure-Python work again and again, 1 thread x 50 frames, and logs the CPU time
# (time.thread_time) and the wall time of each chunk. The bench samples it in every other
# window of WINDOW seconds (`profd sample record --duration WINDOW`) and leaves it alone in the
# others, N windows of each, interleaved. Each sampled window is compared with the mean of
# the unsampled windows on either side of it, so a slow drift of the machine cancels; the
# median of those ratios is the slowdown (CPU per chunk, and wall per chunk, which includes
# the time a pausing sampler holds the target stopped). Prints one markdown row; asserts
# nothing.
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    argv = sys.argv[1:]
    profd = argv.pop(0) if argv and not argv[0].startswith("--") else os.path.join(
        HERE, "..", "..", "build", "profd")
    opts = {"--python": sys.executable, "--windows": "15", "--mode": "pausing", "--rate": "100",
            "--window": "2"}
    while argv:
        k = argv.pop(0)
        opts[k] = argv.pop(0)
    n, window = int(opts["--windows"]), float(opts["--window"])
    log = "/tmp/profd-alternate-%d.log" % os.getpid()
    target = subprocess.Popen([opts["--python"], os.path.join(HERE, "alternate_target.py"), log],
                              stdout=subprocess.PIPE, text=True)
    assert target.stdout.readline().strip() == "ready"
    flags = ["--nonblocking"] if opts["--mode"] == "nonblocking" else []
    spans = []  # (start, end, sampled)
    time.sleep(window)  # warm-up, not counted
    for i in range(2 * n + 1):
        sampled = i % 2 == 1
        t0 = time.monotonic()
        if sampled:
            subprocess.run([profd, "sample", "record", "--pid", str(target.pid), "--rate",
                            opts["--rate"], "--duration", str(int(window)), "--format", "raw",
                            "-o", "/dev/null"] + flags, stderr=subprocess.DEVNULL, check=True)
        else:
            time.sleep(window)
        spans.append((t0, time.monotonic(), sampled))
    time.sleep(1)  # the last lines reach the log
    target.terminate()
    target.wait()
    with open(log) as f:
        chunks = [tuple(map(float, l.split())) for l in f if len(l.split()) == 3]
    os.unlink(log)
    # chunk lines: end_monotonic cpu_seconds wall_seconds
    def per_chunk(a, b):
        inside = [(c, w) for (e, c, w) in chunks if a <= e - w and e <= b]
        if len(inside) < 5:
            return None
        return (statistics.mean(c for c, _ in inside), statistics.mean(w for _, w in inside))
    means = [per_chunk(a, b) for a, b, _ in spans]
    cpu_r, wall_r = [], []
    for i in range(1, len(spans) - 1, 2):
        on, before, after = means[i], means[i - 1], means[i + 1]
        if on and before and after:
            cpu_r.append(on[0] / ((before[0] + after[0]) / 2) - 1)
            wall_r.append(on[1] / ((before[1] + after[1]) / 2) - 1)
    pct = lambda x: "%+.2f %%" % (100 * x)
    print("| %s | %s Hz | %d | %s | %s..%s | %s | %s..%s |" % (
        opts["--mode"], opts["--rate"], len(cpu_r), pct(statistics.median(cpu_r)),
        pct(min(cpu_r)), pct(max(cpu_r)), pct(statistics.median(wall_r)), pct(min(wall_r)),
        pct(max(wall_r))))


if __name__ == "__main__":
    main()
