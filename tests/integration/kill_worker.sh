# kill -9 of the worker mid-capture: its sampler dies with it (PDEATHSIG), the
# lease expires, and the second worker on the host runs the session again.
. "$(dirname "$0")/lib.sh"
setup_services
start_target web-api
start_worker a PROFD_HOST=node-1
start_worker b PROFD_HOST=node-1
id=$(uuid)
produce "$(request "$id" web-api 6)" "$id"
wait_until 30 status_is "$id" running || fail "session never ran"
sleep 1
if grep -q " record " "$T/a.standin"; then victim=$WORKER_a survivor=b; else victim=$WORKER_b survivor=a; fi
kill -9 "$victim"
sleep 1
pgrep -f -- "--pid $TARGET_PID " >/dev/null && fail "the dead worker's sampler is still running"
wait_until 60 finished "$id" || fail "session stuck at $(field "$id" status)"
[ "$(field "$id" status)" = completed ] || fail "session $(field "$id" status): $(field "$id" error_message)"
[ "$(field "$id" attempt)" = 2 ] || fail "attempt is $(field "$id" attempt), want 2"
grep -q " record " "$T/$survivor.standin" || fail "the survivor never ran the capture"
completed=$(consume_all profiling.events | grep "$id" | grep -c '"session.completed"')
[ "$completed" -eq 1 ] || fail "$completed completed events"
note "worker killed mid-capture; survivor $survivor completed attempt 2"
echo "1 passed, 0 failed"
