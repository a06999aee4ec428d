# The target exits mid-capture, ROUNDS times: the session ends with what was
# collected (completed) or fails as target_exited; never left running.
. "$(dirname "$0")/lib.sh"
setup_services
victims=()
for r in $(seq "$ROUNDS"); do start_target "victim-$r"; victims+=("$TARGET_PID"); done
start_worker w1 PROFD_HOST=node-1
for r in $(seq "$ROUNDS"); do
    new_request "victim-$r" 4
    wait_until 30 status_is "${IDS[-1]}" running || fail "round $r: capture never started: $(field "${IDS[-1]}" error_message)"
    sleep 1
    kill -9 "${victims[$((r - 1))]}"
done
invariants target_exit "target killed 1 s into a 4 s capture"
