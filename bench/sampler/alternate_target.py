# alternate_target.py LOG - the target of alternate.py: 1 thread, 50 frames deep, running a
# fixed chunk of arithmetic forever and appending to LOG, per chunk, "END_MONOTONIC
# CPU_SECONDS WALL_SECONDS" (time.thread_time and time.monotonic around the chunk), 200 lines
# at a time. Prints "ready" first.
import sys
import time


def work(n):
    x = 0
    for i in range(n):
        x += i * i % 7
    return x


def deep(d):
    if d <= 1:
        out = []
        while True:
            c0, w0 = time.thread_time(), time.monotonic()
            work(20000)
            c1, w1 = time.thread_time(), time.monotonic()
            out.append("%.6f %.9f %.9f\n" % (w1, c1 - c0, w1 - w0))
            if len(out) >= 200:
                log.write("".join(out))
                log.flush()
                out = []
    return deep(d - 1)


log = open(sys.argv[1], "a")
print("ready", flush=True)
try:
    deep(50)
except (KeyboardInterrupt, BrokenPipeError):
    pass
