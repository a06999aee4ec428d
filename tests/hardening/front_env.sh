# front_env.sh - `profd api` over a real redis-server, for the HTTP front's
# hardening tests (docs/http-front.md). Source it after skip.sh; it defines:
#
#   front_start [ENV=VALUE...]  start redis-server and `profd api` on a free
#                               port of 127.0.0.1; exports PORT, B (base URL),
#                               TOKEN (an admin token), WORK (a scratch dir)
#   front_sessions              how many session records Redis holds now
#   fail MESSAGE                print it (and the API's log tail), exit 1
#
# An EXIT trap stops both and removes WORK.
PROFD=${PROFD_BIN:?}
SRC=${PROFD_SOURCE_DIR:?}
need_cmd python3
need_cmd redis-server
need_cmd redis-cli
# shellcheck source=../support/redis.sh
source "$SRC/tests/support/redis.sh"
API_PID=""
WORK=$(mktemp -d /tmp/profd-front.XXXXXX)
export WORK
_front_cleanup() {
    if [ -n "$API_PID" ]; then kill "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true; fi
    redis_stop || true
    rm -rf "$WORK"
}
trap _front_cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    tail -5 "$WORK/api.log" >&2 2>/dev/null || true
    exit 1
}

front_start() {
    redis_start || fail "redis-server did not start"
    export PROFD_JWT_SECRET=front-test-secret PROFD_BUS=memory PROFD_STORAGE=file://$WORK/data
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    B="http://127.0.0.1:$PORT"
    export PORT B
    env "$@" "$PROFD" api --listen "127.0.0.1:$PORT" 2>"$WORK/api.log" &
    API_PID=$!
    local i
    for i in $(seq 1 100); do
        python3 - "$PORT" <<'PY' 2>/dev/null && break
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
sys.exit(0 if s.recv(100).startswith(b"HTTP/1.1 200") else 1)
PY
        kill -0 "$API_PID" 2>/dev/null || fail "profd api exited"
        sleep 0.1
    done
    [ "$i" -lt 100 ] || fail "profd api did not answer"
    TOKEN=$("$PROFD" api token --sub hardening --role admin)
    export TOKEN
}

front_sessions() {
    redis_cli --scan --pattern 'profd:session:*' | wc -l
}
