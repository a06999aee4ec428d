# targets.py - small CPython 3.8+ targets for the built-in sampler's safety and timing tests.
#
# Usage: python targets.py MODE [ARGS]; each prints "ready PID" when there is something to
# sample, and, where it measures something, one JSON line at exit with what it measured itself
# (time.thread_time() / perf_counter() figures), which the test compares with the capture.
#
#   split SECONDS MODE       main loop of 7 ms in seven() then 3 ms in three() (CPU time). MODE
#                            free: back to back; lockstep: on absolute 10 ms ticks
#                            (sleep until the next tick), the period of a 100 Hz sampler.
#                            -> {"seven": share, "three": share} of thread CPU time
#   sigtimer PHASES...       1 ms SIGALRM interval timer with a Python handler; a spin loop
#                            counted per phase (seconds each); prints "phase N" as each starts.
#                            -> [[loops_per_s, signals, thread_cpu_s, held], ...], held being
#                            the share of the phase the thread was held stopped (schedstat:
#                            wall - on CPU - waiting for a CPU; load-independent)
#   sigusr1 SECONDS          sends itself SIGUSR1 every 20 ms and measures how long each takes
#                            to reach the handler. -> {"n": count, "median_ms", "max_ms"}
#   forkwait SECONDS         runs /bin/true and waits for it, again and again.
#                            -> {"n": count, "median_ms", "max_ms"}
#   mainexit SECONDS         a worker thread spins in worker_spin() for SECONDS (then prints
#                            its JSON and exits the process); the main thread exits at once
#                            (SYS_exit, the thread alone), leaving a zombie thread-group leader.
#                            -> {"loops": n, "cpu_s": thread_cpu}
#   idle N SECONDS           one busy thread (busy_spin, prints "busy TID") plus N threads
#                            blocked on an Event; -> {"loops_per_cpu_s", "cpu_s", "loops",
#                            "held"} of the busy thread
#   deep DEPTH SECONDS       main thread recursing DEPTH frames in deep_rec, spinning at the
#                            bottom; a second thread spins shallow in shallow_spin.
#   names SECONDS            spins in functions whose names hold ';' and a newline, and one
#                            2,000-character name (made with exec/compile).
import ctypes
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

perf = time.perf_counter


def ready():
    print("ready", os.getpid(), flush=True)


def sched():
    """(wall, on-CPU, waiting-for-CPU) seconds of this thread, from its schedstat."""
    with open("/proc/thread-self/schedstat") as f:
        run_ns, delay_ns = (int(x) for x in f.read().split()[:2])
    return perf(), run_ns / 1e9, delay_ns / 1e9


def held_share(a, b):
    """Share of the wall time between sched() readings a and b that this thread was neither
    running nor runnable. For a thread that never blocks, that is the time it was held stopped
    (by a tracer), whatever the load of the machine; on a VM it also holds the time the
    hypervisor stole from the vCPU, which schedstat counts as neither."""
    wall = b[0] - a[0]
    return max(0.0, (wall - (b[1] - a[1]) - (b[2] - a[2])) / wall)


def burn(cpu_seconds):
    end = time.thread_time() + cpu_seconds
    while time.thread_time() < end:
        pass


def seven():
    burn(0.007)


def three():
    burn(0.003)


def split(seconds, mode):
    ready()
    cpu = {"seven": 0.0, "three": 0.0}
    end = perf() + seconds
    tick = perf()
    while perf() < end:
        c0 = time.thread_time()
        seven()
        c1 = time.thread_time()
        three()
        c2 = time.thread_time()
        cpu["seven"] += c1 - c0
        cpu["three"] += c2 - c1
        if mode == "lockstep":
            tick += 0.010
            now = perf()
            if tick > now:
                time.sleep(tick - now)
            else:
                tick = now  # overran (a loaded machine): start the next tick now
    total = cpu["seven"] + cpu["three"]
    print(json.dumps({k: v / total for k, v in cpu.items()}), flush=True)


def sigtimer(phases):
    count = [0]

    def on_alarm(sig, frame):
        count[0] += 1

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    ready()
    out = []
    for i, seconds in enumerate(phases):
        print("phase", i, flush=True)
        loops, s0, c0, h0 = 0, count[0], time.thread_time(), sched()
        end = perf() + seconds
        while perf() < end:
            loops += 1
        out.append([loops / seconds, count[0] - s0, time.thread_time() - c0,
                    held_share(h0, sched())])
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    print(json.dumps(out), flush=True)


def summary(ms):
    return {"n": len(ms), "median_ms": statistics.median(ms), "max_ms": max(ms)}


def sigusr1(seconds):
    got = [0.0]

    def on_usr1(sig, frame):
        got[0] = perf()

    signal.signal(signal.SIGUSR1, on_usr1)
    ready()
    lat, end = [], perf() + seconds
    while perf() < end:
        got[0] = 0.0
        t0 = perf()
        os.kill(os.getpid(), signal.SIGUSR1)
        while got[0] == 0.0 and perf() - t0 < 5:
            pass
        lat.append(1000 * (got[0] - t0))
        time.sleep(0.02)
    print(json.dumps(summary(lat)), flush=True)


def forkwait(seconds):
    ready()
    took, end = [], perf() + seconds
    while perf() < end:
        t0 = perf()
        subprocess.run(["/bin/true"])
        took.append(1000 * (perf() - t0))
    print(json.dumps(summary(took)), flush=True)


def worker_spin(seconds):
    loops, c0, end = 0, time.thread_time(), perf() + seconds
    while perf() < end:
        loops += 1
    print(json.dumps({"loops": loops, "cpu_s": time.thread_time() - c0}), flush=True)
    os._exit(0)


def mainexit(seconds):
    threading.Thread(target=worker_spin, args=(seconds,)).start()
    ready()
    time.sleep(0.2)
    # SYS_exit (60 on x86_64) ends the calling thread only; the process lives on.
    ctypes.CDLL(None, use_errno=True).syscall(60, 0)


def busy_spin(seconds, out):
    print("busy", threading.get_native_id(), flush=True)
    loops, c0, h0, end = 0, time.thread_time(), sched(), perf() + seconds
    while perf() < end:
        loops += 1
    cpu = time.thread_time() - c0
    out.update({"loops_per_cpu_s": loops / cpu, "cpu_s": cpu, "loops": loops,
                "held": held_share(h0, sched())})


def idle(n, seconds):
    stop, out = threading.Event(), {}
    idlers = [threading.Thread(target=stop.wait, daemon=True) for _ in range(n)]
    for t in idlers:
        t.start()
    busy = threading.Thread(target=busy_spin, args=(seconds, out))
    busy.start()
    ready()
    busy.join()
    stop.set()
    print(json.dumps(out), flush=True)


def deep_rec(n, seconds):
    if n > 0:
        return deep_rec(n - 1, seconds)
    end = perf() + seconds
    while perf() < end:
        pass


def shallow_spin(seconds):
    end = perf() + seconds
    while perf() < end:
        pass


def deep(depth, seconds):
    sys.setrecursionlimit(depth + 1000)
    threading.Thread(target=shallow_spin, args=(seconds,), daemon=True).start()
    ready()
    deep_rec(depth, seconds)


def names(seconds):
    long_name = "long_" + "x" * 2000
    src = (
        "def semi(s):\n    end = perf() + s\n    while perf() < end: pass\n"
        "def {0}(s):\n    end = perf() + s\n    while perf() < end: pass\n"
    ).format(long_name)
    ns = {"perf": perf}
    exec(compile(src, "odd;file\nname.py", "exec"), ns)
    f_semi = ns["semi"]
    f_semi.__code__ = f_semi.__code__.replace(co_name="a;b\nc", co_qualname="a;b\nc") \
        if sys.version_info >= (3, 11) else f_semi.__code__.replace(co_name="a;b\nc")
    f_long = ns[long_name]
    ready()
    end = perf() + seconds
    while perf() < end:
        f_semi(0.01)
        f_long(0.01)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "split":
        split(float(args[0]), args[1])
    elif mode == "sigtimer":
        sigtimer([float(a) for a in args])
    elif mode == "sigusr1":
        sigusr1(float(args[0]))
    elif mode == "forkwait":
        forkwait(float(args[0]))
    elif mode == "mainexit":
        mainexit(float(args[0]))
    elif mode == "idle":
        idle(int(args[0]), float(args[1]))
    elif mode == "deep":
        deep(int(args[0]), float(args[1]))
    elif mode == "names":
        names(float(args[0]))
    else:
        sys.exit("unknown mode " + mode)


main()
