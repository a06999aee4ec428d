# The sampler hangs (ignores SIGTERM), crashes, or is stopped (SIGSTOP), ROUNDS
# times each: the capture stays bounded and the session fails with the reason.
. "$(dirname "$0")/lib.sh"
setup_services
for m in hang crash stop; do start_target "svc-$m"; done
start_worker hang PROFD_HOST=node-hang PYSPY_STANDIN_MODE=hang
start_worker crash PROFD_HOST=node-crash PYSPY_STANDIN_MODE=crash
start_worker stop PROFD_HOST=node-stop PYSPY_STANDIN_MODE=stop
t0=$SECONDS
for r in $(seq "$ROUNDS"); do
    for m in hang crash stop; do new_request "svc-$m" 1 "node-$m"; done
done
wait_until 60 all_finished || fail "sessions did not finish"
took=$((SECONDS - t0))
for i in "${!IDS[@]}"; do
    id=${IDS[$i]}
    want=(timeout sampler_failed sampler_failed)
    code=$(field "$id" error_code)
    [ "$code" = "${want[$((i % 3))]}" ] || fail "session $i: error_code $code, want ${want[$((i % 3))]}: $(field "$id" error_message)"
done
grep -q 'SIGSTOP' <<<"$(field "${IDS[2]}" error_message)" || fail "the stopped sampler's message: $(field "${IDS[2]}" error_message)"
for m in hang crash stop; do pgrep -f -- "--pid $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["pid"])' "$T/targets.json" "svc-$m") " >/dev/null && fail "a $m sampler is still running"; done
invariants sampler_faults "hang -> timeout, crash and SIGSTOP -> sampler_failed; all bounded ($took s)"
