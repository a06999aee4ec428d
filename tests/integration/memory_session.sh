# Memory sessions through the worker (docs/memory.md), against the real redis-server and the
# librdkafka mock cluster: a "profile_type": "memory" request for a CPython 3.14 target (sid
# root) completes with profile_type, bytes_total and blocks_total on the record, the 4:1
# attribution of tests/sampler_memory/fixture.py in stacks.txt, and bytes as the unit of
# flamegraph.html and profile.json, again after `profd reprocess`; the same request for a 3.13 target fails with
# error_code python_too_old and the PEP 768 line.
. "$(dirname "$0")/lib.sh"
. "$SUPPORT/pythons.sh"
set +u
profd_py_require 3.14 3.13
set -u
setup_services
FIX="$PROFD_SOURCE_DIR/tests/sampler_memory/fixture.py"
profd_py_launch 3.14 chroot "$T/pid" "$FIX" 40 {RUNDIR} plain >"$T/fx.out" 2>&1
PIDS+=("$PROFD_PY_LAUNCHER")
RUN=$PROFD_PY_RUNDIR
pid=$(profd_py_wait_pid "$T/pid")
(/root/.pyenv/versions/3.13.*/bin/python -c 'import time; time.sleep(60)') &
old=$!
PIDS+=("$old")
printf '{"mem-app": {"pid": %s}, "old-app": {"pid": %s}}\n' "$pid" "$old" >"$T/targets.json"
export PROFD_TARGETS="$T/targets.json"
start_worker w1 PROFD_HOST=node-1
memreq() { # memreq ID SERVICE
    printf '{"version":1,"type":"profile","session_id":"%s","service_name":"%s","duration_seconds":4,"profile_type":"memory","memory_frames":16,"trigger":"cli","requested_by":"it"}' "$1" "$2"
}
id=$(uuid)
produce "$(memreq "$id" mem-app)" "$id"
# Grow once the window has begun: the capture script has removed itself.
for _ in $(seq 400); do
    d=$(ls -d "/proc/$pid/root/tmp/profd-memory."* 2>/dev/null | head -1 || true)
    [ -n "$d" ] && [ ! -e "$d/capture.py" ] && break
    sleep 0.05
done
[ -n "$d" ] || fail "no capture directory appeared in the target's /tmp"
touch "$RUN/grow"
wait_until 60 finished "$id" || fail "memory session stuck at $(field "$id" status)"
[ "$(field "$id" status)" = completed ] || fail "memory session $(field "$id" status): $(field "$id" error_message)"
[ "$(field "$id" profile_type)" = memory ] || fail "profile_type is $(field "$id" profile_type)"
case "$(field "$id" sampler)" in profd-memory*) ;; *) fail "sampler is $(field "$id" sampler)" ;; esac
bytes=$(field "$id" bytes_total)
[ "$bytes" -ge $((50 * 1048576)) ] || fail "bytes_total $bytes is under the 50 MiB the fixture keeps"
[ "$(field "$id" blocks_total)" -ge 50 ] || fail "blocks_total is $(field "$id" blocks_total)"
[ -z "$(field "$id" sample_count)" ] || fail "sample_count is $(field "$id" sample_count) for a memory session"
dir="$T/blobs/sessions/$id"
python3 - "$dir/stacks.txt" <<'PY' || fail "attribution in stacks.txt"
import sys
c = i = 0
for line in open(sys.argv[1]):
    stack, n = line.rsplit(" ", 1)
    if "grow_cache (" in stack: c += int(n)
    if "grow_index (" in stack: i += int(n)
r = c / i if i else 0
print("# grow_cache %d B, grow_index %d B, ratio %.4f" % (c, i, r))
sys.exit(0 if abs(r / 4 - 1) <= 0.05 and c >= 40 * 1048576 else 1)
PY
grep -q '"unit":"bytes"' "$dir/flamegraph.html" || fail "flamegraph.html does not say bytes"
grep -q 'bytes live at the end of the window' "$dir/flamegraph.html" || fail "flamegraph.html header lacks the unit line"
grep -q '"unit":"bytes"' "$dir/profile.json" || fail "profile.json unit is not bytes"
[ -z "$(ls -d "/proc/$pid/root/tmp/profd-memory."* 2>/dev/null || true)" ] || fail "the capture directory is left in the target"
kill -0 "$pid" || fail "the target died"
note "memory session: $bytes bytes, overhead $(field "$id" overhead_percent)"

# Reprocessing re-renders from stacks.txt, in bytes again.
rm -f "$dir/flamegraph.html" "$dir/profile.json"
"$PROFD_BIN" reprocess --session "$id" --local >"$T/reprocess.out" 2>&1 || fail "reprocess: $(cat "$T/reprocess.out")"
[ -n "$(field "$id" reprocessed_at)" ] || fail "reprocessed_at is not set"
grep -q '"unit":"bytes"' "$dir/flamegraph.html" || fail "the reprocessed flamegraph.html is not in bytes"
grep -q 'memory profile' "$dir/flamegraph.html" || fail "the reprocessed title does not say memory"
grep -q '"unit":"bytes"' "$dir/profile.json" || fail "the reprocessed profile.json is not in bytes"
[ "$(field "$id" bytes_total)" = "$bytes" ] || fail "reprocess changed bytes_total"

id2=$(uuid)
produce "$(memreq "$id2" old-app)" "$id2"
wait_until 40 finished "$id2" || fail "3.13 session stuck at $(field "$id2" status)"
[ "$(field "$id2" status)" = failed ] || fail "3.13 session is $(field "$id2" status)"
[ "$(field "$id2" error_code)" = python_too_old ] || fail "3.13 error_code is $(field "$id2" error_code)"
case "$(field "$id2" error_message)" in
"memory profiling needs CPython 3.14 or newer (PEP 768)"*) ;;
*) fail "3.13 error_message: $(field "$id2" error_message)" ;;
esac
note "3.13: $(field "$id2" error_code): $(field "$id2" error_message)"
profd_py_cleanup
echo "2 passed, 0 failed"
