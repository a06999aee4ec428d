# workload.py - CPU-bound pure-Python target for bench/sampler/bench.py.
#
# Usage: python workload.py ITERATIONS THREADS DEPTH [IDLE [SIGNAL_MS]]
# Starts THREADS threads (the main thread included) that each recurse DEPTH frames deep and then
# run a fixed amount of arithmetic (ITERATIONS loop turns), plus IDLE threads blocked on an
# Event; with SIGNAL_MS > 0 a SIGALRM interval timer of that period runs a Python handler all
# along (a signal-heavy target). Prints "ready", waits 0.5 s (so the sampler can attach), runs
# the work and prints the wall time and the process CPU time (time.process_time) it took, in
# seconds: the work is fixed, so its CPU time grows only through the sampler's interference.
import signal
import sys
import threading
import time


def work(n):
    x = 0
    for i in range(n):
        x += i * i % 7
    return x


def deep(d, n):
    if d <= 1:
        return work(n)
    return deep(d - 1, n)


def main():
    iters, nthreads, depth = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    idle = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    signal_ms = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    stop = threading.Event()
    for _ in range(idle):
        threading.Thread(target=stop.wait, daemon=True).start()
    signals = [0]
    if signal_ms > 0:
        def on_alarm(sig, frame):
            signals[0] += 1
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, signal_ms / 1000, signal_ms / 1000)
    print("ready", flush=True)
    time.sleep(0.5)
    t0, c0 = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=deep, args=(depth, iters)) for _ in range(nthreads - 1)]
    for t in threads:
        t.start()
    deep(depth, iters)
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    stop.set()
    print("%.6f %.6f %d" % (wall, cpu, signals[0]), flush=True)


main()
