# The transport's cmocka tests (test_pubsub_transport.c) against a fresh
# emulator: round trip, ack / extend / nack, pause, flow control, errors.
set -euo pipefail
. "$PROFD_SOURCE_DIR/tests/support/pubsub.sh"
if ! pubsub_available 2>/dev/null; then
    echo "SKIP: $(pubsub_available 2>&1 || true)"
    exit 0
fi
trap pubsub_stop EXIT
pubsub_start
export PROFD_LOG_LEVEL=warn PROFD_LOG_FORMAT=text
"$PROFD_BUILD_DIR/tests/pubsub/test_pubsub_transport"
