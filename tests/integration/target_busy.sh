# test_same_pid_target_busy: the built-in sampler traces a target one sample at
# a time (src/sampler/builtin/pause.c), so two workers on one machine under
# different PROFD_HOST names (their per-target locks differ, as for two
# containers sharing a pid namespace) capturing the same CPython process at once
# both complete. A tracer that holds the target for good (here strace, as a
# debugger would) makes a capture fail with target_busy naming that tracer, not
# with a misleading permission_denied.
. "$(dirname "$0")/lib.sh"
setup_services
need_cmd strace strace
export PROFD_SAMPLER=builtin
python3 -c 'import time
while True: sum(i * i for i in range(2000)); time.sleep(0.001)' &
TARGET_PID=$!
PIDS+=("$TARGET_PID")
echo "{\"shared-app\": {\"pid\": $TARGET_PID}}" >"$T/targets.json"
export PROFD_TARGETS="$T/targets.json"
start_worker w1 PROFD_HOST=node-1
start_worker w2 PROFD_HOST=node-2

# 1: two captures of the same pid at once: both complete.
a=$(uuid)
b=$(uuid)
produce "$(request "$a" shared-app 8 node-1)" "$a" # long enough for w2 to join its group
wait_until 20 status_is "$a" running || fail "the first capture did not start: $(field "$a" status)"
produce "$(request "$b" shared-app 2 node-2)" "$b"
wait_until 40 finished "$a" || fail "session $a stuck at $(field "$a" status)"
wait_until 40 finished "$b" || fail "session $b stuck at $(field "$b" status)"
for s in "$a" "$b"; do
    status_is "$s" completed || fail "capture $s of the shared pid is $(field "$s" status): $(field "$s" error_code) $(field "$s" error_message)"
done
note "same pid from two workers at once: $a and $b both completed"

# 2: a tracer that stays: target_busy, naming it.
strace -q -p "$TARGET_PID" -e trace=none -o /dev/null &
TRACER=$!
PIDS+=("$TRACER")
wait_until 10 grep -q "^TracerPid:[[:space:]]*$TRACER\$" "/proc/$TARGET_PID/status" || fail "strace did not attach"
c=$(uuid)
produce "$(request "$c" shared-app 2 node-1)" "$c"
wait_until 40 finished "$c" || fail "session $c stuck at $(field "$c" status)"
status_is "$c" failed || fail "a capture of a pid that strace holds is $(field "$c" status)"
code=$(field "$c" error_code)
msg=$(field "$c" error_message)
[ "$code" = target_busy ] || fail "the capture failed with $code ($msg), want target_busy"
grep -Eq "^process $TARGET_PID is already being traced by process $TRACER" <<<"$msg" \
    || fail "error_message is '$msg'"
kill "$TRACER"
note "a pid held by strace ($TRACER): $c failed target_busy ($msg)"
echo "2 passed, 0 failed"
