#!/usr/bin/env python3
"""front_checks.py - small behaviours of the HTTP front, over raw sockets.

    front_checks.py nul-headers|host|percent00|idle-lockout PORT TOKEN [SESSION_ID]

nul-headers  a NUL in any header value (Authorization, Idempotency-Key,
             Content-Type, Host, an unknown one) or name is 400, and closed
host         HTTP/1.1 needs exactly one Host (400 otherwise); HTTP/1.0 may
             omit it (200)
percent00    %00 in the path or in any query value is 400 where the same
             request without it is answered (200); bad escapes are 400
idle-lockout 100 idle connections from 127.0.0.45 (more than its 64 slots),
             then 20 GET /healthz from the same address, each answered 200
             within 1 s (the issue: they locked the address out for 15 s)
Each check sends the good twin of every bad request too, so a server that
answered 400 to everything fails. Prints one line per request; exit 0 when
all went as expected. Standard library only.
"""
import socket
import sys

P = "/api/v1/monitoring/profile"


def send(port, data, timeout=5.0):
    """(status, closed-by-server) for one request on a fresh connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    got = b""
    closed = False
    try:
        while True:
            c = s.recv(65536)
            if not c:
                closed = True
                break
            got += c
            head, sep, rest = got.partition(b"\r\n\r\n")
            if sep and b"connection: close" not in head.lower():
                n = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
                     if l.lower().startswith(b"content-length:")]
                if n and len(rest) >= n[0]:
                    break  # a complete keep-alive answer
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    try:
        status = int(got.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    return status, closed


def req(method, target, headers, body=b"", version=b"HTTP/1.1"):
    lines = [b"%s %s %s" % (method.encode(), target, version)] + headers
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def idle_lockout(port):
    import time
    src = ("127.0.0.45", 0)
    idle = []
    for _ in range(100):
        try:
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=2, source_address=src))
        except OSError:
            pass
    time.sleep(0.5)
    bad = 0
    for i in range(20):
        t0 = time.monotonic()
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1, source_address=src)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got = s.recv(100)
            s.close()
            ok = got.startswith(b"HTTP/1.1 200") and time.monotonic() - t0 < 1
        except OSError as e:
            got, ok = str(e).encode(), False
        bad += not ok
        print("request %2d from 127.0.0.45: %s in %.3f s" % (i, "ok" if ok else "FAIL: %r" % got[:40],
                                                           time.monotonic() - t0))
    print("idle connections opened: %d" % len(idle))
    for s in idle:
        s.close()
    return 1 if bad or len(idle) < 64 else 0


def main(argv):
    mode, port, token = argv[1], int(argv[2]), argv[3].encode()
    sid = argv[4].encode() if len(argv) > 4 else b""
    host = b"Host: 127.0.0.1"
    auth = b"Authorization: Bearer " + token
    start = b'{"service_name":"nul-check","duration_seconds":10}'
    cases = []  # (name, bytes, expected status, must close)
    if mode == "nul-headers":
        ct = b"Content-Type: application/json"
        for name, hdrs in [
            ("authorization", [host, b"Authorization: Bearer " + token[:10] + b"\x00" + token[10:], ct]),
            ("authorization_tail", [host, auth + b"\x00", ct]),
            ("idempotency_key", [host, auth, ct, b"Idempotency-Key: k\x00evil"]),
            ("content_type", [host, auth, b"Content-Type: application/json\x00"]),
            ("host", [b"Host: 127.0.0.1\x00.evil", auth, ct]),
            ("unknown_header", [host, auth, ct, b"X-Trace: a\x00b"]),
            ("header_name", [host, auth, ct, b"X-Tr\x00ace: a"]),
        ]:
            cases.append((name, req("POST", P.encode() + b"/start", hdrs, start), 400, True))
        cases.append(("control_without_nul",
                      req("GET", P.encode() + b"?limit=1", [host, auth]), 200, False))
    elif mode == "host":
        cases += [
            ("http11_without_host", req("GET", b"/healthz", []), 400, True),
            ("http11_two_hosts", req("GET", b"/healthz", [host, b"Host: other"]), 400, True),
            ("http11_empty_and_host", req("GET", b"/healthz", [b"Host:", host]), 400, True),
            ("http11_with_host", req("GET", b"/healthz", [host]), 200, False),
            ("http11_empty_host", req("GET", b"/healthz", [b"Host:"]), 200, False),
            ("http10_without_host", req("GET", b"/healthz", [], version=b"HTTP/1.0"), 200, True),
            ("http10_two_hosts", req("GET", b"/healthz", [host, host], version=b"HTTP/1.0"), 400, True),
        ]
    elif mode == "percent00":
        g = [host, auth]
        one = P.encode() + b"/" + sid
        cases += [
            ("session", req("GET", one, g), 200, False),
            ("session_pct00", req("GET", one + b"%00", g), 400, True),
            ("session_pct00_inside", req("GET", one[:-4] + b"%00" + one[-4:], g), 400, True),
            ("session_bad_escape", req("GET", one + b"%zz", g), 400, True),
            ("session_short_escape", req("GET", one + b"%0", g), 400, True),
            ("limit", req("GET", P.encode() + b"?limit=5", g), 200, False),
            ("limit_pct00", req("GET", P.encode() + b"?limit=5%00", g), 400, True),
            ("service_pct00", req("GET", P.encode() + b"?service_name=a%00b", g), 400, True),
            ("status_pct00", req("GET", P.encode() + b"?status=queued%00", g), 400, True),
            ("key_pct00", req("GET", P.encode() + b"?li%00mit=5", g), 400, True),
            ("unknown_param_pct00", req("GET", P.encode() + b"?x=%00", g), 400, True),
            ("file_pct00", req("GET", b"/api/v1/files/sessions%00/x?expires=1&signature=a", g), 400, True),
            ("encoded_path_still_routes", req("GET", b"/heal%74hz", [host]), 200, False),
        ]
    elif mode == "idle-lockout":
        return idle_lockout(port)
    else:
        print("unknown mode %s" % mode, file=sys.stderr)
        return 2
    bad = 0
    for name, data, want, must_close in cases:
        status, closed = send(port, data)
        ok = status == want and (closed or not must_close)
        bad += not ok
        print("%-28s %d%s %s" % (name, status, " closed" if closed else "",
                                 "ok" if ok else "FAIL: want %d%s" % (want, " closed" if must_close else "")))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
