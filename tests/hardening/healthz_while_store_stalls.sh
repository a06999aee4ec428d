#!/usr/bin/env bash
# healthz_while_store_stalls.sh - with redis-server stopped (SIGSTOP, so the
# API's store calls hang instead of failing), 16 GET session requests occupy
# every handler thread; GET /healthz is still answered 200 within 1 s,
# because it runs on the event loop, not on the pool (docs/http-front.md).
set -euo pipefail
. "$(dirname "$0")/../support/skip.sh"
. "$(dirname "$0")/front_env.sh"
front_start
ID=$(curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    "$B/api/v1/monitoring/profile/start" -d '{"service_name":"stall-svc","duration_seconds":10}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])') || fail "start"
kill -STOP "$REDIS_PID"
python3 - "$PORT" "$TOKEN" "$ID" <<'PY' || { kill -CONT "$REDIS_PID"; fail "healthz waited on the store"; }
import socket, sys, time
port, tok, sid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
held = []
for _ in range(16):  # more than the 8 handler threads
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(("GET /api/v1/monitoring/profile/%s HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\n\r\n" % (sid, tok)).encode())
    held.append(s)
time.sleep(0.5)
# A request that needs the store gets no answer while Redis is stopped.
probe = socket.create_connection(("127.0.0.1", port), timeout=0.5)
probe.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    busy = not probe.recv(100)
except socket.timeout:
    busy = True
print("store-bound request hangs while Redis is stopped: %s" % busy)
bad = 0
for i in range(10):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=1)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    try:
        got = s.recv(100)
    except socket.timeout:
        got = b""
    dt = time.monotonic() - t0
    ok = got.startswith(b"HTTP/1.1 200") and dt < 1
    bad += not ok
    print("healthz %d: %s in %.3f s" % (i, "ok" if ok else "FAIL", dt))
sys.exit(1 if bad or not busy else 0)
PY
kill -CONT "$REDIS_PID"
echo "PASS"
