# The transport's cmocka tests (test_pubsub_transport.c) against a fresh
# emulator: round trip, ack / extend / nack, pause, flow control, errors.
set -euo pipefail
. "$PROFD_SOURCE_DIR/tests/support/pubsub.sh"
. "$(dirname "$0")/../support/skip.sh"
# Java and the emulator are not installed by scripts/install-deps.sh: optional.
if ! why=$(pubsub_available 2>&1); then
    skip_optional "$why"
fi
[ -x "$PROFD_BUILD_DIR/tests/pubsub/test_pubsub_transport" ] ||
    skip_provided "test_pubsub_transport is not built (cmocka missing: libcmocka-dev)"
trap pubsub_stop EXIT
pubsub_start
export PROFD_LOG_LEVEL=warn PROFD_LOG_FORMAT=text
"$PROFD_BUILD_DIR/tests/pubsub/test_pubsub_transport"
: "${PROFD_BIN:?}"

# Publish retries: through a proxy that answers 503, 429 and a connection
# reset before forwarding, `profd submit` still publishes once; a 400 is not
# retried.
PROXY_OUT=$(mktemp)
python3 "$PROFD_SOURCE_DIR/tests/pubsub/fault_proxy.py" "$PUBSUB_EMULATOR_HOST" ":publish" 503,429,reset >"$PROXY_OUT" &
PROXY_PID=$!
trap 'kill $PROXY_PID 2>/dev/null || true; rm -f "$PROXY_OUT"; pubsub_stop' EXIT
for _ in $(seq 50); do grep -q PORT= "$PROXY_OUT" && break; sleep 0.1; done
PROXY="127.0.0.1:$(sed -n 's/^PORT=//p' "$PROXY_OUT")"
pubsub_topic retry-requests
pubsub_sub retry-workers retry-requests
id=$(PROFD_BUS=pubsub PUBSUB_EMULATOR_HOST=$PROXY PROFD_REQUEST_TOPIC=retry-requests \
    "$PROFD_BIN" submit --no-store --service web-api --duration 10) || { echo "FAIL: submit through faults failed"; exit 1; }
stats=$(curl -s "http://$PROXY/_stats")
[ "$stats" = '{"faults": 3, "forwarded": 1}' ] || { echo "FAIL: proxy saw $stats"; exit 1; }
got=$(pubsub_pull_all retry-workers)
[ "$(printf '%s\n' "$got" | grep -c "$id")" = 1 ] || { echo "FAIL: want the request once on the topic, got: $got"; exit 1; }
kill $PROXY_PID; wait $PROXY_PID 2>/dev/null || true
python3 "$PROFD_SOURCE_DIR/tests/pubsub/fault_proxy.py" "$PUBSUB_EMULATOR_HOST" ":publish" 400 >"$PROXY_OUT" &
PROXY_PID=$!
for _ in $(seq 50); do grep -q PORT= "$PROXY_OUT" && break; sleep 0.1; done
PROXY="127.0.0.1:$(sed -n 's/^PORT=//p' "$PROXY_OUT")"
rc=0
PROFD_BUS=pubsub PUBSUB_EMULATOR_HOST=$PROXY PROFD_REQUEST_TOPIC=retry-requests \
    "$PROFD_BIN" submit --no-store --service web-api --duration 10 2>"$PROXY_OUT.err" || rc=$?
[ $rc = 1 ] || { echo "FAIL: submit after a 400 exited $rc"; exit 1; }
grep -q "failed after 1 attempt: HTTP 400: injected fault" "$PROXY_OUT.err" || { echo "FAIL: $(cat "$PROXY_OUT.err")"; exit 1; }
rm -f "$PROXY_OUT.err"
echo "# publish retried 503, 429 and a reset, and published once; a 400 failed at once"
