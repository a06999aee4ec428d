#!/usr/bin/env bash
# request_smuggling.sh - the smuggling corpus (http_corpus.py, 67 framing
# cases) against `profd api` with Redis: every case gets 400 and a closed
# connection, and afterwards Redis holds no session at all. A well-framed
# start then creates exactly one, which shows the store check can fail.
set -euo pipefail
. "$(dirname "$0")/../support/skip.sh"
. "$(dirname "$0")/front_env.sh"
front_start
H=$(dirname "$0")
python3 "$H/http_corpus.py" 127.0.0.1 "$PORT" "$TOKEN" >"$WORK/corpus.txt" || {
    grep -v ' ok$' "$WORK/corpus.txt" >&2
    fail "corpus: $(tail -1 "$WORK/corpus.txt")"
}
tail -1 "$WORK/corpus.txt"
n=$(python3 "$H/http_corpus.py" 127.0.0.1 "$PORT" "$TOKEN" --list | wc -l)
[ "$n" -ge 40 ] || fail "the corpus shrank to $n cases"
[ "$(front_sessions)" = 0 ] || fail "$(front_sessions) session(s) created by the corpus"
# The control: one well-framed chunked start on a kept-alive connection.
python3 - "$PORT" "$TOKEN" <<'PY' || fail "the control request was not answered 201"
import socket, sys
port, tok = int(sys.argv[1]), sys.argv[2]
b = b'{"service_name":"smuggle-control","duration_seconds":10}'
req = (b"POST /api/v1/monitoring/profile/start HTTP/1.1\r\nHost: 127.0.0.1\r\n"
       b"Authorization: Bearer " + tok.encode() + b"\r\nContent-Type: application/json\r\n"
       b"Transfer-Encoding: chunked\r\n\r\n%x;note=\"ok\"\r\n" % len(b) + b + b"\r\n0\r\n\r\n")
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(req)
sys.exit(0 if s.recv(4096).startswith(b"HTTP/1.1 201") else 1)
PY
[ "$(front_sessions)" = 1 ] || fail "the control start left $(front_sessions) sessions, not 1"
echo "PASS"
