#!/usr/bin/env bash
# valgrind_worker.sh - the worker's Kafka integration run (tests/integration/
# e2e_kafka.sh) with the worker under valgrind memcheck (`make valgrind`).
#
# lib.sh runs the worker behind PROFD_WORKER_WRAPPER and, when it is set,
# stops it with SIGTERM at the end so memcheck writes its report. Passes when
# the test passes, the worker exited through valgrind (one report per worker
# process), and every report has no bytes "definitely lost" and no invalid
# reads or writes (any memcheck error: ERROR SUMMARY must be 0).
# Still-reachable and possibly-lost blocks (threads of librdkafka and OpenSSL
# caches alive at exit) are reported but do not fail the run.
set -euo pipefail
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 0; }
: "${PROFD_BIN:?}" "${PROFD_BUILD_DIR:?}"
export PROFD_SOURCE_DIR=${PROFD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
VG=$(mktemp -d /tmp/profd-valgrind-XXXXXX)
trap 'rm -rf "$VG"' EXIT
export PROFD_WORKER_WRAPPER="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --track-fds=no --num-callers=30 --log-file=$VG/worker.%p.log"

start=$SECONDS
bash "$PROFD_SOURCE_DIR/tests/integration/e2e_kafka.sh" || { echo "FAIL: e2e_kafka.sh failed under valgrind" >&2; cat "$VG"/*.log >&2 2>/dev/null; exit 1; }
shopt -s nullglob
logs=("$VG"/worker.*.log)
[ ${#logs[@]} -ge 1 ] || { echo "FAIL: valgrind wrote no report (did the worker exit cleanly?)" >&2; exit 1; }
bad=0
for f in "${logs[@]}"; do
    # --quiet: the log holds only errors and the leak summary.
    if grep -qE 'Invalid (read|write|free)|uninitialised|Mismatched free|definitely lost in [1-9]' "$f"; then
        bad=1
        echo "FAIL: memcheck findings in the worker ($f):" >&2
        grep -E -A20 'Invalid (read|write|free)|uninitialised|Mismatched|definitely lost in' "$f" | head -80 >&2
    fi
    definite=$(grep -oE 'definitely lost: [0-9,]+ bytes' "$f" | grep -oE '[0-9,]+' || echo 0)
    echo "# valgrind $(basename "$f"): definitely lost ${definite:-0} bytes; $(grep -cE 'Invalid (read|write)' "$f") invalid accesses"
done
echo "# e2e_kafka under valgrind took $((SECONDS - start)) s"
[ $bad = 0 ] || exit 1
echo "PASS"
