# features_fixture.py - a target for the py-spy features of the built-in sampler: thread names,
# --native and --subprocesses (tests/sampler_builtin/features.sh). CPython 3.8+.
#
# Usage: python features_fixture.py MODE SECONDS OUTDIR
#   names   MainThread plus threads named "worker-one", one renamed to "renamed-ü" after it
#           started, and one started with _thread.start_new_thread (no threading.Thread object);
#           writes OUTDIR/threads.json: {name or "": native thread id} as the threads see it.
#   native  the main thread sorts with libc's qsort through a ctypes CFUNCTYPE comparator, so a
#           C frame (qsort) sits between Python frames: run_qsort -> qsort -> compare_ints.
#   family  after 0.5 s starts a Python child (this file, mode "child"), which runs child_work
#           for 0.4 s and exits; the parent works on; writes OUTDIR/family.json with the child's
#           pid and the wall-clock times it was started and reaped.
# Prints "ready" once everything runs; every thread spins in a function of its own.
import sys
import time


def child_work(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


if __name__ == "__main__" and sys.argv[1] == "child":
    # The child starts before the heavy imports below, and says when its work began.
    with open(sys.argv[3] + "/child_started", "w") as f:
        f.write("%.6f" % time.time())
    child_work(float(sys.argv[2]))
    sys.exit(0)

import ctypes
import ctypes.util
import json
import os
import subprocess
import threading
import _thread

perf = time.perf_counter


def spin(seconds):
    end = perf() + seconds
    while perf() < end:
        pass


def worker_loop(stop, ids, key):
    ids[key] = threading.get_native_id() if hasattr(threading, "get_native_id") else 0
    while not stop.is_set():
        spin(0.005)


def bare_loop(stop, ids):
    ids[""] = threading.get_native_id() if hasattr(threading, "get_native_id") else 0
    while not stop.is_set():
        spin(0.005)


def names(seconds, out):
    stop, ids = threading.Event(), {}
    ids["MainThread"] = threading.get_native_id() if hasattr(threading, "get_native_id") else os.getpid()
    a = threading.Thread(target=worker_loop, args=(stop, ids, "worker-one"), name="worker-one")
    b = threading.Thread(target=worker_loop, args=(stop, ids, "renamed-ü"), name="before-rename")
    a.start()
    b.start()
    b.name = "renamed-ü"
    _thread.start_new_thread(bare_loop, (stop, ids))
    while len(ids) < 4:
        time.sleep(0.01)
    with open(os.path.join(out, "threads.json"), "w") as f:
        json.dump(ids, f)
    print("ready", flush=True)
    end = perf() + seconds
    while perf() < end:
        spin(0.005)
    stop.set()


CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
libc = None  # loaded in native mode only: find_library runs ldconfig, a process of its own


def compare_ints(a, b):
    x = 0
    for i in range(300):
        x += i
    return a[0] - b[0]


compare = CMP(compare_ints)


def run_qsort():
    arr = (ctypes.c_int * 64)(*range(64, 0, -1))
    libc.qsort(arr, len(arr), ctypes.sizeof(ctypes.c_int), compare)


def native(seconds):
    global libc
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    print("ready", flush=True)
    end = perf() + seconds
    while perf() < end:
        run_qsort()


def parent_work(seconds):
    spin(seconds)


def family(seconds, out):
    try:  # the command line as the kernel keeps it, the one the sampler writes
        with open("/proc/self/cmdline", "rb") as f:
            args = [a.decode() for a in f.read().split(b"\0") if a]
    except OSError:  # a chroot without /proc: what the interpreter was started with
        args = getattr(sys, "orig_argv", [sys.executable] + sys.argv)
    with open(os.path.join(out, "cmdline.txt"), "w") as f:
        f.write(" ".join(args))
    print("ready", flush=True)
    parent_work(0.5)
    started = time.time()
    argv = [sys.executable, os.path.abspath(__file__), "child", "0.4", out]
    child = subprocess.Popen(argv)
    child_cmdline = " ".join(argv)
    parent_work(0.8)
    child.wait()
    reaped = time.time()
    with open(os.path.join(out, "family.json"), "w") as f:
        json.dump({"child": child.pid, "started": started, "reaped": reaped,
                   "returncode": child.returncode, "child_cmdline": child_cmdline}, f)
    parent_work(max(0.0, seconds - 1.3))


if __name__ == "__main__":
    mode, seconds = sys.argv[1], float(sys.argv[2])
    if mode == "names":
        names(seconds, sys.argv[3])
    elif mode == "native":
        native(seconds)
    elif mode == "family":
        family(seconds, sys.argv[3])
