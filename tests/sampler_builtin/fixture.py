# fixture.py - a CPython 3.8+ program with a known call tree, for the built-in sampler's tests.
#
# Usage: python fixture.py SECONDS
# Prints "ready <pid>" once both threads run, then after SECONDS prints one JSON line with the
# share of the main thread's time spent in each phase, as measured by the program itself, twice:
# "cpu" from time.thread_time() (the truth a CPU profile should match) and "wall" from
# time.perf_counter() (what a sampler that pauses the target shifts: see check_stacks.py).
#
# Main thread, rotating through short slices (so any 2 s window has the same split):
#   nested  nested_outer -> Shape.area (a method) -> spin          40 %
#   gen     consume_gen -> produce (a generator) -> spin           20 %
#   coro    run_coro -> coro_outer -> coro_inner (async) -> spin   20 %
#   deep    recurse x 1000 -> spin                                 20 %
# Second thread: side_main -> café_ñ -> 深い関数, mostly sleeping (so it is idle),
# with a distinct stack from any in the main thread.
# Lines the tests check carry a "# L:name" marker; the test reads them from this file.
import asyncio
import json
import os
import sys
import threading
import time

perf = time.perf_counter
cpu = time.thread_time
SLICE = 0.02
TOTALS = {"nested": 0.0, "gen": 0.0, "coro": 0.0, "deep": 0.0}
WALL = dict(TOTALS)


def spin(seconds):
    end = perf() + seconds
    while perf() < end: pass  # L:spin


class Shape:
    def area(self, seconds):
        spin(seconds)  # L:area_call


def nested_outer(seconds):
    Shape().area(seconds)  # L:outer_call


def produce(seconds):
    for _ in range(4):
        spin(seconds / 4)  # L:produce_spin
        yield 1


def consume_gen(seconds):
    return sum(produce(seconds))  # L:consume_call


async def coro_inner(seconds):
    spin(seconds)  # L:coro_inner_spin
    await asyncio.sleep(0)


async def coro_outer(seconds):
    await coro_inner(seconds)  # L:coro_outer_call


def run_coro(loop, seconds):
    loop.run_until_complete(coro_outer(seconds))


def recurse(n, seconds):
    if n == 0:
        spin(seconds)  # L:recurse_bottom
        return
    recurse(n - 1, seconds)  # L:recurse_call


def 深い関数():
    time.sleep(0.05)  # L:cjk_sleep
    x = 0
    for i in range(2000):
        x += i
    return x


def café_ñ():
    return 深い関数()  # L:cafe_call


def side_main(stop):
    while not stop.is_set():
        café_ñ()


def timed(name, fn, *args):
    t0, w0 = cpu(), perf()
    fn(*args)
    TOTALS[name] += cpu() - t0
    WALL[name] += perf() - w0


def main():
    seconds = float(sys.argv[1])
    sys.setrecursionlimit(5000)
    loop = asyncio.new_event_loop()
    stop = threading.Event()
    side = threading.Thread(target=side_main, args=(stop,), daemon=True)
    side.start()
    print("ready", os.getpid(), flush=True)
    end = perf() + seconds
    while perf() < end:
        timed("nested", nested_outer, SLICE * 2)
        timed("gen", consume_gen, SLICE)
        timed("coro", run_coro, loop, SLICE)
        timed("deep", recurse, 1000, SLICE)
    stop.set()
    loop.close()
    split = {}
    for kind, times in (("cpu", TOTALS), ("wall", WALL)):
        total = sum(times.values())
        split[kind] = {k: v / total for k, v in times.items()}
    print(json.dumps(split), flush=True)


main()
