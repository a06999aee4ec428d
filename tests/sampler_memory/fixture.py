# fixture.py - a target for memory captures that knows what it allocated.
#
#   fixture.py SECONDS RUNDIR MODE
#
# MODE: plain | traced (starts tracemalloc itself, depth 8, before anything) | blocked (the
# main thread blocks in C, os.read on a pipe, until RUNDIR/unblock.fifo is written) |
# joined (the main thread waits in join() while a worker thread does the work) |
# audited (an audit hook refuses remote debugger scripts).
# Once RUNDIR/grow exists it allocates 40 MiB of bytearrays in grow_cache and 10 MiB in
# grow_index, keeps them, and writes RUNDIR/grown. Every 50 ms it bumps a counter in
# RUNDIR/heartbeat ("still serving"), until SECONDS are over or RUNDIR/stop exists. At the end
# it writes RUNDIR/result.json: whether
# tracemalloc is tracing, the traceback limit, whether profd's marker is left in sys, and the
# heartbeat count. Everything it reports is measured here, in the target.
import json
import os
import sys
import threading
import time
import tracemalloc

seconds, rundir, mode = float(sys.argv[1]), sys.argv[2], sys.argv[3]
if mode == "traced":
    tracemalloc.start(8)
if mode == "audited":  # refuses every PEP 768 script, as a hardened service may

    def refuse(event, args):
        if event.endswith("remote_debugger_script"):
            raise RuntimeError("remote scripts are not allowed here")

    sys.addaudithook(refuse)
cache, index = [], []
beats = 0


def grow_cache(mib):
    for _ in range(mib):
        cache.append(bytearray(1 << 20))


def grow_index(mib):
    for _ in range(mib):
        index.append(bytearray(1 << 20))


def serve(until):
    global beats
    grown = False
    while time.time() < until and not os.path.exists(os.path.join(rundir, "stop")):
        if not grown and os.path.exists(os.path.join(rundir, "grow")):
            grow_cache(40)
            grow_index(10)
            grown = True
            open(os.path.join(rundir, "grown"), "w").close()
        beats += 1
        with open(os.path.join(rundir, "heartbeat.tmp"), "w") as f:
            f.write(str(beats))
        os.replace(os.path.join(rundir, "heartbeat.tmp"), os.path.join(rundir, "heartbeat"))
        time.sleep(0.05)


def report():
    with open(os.path.join(rundir, "result.json.tmp"), "w") as f:
        json.dump({"tracing": tracemalloc.is_tracing(),
                   "limit": tracemalloc.get_traceback_limit(),
                   "marker": hasattr(sys, "_profd_memory_capture"),
                   "beats": beats,
                   "cache_bytes": sum(sys.getsizeof(b) for b in cache),
                   "index_bytes": sum(sys.getsizeof(b) for b in index)}, f)
    os.replace(os.path.join(rundir, "result.json.tmp"), os.path.join(rundir, "result.json"))


print("ready", flush=True)
if mode == "blocked":
    fifo = os.path.join(rundir, "unblock.fifo")
    os.mkfifo(fifo)
    open(os.path.join(rundir, "blocking"), "w").close()
    fd = os.open(fifo, os.O_RDONLY)  # blocks in C until the test opens it for writing
    os.read(fd, 1)
    serve(time.time() + 1.0)  # Python runs again: a request left pending would run now
elif mode == "joined":
    t = threading.Thread(target=serve, args=(time.time() + seconds,))
    t.start()
    t.join()
else:
    serve(time.time() + seconds)
report()
