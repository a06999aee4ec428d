# Redis (with --appendonly yes) restarted mid-run: requests sent before,
# during and after the outage all complete; none is lost.
. "$(dirname "$0")/lib.sh"
setup_services --appendonly
for i in 1 2 3; do start_target "svc-$i"; done
start_worker w1 PROFD_HOST=node-1
id1=$(uuid); id2=$(uuid); id3=$(uuid)
produce "$(request "$id1" svc-1 4)" "$id1"
wait_until 30 status_is "$id1" running || fail "first session never ran"
sleep 1.5 # let the AOF (appendfsync everysec) catch up, as production Redis would
kill -9 "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
produce "$(request "$id2" svc-2 2)" "$id2" # sent while Redis is down
sleep 3
redis_restart_same() { # start again on the same port and data directory
    _redis_spawn
}
redis_restart_same || fail "redis did not come back"
produce "$(request "$id3" svc-3 2)" "$id3"
for id in "$id1" "$id2" "$id3"; do
    wait_until 60 status_is "$id" completed || fail "$id is '$(field "$id" status)': $(field "$id" error_message)"
done
grep -q '"store.unavailable"\|"store.retrying"' "$T/w1.log" || fail "the worker never noticed the outage"
note "3 sessions (before, during, after a Redis kill -9 and restart) completed"
echo "1 passed, 0 failed"
