#!/usr/bin/env bash
# init_gcp.sh - deploy/init-gcp.sh (the compose stack's gcp-init service)
# against Google's real Pub/Sub emulator: it creates the request, dead-letter
# and event topics and the workers' subscription with a dead-letter policy
# (10 attempts), and a second run succeeds without changing anything.
# The GCS half (bucket creation in fake-gcs-server) needs that server, which is
# not on this machine; the compose stack exercises it.
set -euo pipefail
SRC=${PROFD_SOURCE_DIR:?}
EMU=/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator
[ -x "$EMU" ] || { echo "SKIP: the Pub/Sub emulator is not installed ($EMU)"; exit 0; }
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }
TMP=$(mktemp -d /tmp/profd-init-gcp.XXXXXX)
EMU_PID=
cleanup() { [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$EMU" --host=127.0.0.1 --port="$PORT" >"$TMP/emu.log" 2>&1 &
EMU_PID=$!
BASE=http://127.0.0.1:$PORT/v1/projects/profd-test

export PUBSUB_URL=http://127.0.0.1:$PORT GOOGLE_CLOUD_PROJECT=profd-test
sh "$SRC/deploy/init-gcp.sh" pubsub > "$TMP/run1" 2>&1 || { cat "$TMP/run1" "$TMP/emu.log"; fail "init-gcp.sh pubsub"; }
cat "$TMP/run1"

curl -fsS "$BASE/subscriptions/profiling-requests-workers" > "$TMP/sub.json" || fail "no subscription"
python3 - "$TMP/sub.json" <<'PY' || fail "the subscription is not as documented"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["topic"] == "projects/profd-test/topics/profiling-requests", s
assert s["ackDeadlineSeconds"] == 60, s
dl = s.get("deadLetterPolicy") or {}
assert dl.get("deadLetterTopic") == "projects/profd-test/topics/profiling-requests-dlq", s
assert dl.get("maxDeliveryAttempts") == 10, s
PY
for t in profiling-requests profiling-requests-dlq profiling-events; do
    curl -fsS -o /dev/null "$BASE/topics/$t" || fail "topic $t was not created"
done
echo "ok: topics and the dead-lettering subscription exist"

sh "$SRC/deploy/init-gcp.sh" pubsub > "$TMP/run2" 2>&1 || { cat "$TMP/run2"; fail "a second run failed"; }
grep -q -- "-> 409" "$TMP/run2" || { cat "$TMP/run2"; fail "the second run did not find the resources in place"; }
if sh "$SRC/deploy/init-gcp.sh" nonsense >/dev/null 2>&1; then fail "an unknown step was accepted"; fi
echo "PASS: init-gcp.sh pubsub against the emulator, idempotent"
