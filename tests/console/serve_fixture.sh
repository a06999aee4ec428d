# serve_fixture.sh - sourced by the console tests: a real CPython target that
# keeps a few functions busy, and `profd serve` over it (built-in sampler,
# memory store, file storage in $WORK, a known JWT secret so the test can
# mint admin, viewer and other tokens). SAMPLER=py-spy (with the py-spy
# stand-in first on PATH) switches the sampler. Sets WORK, BASE, SECRET,
# SIGNIN_CODE, TARGET_PID; cleanup() stops what it started.
PROFD=${PROFD_BIN:?}
WORK=$(mktemp -d /tmp/profd-console-test.XXXXXX)
SERVE_PID=""
TARGET_PID=""
cleanup() {
    [ -n "$TARGET_PID" ] && { kill "$TARGET_PID" 2>/dev/null; wait "$TARGET_PID" 2>/dev/null; }
    [ -n "$SERVE_PID" ] && { kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null; }
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$WORK/serve.err" ] && tail -n 30 "$WORK/serve.err" >&2
    exit 1
}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
# The target: phase A (alpha) for the first 40 s, then phase B (beta), so two
# captures differ; it reports nothing, the profile is the truth.
"$PY" -c '
import time
t0 = time.time()
def alpha():
    return sum(i * i for i in range(3000))
def beta():
    return sum(i * 3 for i in range(3000))
def work():
    while True:
        if time.time() - t0 < float(__import__("sys").argv[1]):
            alpha()
        else:
            beta()
work()' "${PHASE_SECONDS:-40}" &
TARGET_PID=$!
printf '{"shop": {"pid": %d}, "shop-b": {"pid": %d}}\n' "$TARGET_PID" "$TARGET_PID" >"$WORK/targets.json"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SECRET=console-test-secret-$RANDOM$RANDOM
(cd "$WORK" && exec env -u PROFD_JWT_PUBLIC_KEY -u PROFD_REDIS_URL PROFD_JWT_SECRET="$SECRET" \
    PROFD_ALERT_TOKEN=alert-secret PROFD_TARGETS="$WORK/targets.json" PROFD_SAMPLER="${SAMPLER:-builtin}" \
    PROFD_STORAGE="file://$WORK/data" PROFD_LOG_LEVEL=${CONSOLE_LOG_LEVEL:-info} \
    "$PROFD" serve --listen "127.0.0.1:$PORT" >"$WORK/serve.out" 2>"$WORK/serve.err") &
SERVE_PID=$!
BASE="http://127.0.0.1:$PORT"
SIGNIN_CODE=""
for _ in $(seq 1 100); do
    SIGNIN_CODE=$(sed -n 's/^ *http.*\/?code=\([0-9a-f]*\)$/\1/p' "$WORK/serve.out")
    [ -n "$SIGNIN_CODE" ] && break
    kill -0 "$SERVE_PID" 2>/dev/null || fail "profd serve exited"
    sleep 0.1
done
[ -n "$SIGNIN_CODE" ] || fail "profd serve printed no sign-in link"
token() { "$PROFD" api token --secret "$SECRET" --sub "$1" --role "$2" --ttl 3600; }
export BASE SIGNIN_CODE WORK
export ADMIN_TOKEN=$(token alice admin) VIEWER_TOKEN=$(token vera viewer) GUEST_TOKEN=$(token gus guest)
export RATE_TOKEN=$(token rate-tester admin)
