# The spool disk fills up (a 256 KiB tmpfs): the session fails with a clear
# message, the worker keeps serving, and once there is room again the next
# request completes.
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/spool"
if ! mount -t tmpfs -o size=256k tmpfs "$T/spool" 2>/dev/null; then
    skip_provided "cannot mount a tmpfs here (needs root)"
fi
trap 'rc=$?; for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; umount -l "$T/spool" 2>/dev/null || true; (exit $rc); cleanup' EXIT
setup_services
export PROFD_SPOOL_DIR="$T/spool"
start_target web-api
start_worker w1 PROFD_HOST=node-1
dd if=/dev/zero of="$T/spool/filler" bs=1k count=250 2>/dev/null || true
for r in $(seq "$ROUNDS"); do new_request web-api 1; done
wait_until 60 all_finished || fail "sessions did not finish"
for id in "${IDS[@]}"; do
    [ "$(field "$id" status)" = failed ] || fail "session $id is $(field "$id" status) on a full disk"
    grep -qi 'no space left' <<<"$(field "$id" error_message)" || fail "unclear message: $(field "$id" error_message)"
done
kill -0 "$WORKER_w1" || fail "the worker died"
rm -f "$T/spool/filler"
mount -o remount,size=16m "$T/spool" || fail "cannot grow the tmpfs"
new_request web-api 1
wait_until 30 status_is "${IDS[-1]}" completed || fail "no recovery after the disk was freed: $(field "${IDS[-1]}" error_message)"
invariants spool_full "full tmpfs: failed with 'No space left on device', then recovered"
