#!/usr/bin/env bash
# smoke.sh - build every libFuzzer target and fuzz each one for a while.
#
#   fuzz/smoke.sh [SECONDS]     (default 40; `make fuzz`, and .ci/run after make test)
#
# Targets run two at a time (this machine has two cores), each for SECONDS,
# starting from its seed corpus (fuzz/corpus/T) and past findings
# (fuzz/regressions/T). New coverage is kept in the build directory, never in
# the repo. Any finding (crash, leak, UBSan report, timeout, OOM) fails the run
# and leaves the input in $BUILD/fuzz-work/artifacts/; the fix then adds it to
# fuzz/regressions/T/ so `make test` replays it for good (docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-40}
BUILD=${FUZZ_BUILD:-build-fuzz}
JOBS=${FUZZ_JOBS:-2}
TARGETS=(request render api session redis_url alert escape sampler_offsets http memory_output)

command -v clang >/dev/null || { echo "fuzz: clang is not installed (apt-get install clang)" >&2; exit 1; }
cmake -S . -B "$BUILD" -DPROFD_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target $(printf 'fuzz_%s ' "${TARGETS[@]}") >/dev/null

W=$BUILD/fuzz-work
rm -rf "$W/artifacts" "$W/logs"
mkdir -p "$W/artifacts" "$W/logs"

# run_one T: fuzz target T for SECONDS_EACH; its exit status is libFuzzer's.
run_one() {
    local t=$1 bin
    bin=$(find "$BUILD" -name "fuzz_$t" -type f -perm -u+x | head -1)
    [ -n "$bin" ] || { echo "fuzz: fuzz_$t was not built" >&2; return 1; }
    mkdir -p "$W/corpus/$t" "fuzz/corpus/$t"
    local dirs=("$W/corpus/$t" "fuzz/corpus/$t")
    [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=70000 \
        -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$W/artifacts/$t-" \
        "${dirs[@]}" >"$W/logs/$t.log" 2>&1
}

declare -A PID
failed=0
start=$(date +%s)
for t in "${TARGETS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    run_one "$t" &
    PID[$t]=$!
done
for t in "${TARGETS[@]}"; do
    if wait "${PID[$t]}"; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$W/logs/$t.log" | grep -o '[0-9]*$' || echo '?')
        cov=$(grep -o 'cov: [0-9]*' "$W/logs/$t.log" | tail -1 | grep -o '[0-9]*' || echo '?')
        printf 'fuzz %-10s ok: %s runs in %ss, coverage %s edges\n' "$t" "$runs" "$SECONDS_EACH" "$cov"
    else
        failed=1
        printf 'fuzz %-10s FINDING: see %s/logs/%s.log; input in %s/artifacts/\n' "$t" "$W" "$t" "$W" >&2
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$W/logs/$t.log" | head -8 >&2 || true
    fi
done
echo "fuzz: ${#TARGETS[@]} targets in $(($(date +%s) - start)) s"
if [ "$failed" = 1 ]; then
    echo "fuzz: findings above; add each input to fuzz/regressions/TARGET/ with its fix" >&2
    exit 1
fi
