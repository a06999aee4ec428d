# test_same_pid_target_busy: two workers on one machine under different
# PROFD_HOST names (so their per-target locks differ, as for two containers
# sharing a pid namespace) capture the same CPython process at once with the
# built-in sampler, which holds ptrace on the target for the whole capture.
# One capture completes; the other fails with target_busy naming the tracer,
# not with a misleading permission_denied.
. "$(dirname "$0")/lib.sh"
setup_services
export PROFD_SAMPLER=builtin
python3 -c 'import time
while True: sum(i * i for i in range(2000)); time.sleep(0.001)' &
TARGET_PID=$!
PIDS+=("$TARGET_PID")
echo "{\"shared-app\": {\"pid\": $TARGET_PID}}" >"$T/targets.json"
export PROFD_TARGETS="$T/targets.json"
start_worker w1 PROFD_HOST=node-1
start_worker w2 PROFD_HOST=node-2
a=$(uuid)
b=$(uuid)
produce "$(request "$a" shared-app 8 node-1)" "$a" # long enough for w2 to join its group
wait_until 20 status_is "$a" running || fail "the first capture did not start: $(field "$a" status)"
produce "$(request "$b" shared-app 2 node-2)" "$b"
wait_until 40 finished "$a" || fail "session $a stuck at $(field "$a" status)"
wait_until 40 finished "$b" || fail "session $b stuck at $(field "$b" status)"
status_is "$a" completed || fail "the first capture is $(field "$a" status): $(field "$a" error_message)"
status_is "$b" failed || fail "the second capture of the same pid is $(field "$b" status)"
code=$(field "$b" error_code)
msg=$(field "$b" error_message)
[ "$code" = target_busy ] || fail "the loser failed with $code ($msg), want target_busy"
grep -Eq "^process $TARGET_PID is already being traced by process [0-9]+" <<<"$msg" \
    || fail "error_message is '$msg'"
note "same pid from two workers: $a completed, $b failed target_busy ($msg)"
echo "1 passed, 0 failed"
