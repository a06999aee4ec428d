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
. "$(dirname "$0")/../support/skip.sh"
need_cmd valgrind
: "${PROFD_BIN:?}" "${PROFD_BUILD_DIR:?}"
export PROFD_SOURCE_DIR=${PROFD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
VG=$(mktemp -d /tmp/profd-valgrind-XXXXXX)
trap '[ -n "${KEEP_VALGRIND_LOGS:-}" ] || rm -rf "$VG"' EXIT
export PROFD_WORKER_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 --track-fds=no --num-callers=30 --log-file=$VG/worker.%p.log"

start=$SECONDS
bash "$PROFD_SOURCE_DIR/tests/integration/e2e_kafka.sh" || { echo "FAIL: e2e_kafka.sh failed under valgrind" >&2; cat "$VG"/*.log >&2 2>/dev/null; exit 1; }
shopt -s nullglob
logs=("$VG"/worker.*.log)
bad=0 reports=0
for f in "${logs[@]}"; do
    # Logs without a summary belong to the worker's forked children (the
    # sampler, between fork and exec); the worker's own log has the summary.
    grep -q 'ERROR SUMMARY' "$f" || continue
    reports=$((reports + 1))
    if grep -qE 'Invalid (read|write|free)|uninitialised|Mismatched free|definitely lost: [1-9]' "$f" ||
        ! grep -q 'ERROR SUMMARY: 0 errors' "$f"; then
        bad=1
        echo "FAIL: memcheck findings in the worker ($f):" >&2
        grep -v '^==[0-9]*== *$' "$f" | head -120 >&2
    fi
    echo "# valgrind $(basename "$f"): $(grep -oE 'definitely lost: [0-9,]+ bytes' "$f" || echo 'no leaks:'), $(grep -oE 'in use at exit: .*' "$f"), $(grep -oE 'ERROR SUMMARY: [0-9]+ errors' "$f")"
done
[ "$reports" -ge 1 ] || { echo "FAIL: valgrind wrote no summary: the worker did not exit cleanly" >&2; bad=1; }
echo "# e2e_kafka under valgrind took $((SECONDS - start)) s"
[ $bad = 0 ] || exit 1
echo "PASS"
