# Redis (appendonly) killed with -9 and restarted mid-run, ROUNDS times, with
# requests sent before, during and after each outage.
. "$(dirname "$0")/lib.sh"
setup_services --appendonly
for i in 1 2 3; do start_target "svc-$i"; done
start_worker w1 PROFD_HOST=node-1
for r in $(seq "$ROUNDS"); do
    new_request svc-1 3
    wait_until 30 status_is "${IDS[-1]}" running || fail "round $r: nothing ran"
    sleep 1.5 # appendfsync everysec
    kill -9 "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
    new_request svc-2 1
    sleep 2
    _redis_spawn || fail "redis did not come back"
    new_request svc-3 1
done
invariants redis_restart "Redis down 2 s per round"
