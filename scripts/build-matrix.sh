#!/usr/bin/env bash
# build-matrix.sh - build every target -Werror clean in Debug, RelWithDebInfo
# and Release with both gcc and clang, each in its own directory, and run the
# cmocka unit tests (CTest label "unit") in each. `make test` (RelWithDebInfo,
# gcc, the whole suite) stays the full run; this catches what only another
# optimisation level or compiler reports (-Wmaybe-uninitialized at -O2/-O3,
# say) or breaks (NDEBUG in Release).
#
#   scripts/build-matrix.sh            all six combinations
#   MATRIX_TYPES="Release" MATRIX_CCS="gcc" scripts/build-matrix.sh
#
#   MATRIX_DIR    where the build directories go    [build-matrix]
#   JOBS          parallel compile jobs              [2]
#   TEST_JOBS     parallel unit tests (most of their time is waiting on
#                 sockets and child processes, not CPU)  [4]
#
# Every combination is tried; the script prints a table of what each took and
# exits 1 if any failed to configure, build or pass.
set -uo pipefail
cd "$(dirname "$0")/.."
DIR=${MATRIX_DIR:-build-matrix}
JOBS=${JOBS:-2}
TEST_JOBS=${TEST_JOBS:-4}
read -r -a TYPES <<<"${MATRIX_TYPES:-Debug RelWithDebInfo Release}"
read -r -a CCS <<<"${MATRIX_CCS:-gcc clang}"

rows=() failed=0 start=$SECONDS
for cc in "${CCS[@]}"; do
    for type in "${TYPES[@]}"; do
        b="$DIR/$type-$cc" log="$DIR/$type-$cc.log"
        mkdir -p "$DIR"
        echo "--- build-matrix: $type $cc ($b)"
        t0=$SECONDS status=ok
        if ! cmake -S . -B "$b" -DCMAKE_BUILD_TYPE="$type" -DCMAKE_C_COMPILER="$cc" >"$log" 2>&1; then
            status="configure failed"
        elif ! cmake --build "$b" -j"$JOBS" >>"$log" 2>&1; then
            status="build failed"
        fi
        t1=$SECONDS
        if [ "$status" = ok ] &&
            ! (cd "$b" && ctest -L unit -j"$TEST_JOBS" --output-on-failure --timeout 120) >>"$log" 2>&1; then
            status="unit tests failed"
        fi
        t2=$SECONDS
        if [ "$status" != ok ]; then
            failed=1
            echo "--- build-matrix: $type $cc: $status; the end of $log:"
            grep -E 'error|warning:|Failed|\*\*\*' "$log" | head -40
            tail -n 30 "$log"
        fi
        ntests=$(grep -Eo 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$')
        rows+=("$(printf '%-15s %-6s %-18s build %4d s  unit tests %4d s (%s)' "$type" "$cc" "$status" \
            $((t1 - t0)) $((t2 - t1)) "${ntests:-0}")")
    done
done
echo "--- build-matrix: $((SECONDS - start)) s in all"
printf '    %s\n' "${rows[@]}"
exit $failed
