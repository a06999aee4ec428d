#!/bin/bash
# run_provisioned.sh - the built-in sampler against the interpreters that
# scripts/provision-pythons.sh installs (docs/test-pythons.md): the free-threaded 3.13t, and
# Debian sid's 3.14, 3.14d, 3.15 and 3.15d, each of the sid ones twice: under a plain chroot and
# in its own mount namespace (tests/support/pythons.sh), the two ways a host sees a process in a
# chroot or a container. All of them are read through their own _Py_DebugOffsets.
#
# Each capture samples fixture.py for 2 s with --threads --idle (pausing in chroot mode and for
# 3.13t, --nonblocking in ns mode) and check_stacks.py asserts frames and line numbers,
# qualnames, the two threads kept apart, the generator, the coroutine, the 1000-deep recursion,
# the unicode names and the CPU split within 5 points of the fixture's own time.thread_time()
# figures. The summary line must name the full version and the build ("3.14.10 debug",
# "3.13.15 free-threaded"), taken from the manifest's `python --version` record. On 3.13t,
# --gil must be answered with its one-line warning and all threads sampled.
# Missing interpreters skip (exit 77 when none is there) saying how to provision them; under
# CI=true they fail.
set -u
PROFD_BIN=${PROFD_BIN:?PROFD_BIN is not set}
HERE=$(cd "$(dirname "$0")" && pwd)
CHECKER_PY=/usr/bin/python3
. "$HERE/../support/skip.sh"
. "$HERE/../support/pythons.sh"
[ -x "$CHECKER_PY" ] || skip_provided "/usr/bin/python3 (the checker) is missing"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; profd_py_cleanup; rm -rf "$WORK"' EXIT

NAMES=(3.13t 3.14 3.14d 3.15 3.15d)
have=() rc=0
for n in "${NAMES[@]}"; do
  profd_py_check "$n" && have+=("$n") || { r=$?; [ $r -eq 2 ] && rc=1; }
done
[ $rc -eq 0 ] || exit 1
[ ${#have[@]} -gt 0 ] || skip_optional "none of ${NAMES[*]} is provisioned"

# The build as the summary line must name it: "3.14.10 debug", "3.13.15 free-threaded".
expected_build() {
  local name=$1 v
  v=$(profd_py_field "$name" version | awk '{print $1}')
  case $name in *t) v="$v free-threaded" ;; *d) v="$v debug" ;; esac
  echo "$v"
}

# capture_and_check NAME MODE SAMPLER-FLAGS: one 2 s capture of the fixture, checked.
capture_and_check() {
  local name=$1 mode=$2 flags=$3 pid rc ok=0 minor build taken
  minor=$(profd_py_field "$name" version | sed 's/^3\.\([0-9]*\).*/\1/')
  build=$(expected_build "$name")
  profd_py_launch "$name" "$mode" "$WORK/pid" "$HERE/fixture.py" 3.6 > "$WORK/fixture.out"
  pid=$(profd_py_wait_pid "$WORK/pid") || { echo "FAIL: $name $mode: fixture did not start"; return 1; }
  for _ in $(seq 100); do grep -q ready "$WORK/fixture.out" && break; sleep 0.05; done
  sleep 0.3
  "$PROFD_BIN" sample record --pid "$pid" --rate 100 --duration 2 --format raw \
      -o "$WORK/raw.txt" --threads --idle $flags 2> "$WORK/sampler.err"
  rc=$?
  wait "$PROFD_PY_LAUNCHER"
  tail -1 "$WORK/fixture.out" > "$WORK/split.json"
  echo "== CPython $name ($mode) ${flags:-pausing}: $(tail -1 "$WORK/sampler.err")"
  if [ $rc -ne 0 ]; then
    echo "FAIL: $name $mode: sampler exited $rc: $(cat "$WORK/sampler.err")"; return 1
  fi
  grep -q "^profd sample: Python $build, " "$WORK/sampler.err" ||
    { echo "FAIL: $name $mode: the summary does not name the build '$build'"; ok=1; }
  taken=$(sed -n 's/.* \([0-9]*\) samples taken of 200 expected.*/\1/p' "$WORK/sampler.err")
  if [ -z "$taken" ] || [ "$taken" -lt 150 ]; then
    echo "FAIL: $name $mode: ${taken:-no} samples taken of 200 expected at 100 Hz"; ok=1
  fi
  if ! "$CHECKER_PY" "$HERE/check_stacks.py" "$WORK/raw.txt" "$HERE/fixture.py" "$WORK/split.json" "$minor"; then
    echo "FAIL: $name $mode: stacks do not match the fixture; raw output:"; head -c 3000 "$WORK/raw.txt"
    ok=1
  fi
  return $ok
}

failed=0
for n in "${have[@]}"; do
  for mode in $(profd_py_modes "$n"); do
    flags=""; [ "$mode" = ns ] && flags="--nonblocking"
    # Load from other work on the machine can starve fixture and sampler at the same moments and
    # skew the split or the rate: a capture that misses is run once more before it fails. A wrong
    # frame or line fails both attempts.
    for attempt in 1 2; do
      if capture_and_check "$n" "$mode" "$flags"; then break; fi
      if [ $attempt -eq 2 ]; then failed=1; else echo "retrying $n $mode once"; fi
    done
  done
done

# --gil on a free-threaded build: one clear line, and every thread is still sampled.
if [[ " ${have[*]} " == *" 3.13t "* ]]; then
  profd_py_launch 3.13t host "$WORK/pid" "$HERE/fixture.py" 3 > "$WORK/fixture.out"
  pid=$(profd_py_wait_pid "$WORK/pid")
  for _ in $(seq 100); do grep -q ready "$WORK/fixture.out" && break; sleep 0.05; done
  "$PROFD_BIN" sample record --pid "$pid" --duration 1 --gil --idle -o "$WORK/gil.txt" 2> "$WORK/gil.err" ||
    { echo "FAIL: 3.13t --gil: sampler failed: $(cat "$WORK/gil.err")"; failed=1; }
  n=$(grep -c -- "--gil has no meaning for free-threaded Python 3.13" "$WORK/gil.err")
  [ "$n" = 1 ] || { echo "FAIL: 3.13t --gil: expected the warning once, got $n: $(cat "$WORK/gil.err")"; failed=1; }
  grep -q "café_ñ" "$WORK/gil.txt" && grep -q "spin (fixture.py" "$WORK/gil.txt" ||
    { echo "FAIL: 3.13t --gil: not every thread was sampled"; failed=1; }
  kill "$PROFD_PY_LAUNCHER" 2>/dev/null; wait "$PROFD_PY_LAUNCHER" 2>/dev/null
fi
[ $failed -eq 0 ] && echo "all provisioned interpreters read correctly: ${have[*]}"
exit $failed
