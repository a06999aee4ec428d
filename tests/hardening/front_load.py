#!/usr/bin/env python3
"""front_load.py - hostile and busy clients for the HTTP front's tests and
benchmark (docs/http-front.md). Standard library only.

    front_load.py slow  PORT TOKEN SESSION_ID [--duration S] [--trickle N] [--idle N]
    front_load.py churn PORT TOKEN SESSION_ID [--requests N] [--concurrency N]
    front_load.py attack PORT [--trickle N] [--idle N]      (until killed; for bench/api)

slow: N trickling connections (default 300) from 127.0.0.40-43 that send
`GET /healthz HTTP/1.1` and then one `X-a: b` line every 4 s, and N idle
connections (default 100) from 127.0.0.44 that send nothing; a closed one is
reopened 0.2 s later. After a 5 s ramp, a well-behaved client on 127.0.0.50
alternates GET /healthz and GET the session, on new connections and on one
kept-alive connection, for S seconds (default 30, env PROFD_SLOW_SECONDS).
Passes when every answer is a 200 within 1 s, and the attack really held
its sockets (on average at least 200 open).

churn: N requests (default 20000) at concurrency C (default 100, from
127.0.0.60-63), each on a new connection (GET /healthz, every tenth GET
the session). Passes with N answers of 200 and 0 resets or failures.
"""
import argparse
import os
import selectors
import socket
import sys
import threading
import time

P = "/api/v1/monitoring/profile/"


class Attack(threading.Thread):
    """Trickling and idle sockets, kept at their number while running."""

    def __init__(self, port, trickle, idle):
        super().__init__(daemon=True)
        self.port = port
        self.want = [("127.0.0.%d" % (40 + i % 4), True) for i in range(trickle)]
        self.want += [("127.0.0.44", False)] * idle
        self.stop = False
        self.open = 0
        self.reconnects = 0
        self.samples = []

    def connect(self, sel, slot):
        src, trickle = self.want[slot]
        s = socket.socket()
        s.setblocking(True)
        s.settimeout(1)
        try:
            s.bind((src, 0))
            s.connect(("127.0.0.1", self.port))
            if trickle:
                s.sendall(b"GET /healthz HTTP/1.1\r\n")
        except OSError:
            s.close()
            return None
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, slot)
        return s

    def run(self):
        sel = selectors.DefaultSelector()
        socks = [None] * len(self.want)
        retry = [0.0] * len(self.want)
        next_line = time.monotonic() + 4
        next_sample = time.monotonic() + 1
        while not self.stop:
            now = time.monotonic()
            for i in range(len(socks)):
                if socks[i] is None and now >= retry[i]:
                    socks[i] = self.connect(sel, i)
                    if socks[i] is None:
                        retry[i] = now + 0.2
            for key, _ in sel.select(timeout=0.05):
                i = key.data
                try:
                    data = key.fileobj.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:  # closed by the server: reopen soon
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    socks[i] = None
                    retry[i] = time.monotonic() + 0.2
                    self.reconnects += 1
            now = time.monotonic()
            if now >= next_line:
                next_line = now + 4
                for i, s in enumerate(socks):
                    if s is not None and self.want[i][1]:
                        try:
                            s.send(b"X-a: b\r\n")
                        except OSError:
                            pass
            self.open = sum(s is not None for s in socks)
            if now >= next_sample:
                next_sample = now + 1
                self.samples.append(self.open)
        for s in socks:
            if s is not None:
                s.close()


def http_get(sock, target, token):
    """One GET on a connected socket; returns (status, keep-alive still usable)."""
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n"
                 % (target.encode(), token.encode()))
    got = b""
    while b"\r\n\r\n" not in got:
        c = sock.recv(65536)
        if not c:
            raise ConnectionError("closed before the answer")
        got += c
    head, _, rest = got.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    while len(rest) < n:
        c = sock.recv(65536)
        if not c:
            raise ConnectionError("closed inside the body")
        rest += c
    return int(head.split(b" ")[1]), b"connection: close" not in head.lower()


def good_client(port, token, sid, seconds, src="127.0.0.50"):
    lat, fails = [], []
    ka = None
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        target = "/healthz" if i % 2 == 0 else P + sid
        keep = i % 4 >= 2
        i += 1
        t0 = time.monotonic()
        try:
            if keep:
                if ka is None:
                    ka = socket.create_connection(("127.0.0.1", port), timeout=1,
                                                  source_address=(src, 0))
                status, usable = http_get(ka, target, token)
                if not usable:
                    ka.close()
                    ka = None
            else:
                with socket.create_connection(("127.0.0.1", port), timeout=1,
                                              source_address=(src, 0)) as s:
                    status, _ = http_get(s, target, token)
            dt = time.monotonic() - t0
            lat.append(dt)
            if status != 200 or dt > 1.0:
                fails.append("%s: %d after %.3f s" % (target, status, dt))
        except OSError as e:
            fails.append("%s (%s): %s after %.3f s" % (target, "keep-alive" if keep else "new",
                                                      e, time.monotonic() - t0))
            if ka is not None:
                ka.close()
                ka = None
        time.sleep(0.05)
    if ka is not None:
        ka.close()
    return lat, fails


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")


def cmd_slow(a):
    att = Attack(a.port, a.trickle, a.idle)
    att.start()
    time.sleep(5)
    lat, fails = good_client(a.port, a.token, a.session, a.duration)
    att.stop = True
    att.join()
    avg = sum(att.samples[5:]) / max(1, len(att.samples[5:]))
    print("good client: %d answers, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d failures"
          % (len(lat), 1000 * pct(lat, 50), 1000 * pct(lat, 99), 1000 * max(lat or [0]),
             len(fails)))
    print("attack: %d trickling + %d idle wanted, %.0f open on average, %d reopened"
          % (a.trickle, a.idle, avg, att.reconnects))
    for f in fails[:20]:
        print("  " + f)
    ok = not fails and len(lat) >= a.duration * 5 and avg >= 200
    if avg < 200:
        print("the attack did not hold its sockets: not a test")
    return 0 if ok else 1


def cmd_churn(a):
    lock = threading.Lock()
    counts = {"ok": 0, "reset": 0, "other": 0}
    errors = []
    todo = [a.requests]

    def worker(n):
        src = "127.0.0.%d" % (60 + n % 4)
        while True:
            with lock:
                if todo[0] == 0:
                    return
                todo[0] -= 1
                k = todo[0]
            target = P + a.session if k % 10 == 0 else "/healthz"
            try:
                with socket.create_connection(("127.0.0.1", a.port), timeout=10,
                                              source_address=(src, 0)) as s:
                    status, _ = http_get(s, target, a.token)
                kind = "ok" if status == 200 else "other"
                why = "status %d" % status
            except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError) as e:
                kind, why = "reset", str(e)
            except OSError as e:
                kind, why = "other", str(e)
            with lock:
                counts[kind] += 1
                if kind != "ok" and len(errors) < 10:
                    errors.append(why)

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(a.concurrency)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.monotonic() - t0
    print("churn: %d requests at concurrency %d, new connection each, in %.1f s (%.0f/s): "
          "%d ok, %d resets, %d other failures"
          % (a.requests, a.concurrency, dt, a.requests / dt, counts["ok"], counts["reset"],
             counts["other"]))
    for e in errors:
        print("  " + e)
    return 0 if counts["ok"] == a.requests else 1


def cmd_attack(a):
    att = Attack(a.port, a.trickle, a.idle)
    att.start()
    try:
        while True:
            time.sleep(1)
            print("attack open %d reopened %d" % (att.open, att.reconnects), flush=True)
    except KeyboardInterrupt:
        pass
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("slow", "churn", "attack"):
        p = sub.add_parser(name)
        p.add_argument("port", type=int)
        if name != "attack":
            p.add_argument("token")
            p.add_argument("session")
        p.add_argument("--trickle", type=int, default=300)
        p.add_argument("--idle", type=int, default=100)
        p.add_argument("--duration", type=float,
                       default=float(os.environ.get("PROFD_SLOW_SECONDS", "30")))
        p.add_argument("--requests", type=int, default=20000)
        p.add_argument("--concurrency", type=int, default=100)
    a = ap.parse_args()
    return {"slow": cmd_slow, "churn": cmd_churn, "attack": cmd_attack}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
