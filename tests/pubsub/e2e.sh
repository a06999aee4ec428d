# The worker over Pub/Sub end to end: a request published on the topic
# becomes a completed session with its files, and session.started and
# session.completed arrive on the event topic with the session_id attribute.
# `profd submit` prints an id that completes the same way, and a malformed
# message goes to the DLQ topic with its error attributes.
. "$(dirname "$0")/lib.sh"
setup_pubsub
pubsub_sub dlq-all "$PROFD_DLQ_TOPIC" 10
start_target web-api
start_worker w1 PROFD_HOST=node-1

id=$(uuid)
ps_produce "$(request "$id" web-api 2)"
wait_until 40 status_is "$id" completed || fail "session $id is $(field "$id" status): $(field "$id" error_message)"
[ "$(field "$id" host)" = node-1 ] || fail "host is $(field "$id" host)"
[ "$(field "$id" pid)" = "$TARGET_PID" ] || fail "pid is $(field "$id" pid), want $TARGET_PID"
[ "$(field "$id" attempt)" = 1 ] || fail "attempt is $(field "$id" attempt)"
for f in stacks.txt profile.json flamegraph.html; do
    [ -s "$T/blobs/sessions/$id/$f" ] || fail "sessions/$id/$f not stored"
done
wait_until 10 has_events "$id" session.completed || fail "no session.completed event with session_id=$id"
[ "$(events_for "$id" session.started)" = 1 ] || fail "want one session.started event for $id"
note "published request $id completed; events carry the session_id attribute"

# profd submit: prints the id, records it queued (Redis is up), and it completes.
sid=$(PROFD_LOG_LEVEL=warn "$PROFD_BIN" submit --service web-api --duration 1 --label origin=test 2>"$T/submit.err") \
    || fail "submit failed: $(cat "$T/submit.err")"
python3 -c 'import sys,uuid; uuid.UUID(sys.argv[1])' "$sid" || fail "submit printed '$sid', not a UUID"
[ ! -s "$T/submit.err" ] || fail "submit wrote to stderr: $(cat "$T/submit.err")"
wait_until 40 status_is "$sid" completed || fail "submitted $sid is $(field "$sid" status): $(field "$sid" error_message)"
[ "$(field "$sid" trigger)" = cli ] || fail "trigger is $(field "$sid" trigger)"
wait_until 10 has_events "$sid" session.completed || fail "no session.completed for $sid"
[ "$(events_for "$sid" session.queued)" = 1 ] || fail "submit did not announce session.queued"
note "profd submit printed $sid, which completed"

# A malformed request: DLQ with its reason as attributes; the worker carries on.
pubsub_publish "$PROFD_REQUEST_TOPIC" '{"version":1,"type":"profile","service_name":"Bad Name"}'
got=""
for _ in $(seq 50); do
    got=$(pubsub_pull_all dlq-all 10)
    [ -n "$got" ] && break
    sleep 0.2
done
[ -n "$got" ] || fail "nothing on the DLQ topic"
echo "$got" | python3 -c 'import json,sys
m=json.loads(sys.stdin.readline()); a=m["attributes"]
assert a["profd-error-code"]=="invalid_request", a
assert "service_name" in a["profd-error"], a' || fail "DLQ attributes wrong: $got"
note "a malformed request went to the DLQ with profd-error-code and profd-error attributes"

# submit without a reachable Redis still publishes, and the worker records it.
sid2=$(PROFD_LOG_LEVEL=warn PROFD_REDIS_URL=redis://127.0.0.1:1/0 "$PROFD_BIN" submit --service web-api --duration 1 2>"$T/submit2.err") \
    || fail "submit without Redis failed: $(cat "$T/submit2.err")"
grep -q "not reachable" "$T/submit2.err" || fail "submit did not say the store is unreachable"
wait_until 40 status_is "$sid2" completed || fail "bus-only submit $sid2 is $(field "$sid2" status)"
note "submit without the store: published, recorded by the worker, completed"
echo "1 passed, 0 failed"
