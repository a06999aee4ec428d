# workload.py - CPU-bound pure-Python target for bench/sampler/bench.py.
#
# Usage: python workload.py ITERATIONS THREADS DEPTH
# Starts THREADS threads (the main thread included) that each recurse DEPTH frames deep and then
# run a fixed amount of arithmetic; prints "ready", waits 0.5 s (so the sampler can attach), then
# runs the work and prints the wall time and the process CPU time it took, in seconds.
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
    print("ready", flush=True)
    time.sleep(0.5)
    t0, c0 = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=deep, args=(depth, iters)) for _ in range(nthreads - 1)]
    for t in threads:
        t.start()
    deep(depth, iters)
    for t in threads:
        t.join()
    print("%.6f %.6f" % (time.perf_counter() - t0, time.process_time() - c0), flush=True)


main()
