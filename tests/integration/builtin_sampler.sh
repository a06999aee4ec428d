# A session run by the built-in sampler (PROFD_SAMPLER=builtin) against a real
# CPython process completes with a flame graph naming the target's functions.
. "$(dirname "$0")/lib.sh"
setup_services
export PROFD_SAMPLER=builtin
python3 "$BUSY_TARGET" &
TARGET_PID=$!
PIDS+=("$TARGET_PID")
echo "{\"busy-app\": {\"pid\": $TARGET_PID}}" >"$T/targets.json"
export PROFD_TARGETS="$T/targets.json"
start_worker w1 PROFD_HOST=node-1
builtin_session busy-app 100
echo "1 passed, 0 failed"
