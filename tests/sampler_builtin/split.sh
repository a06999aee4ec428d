#!/bin/bash
# split.sh - unbiased timing: the share of samples in each phase of a target must be within
# 5 points of the share of CPU time the target measured itself (time.thread_time()), for a
# free-running loop (7 ms in seven(), 3 ms in three(), back to back) and for the same loop on
# absolute 10 ms ticks (the period of a 100 Hz sampler, where fixed-deadline sampling saw
# 10-100 % instead of 70 %), at --rate 100, in pausing and in nonblocking mode.
#
# Every interpreter of tests/support/pythons.sh that is present runs the lockstep loop and the
# free loop, one in pausing and one in nonblocking mode (alternating between interpreters);
# /usr/bin/python3.11 runs all four combinations. A sid-root interpreter runs under chroot.
# 3.13t, 3.14 and 3.15 are skipped, with the sampler's line, while the sampler refuses them.
#
# The error is binomial (about 2.3 points at 400 samples for a 70/30 split), so a capture that
# misses is repeated once; a sampler in lockstep misses by 20-60 points every time.
set -u
PROFD_BIN=${PROFD_BIN:?PROFD_BIN is not set}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../support/skip.sh"
. "$HERE/../support/pythons.sh"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; profd_py_cleanup; rm -rf "$WORK"' EXIT
SECONDS_PER_CAPTURE=${PROFD_SPLIT_SECONDS:-4}
failed=0 ran=0
declare -A REFUSAL_OK=([3.13t]=1 [3.14]=1 [3.15]=1)

# capture NAME LAUNCHMODE LOOP SAMPLERMODE: 0 ok, 1 off by more than 5 points, 2 refused or
# broken (no retry).
capture() {
  local name=$1 lmode=$2 loop=$3 smode=$4 pid
  profd_py_launch "$name" "$lmode" "$WORK/pid" "$HERE/targets.py" split $((SECONDS_PER_CAPTURE + 2)) "$loop" > "$WORK/target.out"
  pid=$(profd_py_wait_pid "$WORK/pid") || { echo "FAIL: $name: target did not start"; return 2; }
  for _ in $(seq 100); do grep -q ready "$WORK/target.out" && break; sleep 0.05; done
  sleep 0.5
  local flag=""; [ "$smode" = nonblocking ] && flag=--nonblocking
  "$PROFD_BIN" sample record --pid "$pid" --rate 100 --duration "$SECONDS_PER_CAPTURE" $flag \
    -o "$WORK/raw.txt" 2> "$WORK/err"
  local rc=$?
  wait "$PROFD_PY_LAUNCHER"
  # 3.13t, 3.14 and 3.15 (and chroot'd targets) are read by the _Py_DebugOffsets and
  # device+inode work of issue 14 items 2-3; until the sampler reads them, a refusal is a skip.
  if [ $rc -ne 0 ] && [ -n "${REFUSAL_OK[$name]:-}" ] && grep -q "^Failed to profile process" "$WORK/err"; then
    skip_part_optional "CPython $name: the sampler refuses it: $(tail -1 "$WORK/err")"
    return 3
  fi
  if [ $rc -ne 0 ]; then echo "FAIL: $name $loop $smode: sampler exited $rc: $(cat "$WORK/err")"; return 2; fi
  /usr/bin/python3 - "$WORK/raw.txt" "$WORK/target.out" "$name $loop $smode" "$(tail -1 "$WORK/err")" <<'PYEOF'
import json, sys
raw, out, label, summary = sys.argv[1:5]
truth = json.loads(open(out).read().strip().splitlines()[-1])
n = {"seven": 0, "three": 0}
for line in open(raw, encoding="utf-8"):
    body, count = line.rstrip("\n").rsplit(" ", 1)
    for k in n:
        if (";%s (" % k) in body:
            n[k] += int(count)
total = n["seven"] + n["three"]
got = n["seven"] / total if total else 0.0
err = 100 * (got - truth["seven"])
print("%s: %d samples, seven() sampled %.1f %% vs measured %.1f %% (error %+.1f points) | %s" % (
    label, total, 100 * got, 100 * truth["seven"], err, summary.split(": ", 1)[-1][:120]))
sys.exit(0 if total >= 100 and abs(err) <= 5 else 1)
PYEOF
}

# run_one NAME LAUNCHMODE LOOP SAMPLERMODE, with one retry
run_one() {
  local rc
  for attempt in 1 2; do
    capture "$@"; rc=$?
    [ $rc -eq 0 ] && return 0
    [ $rc -eq 3 ] && return 3
    [ $rc -eq 2 ] && break
    [ $attempt -eq 1 ] && echo "retrying once ($*)"
  done
  echo "FAIL: $*: sampled split off by more than 5 points (or too few samples)"
  failed=1
  return 1
}

i=0
for name in 3.8 3.9 3.10 3.11 3.12 3.13 3.11-debian 3.13t 3.14 3.15; do
  why=$(_profd_py_problem "$name")
  if [ -n "$why" ]; then
    skip_part_optional "CPython $name: $why (provision with $PROFD_PY_PROVISION)"
    continue
  fi
  lmode=$(profd_py_modes "$name" | head -1)
  i=$((i + 1))
  if [ "$name" = 3.11-debian ]; then
    combos="lockstep:pausing lockstep:nonblocking free:pausing free:nonblocking"
  elif [ $((i % 2)) -eq 0 ]; then
    combos="lockstep:pausing free:nonblocking"
  else
    combos="lockstep:nonblocking free:pausing"
  fi
  for c in $combos; do
    run_one "$name" "$lmode" "${c%%:*}" "${c##*:}"
    rc=$?
    [ $rc -eq 3 ] && break
    ran=$((ran + 1))
  done
done
[ $ran -gt 0 ] || skip_provided "no CPython interpreter to sample (tests/support/pythons.sh)"
[ $failed -eq 0 ] && echo "all split checks passed ($ran captures)"
exit $failed
