# A request delivered twice (same session id) is captured once.
. "$(dirname "$0")/lib.sh"
setup_services
start_target web-api
start_worker w1 PROFD_HOST=node-1
id=$(uuid)
msg=$(request "$id" web-api 2)
produce "$msg" "$id"
produce "$msg" "$id"
wait_until 30 status_is "$id" completed || fail "session is $(field "$id" status)"
produce "$msg" "$id" # a late redelivery of a finished session
sleep 3
runs=$(grep -c -- "--pid $TARGET_PID" "$T/w1.standin" || true)
[ "$runs" -eq 1 ] || fail "the sampler ran $runs times for one session"
[ "$(field "$id" attempt)" = 1 ] || fail "attempt is $(field "$id" attempt)"
completed=$(consume_all profiling.events | grep "$id" | grep -c '"session.completed"')
[ "$completed" -eq 1 ] || fail "$completed completed events"
note "three deliveries, one capture, one completed event"
echo "1 passed, 0 failed"
