# A worker holding a message (the store is down, so it cannot record it) keeps
# it past the subscription's 10 s ack deadline by extending it: the other
# worker never sees it. kill -9 of the holder stops the extensions; after the
# deadline lapses Pub/Sub redelivers it to the survivor, which completes it.
. "$(dirname "$0")/lib.sh"
setup_pubsub
start_target web-api
start_worker a PROFD_HOST=node-1
start_worker b PROFD_HOST=node-1
redis_kill || true
id=$(uuid)
ps_produce "$(request "$id" web-api 1)"
holder() { grep -l '"store.unavailable"' "$T/a.log" "$T/b.log" 2>/dev/null | head -1 || true; }
has_holder() { [ -n "$(holder)" ]; }
wait_until 20 has_holder || fail "no worker took the request while the store was down"
if [ "$(holder)" = "$T/a.log" ]; then victim=$WORKER_a survivor=b other="$T/b.log"; else victim=$WORKER_b survivor=a other="$T/a.log"; fi
sleep 13 # past the 10 s ack deadline
grep -q '"store.unavailable"' "$other" && fail "the message was redelivered to $survivor while its holder lived"
kill -9 "$victim"
killed_at=$SECONDS
redis_restart || fail "redis did not restart"
wait_until 40 status_is "$id" completed || fail "session $id is $(field "$id" status): $(field "$id" error_message)"
[ -s "$T/$survivor.standin" ] || fail "the survivor never ran the capture"
[ "$(field "$id" attempt)" = 1 ] || fail "attempt is $(field "$id" attempt)"
note "held 13 s without redelivery; after kill -9 the survivor $survivor completed it $((SECONDS - killed_at)) s later"
echo "1 passed, 0 failed"
