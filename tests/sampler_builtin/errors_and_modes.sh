#!/bin/bash
# errors_and_modes.sh - `profd sample record` against real processes: usage errors (exit 2),
# a nonexistent pid, a non-Python pid, an unsupported version, permission denied, interpreter
# files deleted after they were mapped, threads starting and exiting during a pausing capture,
# a target that exits mid-capture, SIGTERM to the sampler, idle/GIL filtering, --live snapshots
# (only with --live, gone at the end), speedscope output valid against
# speedscope's schema, and the never-left-stopped check (the sampler SIGKILLed mid-sample again
# and again must leave the target running).
set -u
PROFD_BIN=${PROFD_BIN:?PROFD_BIN is not set}
SRC=${PROFD_SOURCE_DIR:?PROFD_SOURCE_DIR is not set}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(ls -d /root/.pyenv/versions/3.1[0-3].*/bin/python 2>/dev/null | head -1)
. "$(dirname "$0")/../support/skip.sh"
[ -x "$PY" ] || skip_provided "no CPython interpreter (/usr/bin/python3)"
WORK=$(mktemp -d)
chmod 755 "$WORK"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

expect() { # expect RC PATTERN -- argv...
  local want=$1 pat=$2; shift 3
  "$@" > "$WORK/out" 2> "$WORK/err"; local rc=$?
  [ $rc -eq "$want" ] || fail "'$*' exited $rc, expected $want: $(cat "$WORK/err")"
  grep -q -- "$pat" "$WORK/err" || fail "'$*' stderr lacks '$pat': $(cat "$WORK/err")"
}

# --- usage and lookup errors
expect 2 "pid is required" -- "$PROFD_BIN" sample record -o "$WORK/x"
expect 2 "format must be raw or speedscope" -- "$PROFD_BIN" sample record --pid 1 --format svg -o "$WORK/x"
expect 2 "unknown flag" -- "$PROFD_BIN" sample record --pid 1 --bogus -o "$WORK/x"
expect 2 "expected 'record'" -- "$PROFD_BIN" sample top --pid 1
expect 1 "Failed to profile process: no such process" -- "$PROFD_BIN" sample record --pid 4000000 -o "$WORK/x"
sleep 30 & spid=$!
expect 1 "is not a Python process" -- "$PROFD_BIN" sample record --pid $spid --duration 1 -o "$WORK/x"
kill $spid
old=$(ls -d /root/.pyenv/versions/3.7.*/bin/python 2>/dev/null | head -1)
if [ -n "$old" ]; then
  "$old" -c 'import time; time.sleep(30)' & opid=$!; sleep 0.3
  expect 1 "unsupported Python version 3.7" -- "$PROFD_BIN" sample record --pid $opid -o "$WORK/x"
  kill $opid
else
  skip_part_optional "no CPython 3.7 for the unsupported-version check"
fi

# --- the fixture: main thread busy, side thread idle
"$PY" "$HERE/fixture.py" 30 > "$WORK/fixture.out" & fpid=$!
for _ in $(seq 100); do grep -q ready "$WORK/fixture.out" && break; sleep 0.05; done
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  expect 1 "^Failed to profile process: Permission denied$" -- setpriv --reuid=65534 --regid=65534 \
    --clear-groups "$PROFD_BIN" sample record --pid $fpid --duration 1 -o "$WORK/x"
else
  skip_part_provided "permission check needs root and setpriv"
fi

expect 1 "cannot write $WORK/no/such/dir/x.txt" -- "$PROFD_BIN" sample record --pid $fpid -o "$WORK/no/such/dir/x.txt"

"$PROFD_BIN" sample record --pid $fpid --duration 1 --threads -o "$WORK/busy.txt" 2> "$WORK/err" ||
  fail "default capture failed: $(cat "$WORK/err")"
grep -q "spin (fixture.py" "$WORK/busy.txt" || fail "default capture lacks the busy main thread"
[ -e "$WORK/busy.txt.live" ] && fail "a capture without --live left busy.txt.live"
# --live: FILE.live holds the stacks so far while recording, and is gone at the end
"$PROFD_BIN" sample record --pid $fpid --duration 4 --live -o "$WORK/live.txt" 2> "$WORK/err" & lpid=$!
for _ in $(seq 1 60); do [ -s "$WORK/live.txt.live" ] && break; sleep 0.1; done
if [ -s "$WORK/live.txt.live" ]; then
  grep -q "spin (fixture.py.* [0-9]*$" "$WORK/live.txt.live" || fail "live snapshot lacks the busy thread: $(head -2 "$WORK/live.txt.live")"
else
  fail "no live snapshot within 6 s of a --live capture"
fi
wait $lpid || fail "--live capture failed: $(cat "$WORK/err")"
[ -e "$WORK/live.txt.live" ] && fail "live.txt.live left after the capture"
grep -q "spin (fixture.py" "$WORK/live.txt" || fail "--live capture's output lacks the busy thread"
# The side thread sleeps except for ~0.1 ms bursts every 50 ms: it may be caught running, rarely.
share() { awk -v pat="$2" '{n=$NF; t+=n; if (index($0, pat)) s+=n} END {print (t ? int(100*s/t) : 100)}' "$1"; }
[ "$(share "$WORK/busy.txt" café_ñ)" -le 5 ] || fail "default capture includes the idle side thread"
"$PROFD_BIN" sample record --pid $fpid --duration 1 --idle --gil --nonblocking -o "$WORK/gil.txt" 2> "$WORK/err" ||
  fail "--gil capture failed: $(cat "$WORK/err")"
[ "$(share "$WORK/gil.txt" café_ñ)" -le 5 ] || fail "--gil capture includes the side thread that waits"
grep -q "spin (fixture.py" "$WORK/gil.txt" || fail "--gil capture lacks the GIL holder"
grep -q " [0-9]*$" "$WORK/gil.txt" || fail "--gil capture has no samples"
grep -q "^thread (" "$WORK/gil.txt" && fail "thread frames without --threads"

"$PROFD_BIN" sample record --pid $fpid --duration 1 --idle --threads --format speedscope \
  -o "$WORK/prof.json" 2> "$WORK/err" || fail "speedscope capture failed: $(cat "$WORK/err")"
SCHEMA=$SRC/../shared/testdata/speedscope/file-format-schema.json
if command -v node > /dev/null && [ -f "$SCHEMA" ] && [ -d "$SRC/tests/node/node_modules/ajv" ]; then
  node "$HERE/validate_speedscope.mjs" "$SCHEMA" "$WORK/prof.json" || fail "speedscope file invalid"
else
  skip_part_provided "node, ajv or the speedscope schema missing: schema validation not run"
fi
"$PY" - "$WORK/prof.json" <<'PYEOF' || fail "speedscope content"
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
names = [p["name"] for p in d["profiles"]]
assert len(names) == 2 and all(n.startswith("Thread ") for n in names), names
frames = {f["name"] for f in d["shared"]["frames"]}
assert "café_ñ" in frames and "深い関数" in frames and "spin" in frames, frames
for p in d["profiles"]:
    assert len(p["samples"]) == len(p["weights"]) > 50, (p["name"], len(p["samples"]))
PYEOF

# --- SIGTERM mid-capture: stop, write what was collected, exit 0
"$PROFD_BIN" sample record --pid $fpid --duration 20 -o "$WORK/term.txt" 2> "$WORK/err" & s=$!
sleep 1; kill -TERM $s; wait $s; rc=$?
[ $rc -eq 0 ] || fail "sampler exited $rc after SIGTERM"
grep -q "spin (fixture.py" "$WORK/term.txt" || fail "nothing written after SIGTERM"

# --- never left stopped: SIGKILL pausing samplers (at 1000 Hz, mostly mid-sample) repeatedly
for i in $(seq 12); do
  "$PROFD_BIN" sample record --pid $fpid --rate 1000 --duration 10 -o "$WORK/k.txt" 2> /dev/null & s=$!
  sleep 0.$((RANDOM % 3 + 1))
  kill -KILL $s; wait $s 2> /dev/null
  for t in /proc/$fpid/task/*; do
    st=$(sed 's/.*) \(.\).*/\1/' "$t/stat" 2> /dev/null)
    case "$st" in t|T) fail "thread ${t##*/} left in state $st after killing sampler $i"; break 2;; esac
  done
done
u1=$(awk '{print $14}' /proc/$fpid/stat); sleep 0.5; u2=$(awk '{print $14}' /proc/$fpid/stat)
[ "$u2" -gt "$u1" ] || fail "target stopped making progress after the samplers were killed"
grep -q TracerPid:.0 /proc/$fpid/status || fail "target still traced: $(grep TracerPid /proc/$fpid/status)"
kill $fpid; wait $fpid 2> /dev/null

# --- threads coming and going all the time while the pausing sampler seizes and stops them
"$PY" -c 'import threading, time
def short_lived():
    sum(range(2000))
def churn():
    while True:
        t = threading.Thread(target=short_lived); t.start(); t.join()
def steady_main():
    while True: sum(range(1000))
threading.Thread(target=churn, daemon=True).start()
steady_main()' & cpid=$!
sleep 0.3
"$PROFD_BIN" sample record --pid $cpid --duration 2 --threads -o "$WORK/churn.txt" 2> "$WORK/err" ||
  fail "thread churn: sampler failed: $(cat "$WORK/err")"
taken=$(sed -n 's/.* \([0-9]*\) samples taken of 200 expected.*/\1/p' "$WORK/err")
[ "${taken:-0}" -ge 100 ] || fail "thread churn: ${taken:-no} samples taken: $(cat "$WORK/err")"
grep -q "steady_main" "$WORK/churn.txt" || fail "thread churn: main thread missing"
sleep 0.1
for t in /proc/$cpid/task/*; do
  st=$(sed 's/.*) \(.\).*/\1/' "$t/stat" 2> /dev/null)
  case "$st" in t|T) fail "thread churn: thread ${t##*/} left in state $st"; break;; esac
done
grep -q TracerPid:.0 /proc/$cpid/status || fail "thread churn: target still traced"
kill $cpid; wait $cpid 2> /dev/null

# --- the interpreter's file deleted after it was mapped (" (deleted)" in maps): read through
# /proc/PID/map_files. A copy of the static Debian executable, or of a pyenv libpython.
if [ -x /usr/bin/python3.11 ] && ! ldd /usr/bin/python3.11 | grep -q libpython; then
  cp /usr/bin/python3.11 "$WORK/python3.11"
  "$WORK/python3.11" -c 'import time
def gone_file_spin():
    while True: pass
gone_file_spin()' 2> /dev/null & dpid=$!
  sleep 0.3; rm "$WORK/python3.11"
  grep -q "python3.11 (deleted)" /proc/$dpid/maps || fail "executable not shown as deleted"
  "$PROFD_BIN" sample record --pid $dpid --duration 1 -o "$WORK/del.txt" 2> "$WORK/err" ||
    fail "deleted executable: $(cat "$WORK/err")"
  grep -q "gone_file_spin" "$WORK/del.txt" || fail "deleted executable: no stacks"
  kill $dpid
else
  skip_part_provided "no static /usr/bin/python3.11 for the deleted-executable check"
fi
lib=$(ls /root/.pyenv/versions/3.12.*/lib/libpython3.12.so.1.0 2> /dev/null | head -1)
if [ -n "$lib" ]; then
  mkdir "$WORK/lib" && cp "$lib" "$WORK/lib/"
  LD_LIBRARY_PATH=$WORK/lib "${lib%/lib/*}/bin/python3.12" -c 'def gone_lib_spin():
    while True: pass
gone_lib_spin()' & dpid=$!
  sleep 0.3; rm "$WORK/lib/libpython3.12.so.1.0"
  grep -q "libpython3.12.so.1.0 (deleted)" /proc/$dpid/maps || fail "libpython not shown as deleted"
  "$PROFD_BIN" sample record --pid $dpid --duration 1 -o "$WORK/del.txt" 2> "$WORK/err" ||
    fail "deleted libpython: $(cat "$WORK/err")"
  grep -q "gone_lib_spin" "$WORK/del.txt" || fail "deleted libpython: no stacks"
  kill $dpid
else
  skip_part_optional "no pyenv 3.12 for the deleted-libpython check"
fi

# --- the target exits mid-capture: output written, exit 0, early end
"$PY" -c 'import time
def busy_until(t):
    while time.time() < t: pass
busy_until(time.time() + 1.0)' & epid=$!
sleep 0.2
t0=$(date +%s%N)
"$PROFD_BIN" sample record --pid $epid --duration 5 -o "$WORK/exit.txt" 2> "$WORK/err"; rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc -eq 0 ] || fail "target exit: sampler exited $rc: $(cat "$WORK/err")"
grep -q "Stopped sampling because process exited" "$WORK/err" || fail "no exit message: $(cat "$WORK/err")"
grep -q "busy_until" "$WORK/exit.txt" || fail "target exit: collected stacks not written"
[ $ms -lt 3000 ] || fail "target exit: sampler kept running for $ms ms"

[ $failed -eq 0 ] && echo "all sampler error/mode checks passed"
exit $failed
