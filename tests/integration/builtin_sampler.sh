# A session run by the built-in sampler (PROFD_SAMPLER=builtin) against a real
# CPython process completes with a flame graph naming the target's functions.
. "$(dirname "$0")/lib.sh"
setup_services
export PROFD_SAMPLER=builtin
cat >"$T/target.py" <<'PY'
def leaf_multiply(n):
    x = 0
    for i in range(n):
        x += i * i
    return x

def middle_layer():
    return leaf_multiply(20000)

def outer_loop():
    while True:
        middle_layer()

outer_loop()
PY
python3 "$T/target.py" &
TARGET_PID=$!
PIDS+=("$TARGET_PID")
echo "{\"busy-app\": {\"pid\": $TARGET_PID}}" >"$T/targets.json"
export PROFD_TARGETS="$T/targets.json"
start_worker w1 PROFD_HOST=node-1
id=$(uuid)
produce "$(request "$id" busy-app 2)" "$id"
wait_until 40 finished "$id" || fail "session stuck at $(field "$id" status)"
[ "$(field "$id" status)" = completed ] || fail "session $(field "$id" status): $(field "$id" error_message)"
case "$(field "$id" sampler)" in profd-builtin*) ;; *) fail "sampler is $(field "$id" sampler)" ;; esac
stacks="$T/blobs/sessions/$id/stacks.txt"
for fn in outer_loop middle_layer leaf_multiply; do
    grep -q "$fn (" "$stacks" || fail "stacks.txt lacks $fn"
    grep -q "$fn" "$T/blobs/sessions/$id/flamegraph.html" || fail "flamegraph.html lacks $fn"
done
grep -q 'outer_loop ([^)]*target.py:[0-9]*);middle_layer ([^)]*:[0-9]*);leaf_multiply' "$stacks" \
    || fail "the call chain outer_loop;middle_layer;leaf_multiply is not in stacks.txt"
count=$(field "$id" sample_count)
[ "$count" -gt 100 ] || fail "only $count samples in 2 s at 100 Hz"
note "builtin sampler: $count samples, chain outer_loop;middle_layer;leaf_multiply found"
echo "1 passed, 0 failed"
