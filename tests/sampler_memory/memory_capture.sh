#!/bin/bash
# memory_capture.sh - `profd sample memory` against real CPython processes (docs/memory.md).
#
#   attribution  3.14, 3.15 and their debug builds (sid root, chroot; 3.14 also in its own
#                mount namespace):
#                fixture.py allocates 40 MiB in grow_cache and 10 MiB in grow_index during
#                the window and keeps them; the bytes the capture gives each function must
#                match what the fixture measured itself (sys.getsizeof) within 5 %, so the
#                ratio is 4:1 within 5 %; afterwards tracemalloc is off again, profd's marker
#                is gone from sys, the script file and the capture directory are gone, and
#                the target kept serving (its heartbeat went on during and after).
#   traced       a target that traces already (depth 8) is left tracing, at depth 8, and its
#                growth during the window is what is reported.
#   joined       a main thread blocked in join(): another thread runs the script.
#   audited      an audit hook that refuses remote scripts: exit 1 within seconds, one line,
#                nothing left behind.
#   timeout      a target whose only thread blocks in C: exit 6 within the attach timeout,
#                the request taken back; once unblocked the target runs Python again and
#                never runs the script (no tracing, no marker, no hook error on its stderr).
#   refusals     3.13 (pyenv) and 3.13t: exit 3 with the PEP 768 line; 3.14 started with
#                -X disable-remote-debug, or with PYTHON_DISABLE_REMOTE_DEBUG=1: exit 4; a
#                copy of 3.14 whose debug offsets say free-threaded: exit 5.
set -u
PROFD_BIN=${PROFD_BIN:?PROFD_BIN is not set}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../support/skip.sh"
. "$HERE/../support/pythons.sh"
profd_py_require 3.14 3.15 3.14d 3.15d 3.13 3.13t
W=$(mktemp -d)
chmod 755 "$W"
trap 'kill $(jobs -p) 2>/dev/null; profd_py_cleanup; rm -rf "$W"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }
pass() { echo "ok: $*"; }

wait_for() { # wait_for SECONDS PATH
    local i
    for ((i = 0; i < $1 * 20; i++)); do [ -e "$2" ] && return 0; sleep 0.05; done
    return 1
}
beats() { cat "$1/heartbeat" 2>/dev/null || echo 0; }
capdirs() { ls -d "/proc/$1/root/tmp/profd-memory."* 2>/dev/null; }
json() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))' "$1" "$2"; }

# bytes FILE FUNCTION: bytes of the stacks that pass through FUNCTION.
bytes() { awk -v f="$2 (" 'index($0, f) { n = split($0, w, " "); s += w[n] } END { print s + 0 }' "$1"; }

# check_attribution TAG RESULT.JSON
check_attribution() {
    local tag=$1 res=$2 c i tc ti
    c=$(bytes "$W/stacks.txt" grow_cache)
    i=$(bytes "$W/stacks.txt" grow_index)
    tc=$(json "$res" cache_bytes)
    ti=$(json "$res" index_bytes)
    python3 - "$c" "$i" "$tc" "$ti" "$tag" <<'PY' || failed=1
import sys
c, i, tc, ti = map(float, sys.argv[1:5]); tag = sys.argv[5]
ok = True
for name, got, want in (("grow_cache", c, tc), ("grow_index", i, ti)):
    if want <= 0 or abs(got / want - 1) > 0.05:
        print("FAIL: %s: %s has %d bytes in the graph, the fixture measured %d" % (tag, name, got, want)); ok = False
ratio = c / i if i else 0
if abs(ratio / 4 - 1) > 0.05:
    print("FAIL: %s: grow_cache:grow_index is %.3f, not 4 within 5 %%" % (tag, ratio)); ok = False
if ok:
    print("ok: %s: grow_cache %d B, grow_index %d B (fixture: %d, %d), ratio %.4f" % (tag, c, i, tc, ti, ratio))
sys.exit(0 if ok else 1)
PY
}

# full NAME MODE FIXTURE-MODE: capture, then the fixture's own end state.
full() {
    local name=$1 mode=$2 fmode=$3 tag="$1/$2/$3"
    rm -f "$W/stacks.txt" "$W/sum.json"
    profd_py_launch "$name" "$mode" "$W/pid" "$HERE/fixture.py" 40 {RUNDIR} "$fmode" > "$W/fx.out" 2> "$W/fx.err"
    local launcher=$PROFD_PY_LAUNCHER run=$PROFD_PY_RUNDIR pid d="" b1 b2
    pid=$(profd_py_wait_pid "$W/pid") || { fail "$tag: no target"; return; }
    wait_for 10 "$run/heartbeat" || { fail "$tag: target not serving"; return; }
    "$PROFD_BIN" sample memory --pid "$pid" --duration 5 --baseline 1 --frames 32 \
        -o "$W/stacks.txt" --summary "$W/sum.json" 2> "$W/cap.err" &
    local cap=$!
    for ((i = 0; i < 200; i++)); do
        d=$(capdirs "$pid" | head -1)
        [ -n "$d" ] && [ ! -e "$d/capture.py" ] && break
        sleep 0.05
    done
    [ -n "$d" ] || fail "$tag: no capture directory appeared under the target's /tmp"
    [ -n "$d" ] && [ "$(stat -c '%a %u' "$d")" = "700 $(stat -c %u "/proc/$pid")" ] ||
        fail "$tag: capture directory is not 0700 and the target's"
    touch "$run/grow"
    wait_for 5 "$run/grown" || fail "$tag: the fixture did not grow"
    b1=$(beats "$run")
    wait $cap
    local rc=$?
    b2=$(beats "$run")
    if [ $rc -ne 0 ]; then
        fail "$tag: exit $rc: $(cat "$W/cap.err")"
    else
        [ -z "$(capdirs "$pid")" ] || fail "$tag: the capture directory is still there"
        [ "$b2" -gt "$b1" ] || fail "$tag: the target did not serve during the window"
    fi
    sleep 0.5 # serving on after the capture shows in result.json's beats
    touch "$run/stop"
    wait "$launcher"
    local frc=$?
    [ $frc -eq 0 ] || fail "$tag: the fixture exited $frc: $(cat "$W/fx.err")"
    [ -s "$run/result.json" ] || { fail "$tag: no result.json from the fixture"; return; }
    [ "$(json "$run/result.json" beats)" -gt "$b2" ] || fail "$tag: the target stopped serving after the capture"
    [ "$(json "$run/result.json" marker)" = False ] || fail "$tag: profd's marker is left in sys"
    grep -qi "debugger script" "$W/fx.err" && fail "$tag: the target printed: $(cat "$W/fx.err")"
    [ $rc -eq 0 ] || return
    check_attribution "$tag" "$run/result.json"
    if [ "$fmode" = traced ]; then
        [ "$(json "$run/result.json" tracing)" = True ] || fail "$tag: a target that traced is no longer tracing"
        [ "$(json "$run/result.json" limit)" = 8 ] || fail "$tag: its traceback limit changed"
        [ "$(json "$W/sum.json" traced_by_target)" = True ] || fail "$tag: summary says profd started tracing"
        [ "$(json "$W/sum.json" frames)" = 8 ] || fail "$tag: summary frames is not the target's 8"
    else
        [ "$(json "$run/result.json" tracing)" = False ] || fail "$tag: tracemalloc is still on afterwards"
        [ "$(json "$W/sum.json" traced_by_target)" = False ] || fail "$tag: summary says the target traced"
        [ "$(json "$W/sum.json" frames)" = 32 ] || fail "$tag: summary frames is not 32"
    fi
    grep -q '^<module> (fixture.py:[0-9]*);.*grow_cache (fixture.py:[0-9]*) [0-9]*$' "$W/stacks.txt" ||
        [ "$fmode" = joined ] || fail "$tag: no '<module> (fixture.py:N);...;grow_cache (fixture.py:N) BYTES' stack"
    grep -q 'profd-memory\|<string>' "$W/stacks.txt" && fail "$tag: profd's own frames are in the graph"
    pass "$tag: completed, $(json "$W/sum.json" bytes_total) bytes live, target overhead $(json "$W/sum.json" overhead_percent) %"
}

full 3.14 chroot plain
full 3.15 chroot plain
full 3.14d chroot plain
full 3.15d chroot plain
full 3.14 ns plain
full 3.14 chroot traced
full 3.14 chroot joined

# --- profd profile --type memory: the local capture writes the three files, in bytes
profd_py_launch 3.15 chroot "$W/pid" "$HERE/fixture.py" 40 {RUNDIR} plain > "$W/fx.out" 2> "$W/fx.err"
launcher=$PROFD_PY_LAUNCHER
run=$PROFD_PY_RUNDIR
pid=$(profd_py_wait_pid "$W/pid")
wait_for 10 "$run/heartbeat" || fail "profile: target not serving"
"$PROFD_BIN" profile --pid "$pid" --type memory --duration 2 --memory-frames 8 --out "$W/prof" \
    > "$W/prof.out" 2> "$W/prof.err" || fail "profile --type memory: $(cat "$W/prof.err")"
for f in stacks.txt profile.json flamegraph.html; do
    [ -s "$W/prof/$f" ] || fail "profile --type memory: no $f"
done
grep -q '"unit":"bytes"' "$W/prof/flamegraph.html" "$W/prof/profile.json" ||
    fail "profile --type memory: not in bytes"
grep -q "^memory: .* bytes in .* blocks live, peak .*; tracemalloc stopped again" "$W/prof.err" ||
    fail "profile --type memory: summary line: $(cat "$W/prof.err")"
touch "$run/stop"
wait "$launcher"
[ "$(json "$run/result.json" tracing)" = False ] || fail "profile --type memory: left tracing"
[ $failed -eq 0 ] && pass "profile --type memory: $(grep '^memory:' "$W/prof.err")"

# --- an audit hook that refuses the script: a clear failure in seconds, the target unchanged
profd_py_launch 3.14 chroot "$W/pid" "$HERE/fixture.py" 40 {RUNDIR} audited > "$W/fx.out" 2> "$W/fx.err"
launcher=$PROFD_PY_LAUNCHER
run=$PROFD_PY_RUNDIR
pid=$(profd_py_wait_pid "$W/pid")
wait_for 10 "$run/heartbeat" || fail "audited: target not serving"
start=$SECONDS
"$PROFD_BIN" sample memory --pid "$pid" --duration 5 --baseline 0 -o "$W/x.txt" 2> "$W/cap.err"
rc=$?
[ $rc -eq 1 ] || fail "audited: exit $rc, expected 1: $(cat "$W/cap.err")"
grep -q "took the request but did not start the memory capture" "$W/cap.err" ||
    fail "audited: message: $(cat "$W/cap.err")"
[ $((SECONDS - start)) -le 10 ] || fail "audited: took $((SECONDS - start)) s"
[ -z "$(capdirs "$pid")" ] || fail "audited: the capture directory is still there"
touch "$run/stop"
wait "$launcher" || fail "audited: the fixture failed: $(cat "$W/fx.err")"
[ "$(json "$run/result.json" tracing)" = False ] || fail "audited: the target is tracing"
[ "$(json "$run/result.json" marker)" = False ] || fail "audited: the script ran"
[ $failed -eq 0 ] && pass "audited: $(cat "$W/cap.err")"

# --- memory stacks feed render and diff like CPU stacks, in bytes
if [ -s "$W/stacks.txt" ]; then
    "$PROFD_BIN" diff --bytes -o "$W/diff.html" "$W/stacks.txt" "$W/stacks.txt" &&
        grep -q '"unit":"bytes"' "$W/diff.html" || fail "diff --bytes of memory stacks"
    "$PROFD_BIN" render --bytes -f speedscope -o "$W/p.json" "$W/stacks.txt" &&
        grep -q '"unit":"bytes"' "$W/p.json" || fail "render --bytes -f speedscope of memory stacks"
    "$PROFD_BIN" render --bytes -o "$W/p.html" "$W/stacks.txt" && grep -q grow_cache "$W/p.html" ||
        fail "render --bytes of memory stacks"
fi

# --- timeout: the only thread blocks in C
profd_py_launch 3.14 chroot "$W/pid" "$HERE/fixture.py" 5 {RUNDIR} blocked > "$W/fx.out" 2> "$W/fx.err"
launcher=$PROFD_PY_LAUNCHER
run=$PROFD_PY_RUNDIR
pid=$(profd_py_wait_pid "$W/pid")
wait_for 10 "$run/blocking" || fail "timeout: the fixture did not block"
sleep 0.3
start=$SECONDS
"$PROFD_BIN" sample memory --pid "$pid" --duration 5 --baseline 0 --attach-timeout 3 \
    -o "$W/stacks.txt" 2> "$W/cap.err"
rc=$?
[ $rc -eq 6 ] || fail "timeout: exit $rc, expected 6: $(cat "$W/cap.err")"
grep -q "reached a safe point.*taken back" "$W/cap.err" || fail "timeout: message: $(cat "$W/cap.err")"
[ $((SECONDS - start)) -le 15 ] || fail "timeout: took $((SECONDS - start)) s"
[ -z "$(capdirs "$pid")" ] || fail "timeout: the capture directory is still there"
echo x > "$run/unblock.fifo"
wait "$launcher" || fail "timeout: the fixture failed after unblocking: $(cat "$W/fx.err")"
if [ -s "$run/result.json" ]; then
    [ "$(json "$run/result.json" tracing)" = False ] || fail "timeout: the target started tracing after all"
    [ "$(json "$run/result.json" marker)" = False ] || fail "timeout: the script ran after all"
    [ "$(json "$run/result.json" beats)" -gt 5 ] || fail "timeout: the target did not run Python again"
else
    fail "timeout: no result.json after unblocking"
fi
grep -qi "debugger script" "$W/fx.err" && fail "timeout: the target tried to run the script: $(cat "$W/fx.err")"
pass "timeout: exit 6 in $((SECONDS - start)) s, target unchanged: $(cat "$W/cap.err")"

# --- refusals
refuse() { # refuse TAG RC PATTERN NAME MODE [ENV=V] PYTHON-ARGS...
    local tag=$1 want=$2 pat=$3 name=$4 mode=$5
    shift 5
    (_profd_py_exec "$name" "$mode" "$W/pid" "$@") > /dev/null 2>&1 &
    local l=$! pid
    pid=$(profd_py_wait_pid "$W/pid") || { fail "$tag: no target"; return; }
    sleep 0.5
    "$PROFD_BIN" sample memory --pid "$pid" --duration 5 -o "$W/stacks.txt" 2> "$W/cap.err"
    local rc=$?
    [ $rc -eq "$want" ] || fail "$tag: exit $rc, expected $want: $(cat "$W/cap.err")"
    grep -q -- "$pat" "$W/cap.err" || fail "$tag: message: $(cat "$W/cap.err")"
    [ -z "$(capdirs "$pid")" ] || fail "$tag: something was written into the target's /tmp"
    kill -0 "$pid" 2>/dev/null || fail "$tag: the target died"
    kill "$pid" "$l" 2>/dev/null
    wait "$l" 2>/dev/null
    [ $failed -eq 0 ] && pass "$tag: $(cat "$W/cap.err")"
}
SLEEP='import time; time.sleep(30)'
refuse "3.13" 3 "^memory profiling needs CPython 3.14 or newer (PEP 768)" 3.13 host -c "$SLEEP"
refuse "3.13t" 3 "^memory profiling needs CPython 3.14 or newer (PEP 768)" 3.13t host -c "$SLEEP"
refuse "-X disable-remote-debug" 4 "disabled remote debugging" 3.14 chroot -X disable-remote-debug -c "$SLEEP"
PYTHON_DISABLE_REMOTE_DEBUG=1 refuse "PYTHON_DISABLE_REMOTE_DEBUG" 4 "disabled remote debugging" 3.14 chroot -c "$SLEEP"

# --- free-threaded: no 3.14t exists here, so a copy of sid's python3.14 whose _Py_DebugOffsets
# say free_threaded = 1 (the block is data only the debuggers read; the copy runs as before)
ROOT=$(profd_py_field 3.14 root)
FT=$(mktemp -d "$ROOT/tmp/profd-ft.XXXXXX")
cp "$ROOT/usr/bin/python3.14" "$FT/python3.14"
python3 - "$FT/python3.14" <<'PY' || fail "free-threaded: cannot patch the copy"
import subprocess, sys
out = subprocess.run(["readelf", "-SW", sys.argv[1]], capture_output=True, text=True).stdout
line = next(l for l in out.splitlines() if ".PyRuntime" in l)
off = int(line.split("]", 1)[1].split()[3], 16)
with open(sys.argv[1], "r+b") as f:
    f.seek(off)
    assert f.read(8) == b"xdebugpy"
    f.seek(off + 16)
    f.write((1).to_bytes(8, "little"))
PY
(echo $BASHPID > "$W/pid"; PYTHONHOME=/usr exec chroot "$ROOT" "${FT#"$ROOT"}/python3.14" -c "$SLEEP") &
ftl=$!
sleep 0.5
ftpid=$(cat "$W/pid")
"$PROFD_BIN" sample memory --pid "$ftpid" --duration 5 -o "$W/stacks.txt" 2> "$W/cap.err"
rc=$?
[ $rc -eq 5 ] || fail "free-threaded: exit $rc, expected 5: $(cat "$W/cap.err")"
grep -q "^memory profiling of free-threaded CPython builds is not supported" "$W/cap.err" ||
    fail "free-threaded: message: $(cat "$W/cap.err")"
[ -z "$(capdirs "$ftpid")" ] || fail "free-threaded: something was written into the target's /tmp"
kill "$ftpid" 2>/dev/null
wait $ftl 2>/dev/null
rm -rf "$FT"
[ $rc -eq 5 ] && pass "free-threaded (patched 3.14 copy): $(cat "$W/cap.err")"

# --- bad usage
"$PROFD_BIN" sample memory --duration 5 -o "$W/x" 2> "$W/cap.err"
[ $? -eq 2 ] || fail "usage: no --pid is not exit 2"
"$PROFD_BIN" sample memory --pid 1 --frames 0 -o "$W/x" 2> "$W/cap.err"
[ $? -eq 2 ] || fail "usage: --frames 0 is not exit 2"

[ $failed -eq 0 ] && echo "memory_capture: all passed"
exit $failed
