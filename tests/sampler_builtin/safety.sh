#!/bin/bash
# safety.sh - the built-in sampler must not harm its target, and must say what happened:
#   - a 1 ms SIGALRM timer keeps its loop rate and its signals under pausing sampling at 100 Hz
#     (unsampled / sampled / unsampled phases of the same process);
#   - a self-sent SIGUSR1 reaches its handler promptly, at 100 Hz and at 1 Hz;
#   - fork + wait of /bin/true is not slowed (1 Hz, where a held SIGCHLD waited a tick);
#   - the main thread exits while a worker runs: no hang, --duration holds, the worker is
#     sampled to the end (both modes), never left stopped; SIGINT still ends the capture;
#   - 1 busy + 100 idle threads: idle threads are not stopped, the busy one keeps its rate, and
#     the sampler's CPU stays small (compared with the same target without idle threads);
#   - a 10,000-deep stack is cut with a marker frame, and the shallow thread of the same tick
#     is kept;
#   - names with ';' and a newline stay one frame (escaped), a 2,000-character name is cut
#     with a visible marker;
#   - a job-control stop by someone else survives a capture (--idle reads it where it is);
#   - a zombie gets its own error; -o /dev/full fails, says so, and claims no stacks written.
# Targets are tests/sampler_builtin/targets.py; each measures its own truth and prints it.
# The bounds are generous (a loaded 2-core machine), but far from what the old sampler did:
# 1 loop in 5,000 and 1 signal in 1,000 at a 1 ms timer, 0.5-1 s signal latency at 1 Hz.
set -u
PROFD_BIN=${PROFD_BIN:?PROFD_BIN is not set}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../support/skip.sh"
PY=/usr/bin/python3.11
[ -x "$PY" ] || PY=$(ls -d /root/.pyenv/versions/3.1[1-3].*/bin/python 2> /dev/null | head -1)
[ -x "$PY" ] || skip_provided "no CPython 3.11+ interpreter (/usr/bin/python3.11)"
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
T=$HERE/targets.py
failed=0
fail() { echo "FAIL: $*"; failed=1; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }
wait_line() { # wait_line FILE PATTERN: up to 10 s
  for _ in $(seq 200); do grep -q "$2" "$1" 2> /dev/null && return 0; sleep 0.05; done
  return 1
}
py_check() { /usr/bin/python3 -c "$1" "${@:2}"; }
# stopped_threads PID: the threads of PID in a stopped state (t/T), one a line
stopped_threads() {
  for t in /proc/$1/task/*; do
    st=$(sed 's/.*) \(.\).*/\1/' "$t/stat" 2> /dev/null)
    case "$st" in t | T) echo "${t##*/}" ;; esac
  done
}

# --- 1 ms signal timer: phases unsampled (2 s) / sampled (1 s capture in a 1.4 s phase) /
# unsampled (2 s); the sampled phase's loop rate and signal count against the unsampled mean.
"$PY" "$T" sigtimer 2 1.4 2 > "$WORK/sig.out" & tp=$!
wait_line "$WORK/sig.out" "phase 1" || fail "sigtimer: target did not start"
sleep 0.2
"$PROFD_BIN" sample record --pid $tp --rate 100 --duration 1 -o "$WORK/sig.txt" 2> "$WORK/sig.err" ||
  fail "sigtimer: sampler failed: $(cat "$WORK/sig.err")"
wait $tp
echo "sigtimer: $(tail -1 "$WORK/sig.out") | $(tail -1 "$WORK/sig.err" | cut -c1-160)"
py_check '
import json, sys
(r0, s0, _, h0), (r1, s1, _, h1), (r2, s2, _, h2) = json.loads(open(sys.argv[1]).read().splitlines()[-1])
base_rate, base_sig = (r0 + r2) / 2, (s0 / 2 + s2 / 2) / 2
# held: the share of the phase the thread was neither on a CPU nor waiting for one (its
# schedstat), i.e. held stopped by the tracer, whatever the load. The old sampler held it 99.98 %
# of the sampled phase (0.02 % of the loop rate, 0.1 % of the signals); the goal on a quiet
# machine is <= 3 %; on a loaded one each stop also lasts as long as the sampler waits for a CPU.
# Signals per second of the thread own CPU time: a starved thread (load) sees fewer 1 ms
# ticks, a held one (the old sampler) saw almost none while it was not starved at all.
(_, _, c0, _), (_, _, c1, _), (_, _, c2, _) = json.loads(open(sys.argv[1]).read().splitlines()[-1])
per_cpu = lambda s, c: s / c if c > 0 else 0.0
base_per_cpu = (per_cpu(s0, c0) + per_cpu(s2, c2)) / 2
print("sigtimer: sampled phase held %.2f %% (unsampled: %.2f %%, %.2f %%); signals per CPU second "
      "%.0f vs %.0f unsampled; wall loop rate %.1f %% of the unsampled phases (load-dependent)" % (
          100 * h1, 100 * h0, 100 * h2, per_cpu(s1, c1), base_per_cpu, 100 * r1 / base_rate))
# The unsampled phases measure what the machine alone takes from a thread that never blocks
# (time the hypervisor steals from a VM is neither run nor wait in schedstat: CI saw 10.9 %
# in an unsampled phase), so the bound is on the excess of the sampled phase over the worse;
# steal also stretches each stop, as the sampler loses its CPU while it holds the thread
# (excess seen: 2-10 points quiet or in CI, 20 at 16 % steal; the old sampler: 99.98 %).
sys.exit(0 if h1 <= 0.25 + max(h0, h2) and per_cpu(s1, c1) >= 0.5 * base_per_cpu else 1)
' "$WORK/sig.out" || fail "sigtimer: the sampled phase was held stopped, or lost its signals"
grep -q "spin\|sigtimer (targets.py" "$WORK/sig.txt" || fail "sigtimer: no stacks"

# --- SIGUSR1 latency at 100 Hz and at 1 Hz (pausing)
for rate in 100 1; do
  "$PY" "$T" sigusr1 2.5 > "$WORK/usr1.out" & tp=$!
  wait_line "$WORK/usr1.out" ready || fail "sigusr1: target did not start"
  "$PROFD_BIN" sample record --pid $tp --rate $rate --duration 2 -o "$WORK/usr1.txt" 2> "$WORK/usr1.err" ||
    fail "sigusr1 at $rate Hz: sampler failed: $(cat "$WORK/usr1.err")"
  wait $tp
  echo "sigusr1 at $rate Hz: $(tail -1 "$WORK/usr1.out")"
  py_check '
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
sys.exit(0 if r["n"] >= 20 and r["median_ms"] < 2 and r["max_ms"] < 100 else 1)
' "$WORK/usr1.out" || fail "sigusr1 at $rate Hz: signals late (median >= 2 ms or max >= 100 ms)"
done

# --- fork + wait of /bin/true: unsampled, then sampled at 1 Hz
"$PY" "$T" forkwait 1 > "$WORK/fw0.out" || fail "forkwait: target failed"
"$PY" "$T" forkwait 2.5 > "$WORK/fw1.out" & tp=$!
wait_line "$WORK/fw1.out" ready || fail "forkwait: target did not start"
"$PROFD_BIN" sample record --pid $tp --rate 1 --duration 2 -o "$WORK/fw.txt" 2> "$WORK/fw.err" ||
  fail "forkwait: sampler failed: $(cat "$WORK/fw.err")"
wait $tp
echo "forkwait: unsampled $(tail -1 "$WORK/fw0.out"), sampled at 1 Hz $(tail -1 "$WORK/fw1.out")"
py_check '
import json, sys
a, b = (json.loads(open(f).read().splitlines()[-1]) for f in sys.argv[1:3])
# The old sampler held the SIGCHLD of every one of them until its next tick (949 ms at 1 Hz);
# a single slow one is load (unsampled runs see 20-400 ms outliers here too).
sys.exit(0 if b["median_ms"] <= 2 * a["median_ms"] + 10 else 1)
' "$WORK/fw0.out" "$WORK/fw1.out" || fail "forkwait: fork + wait slowed by the sampler"

# --- the main thread exits while a worker runs (both modes, and --idle, which reads idle
# threads but not an exited main thread's stale state). The sampler starts first; the main
# thread exits 0.2 s later; the worker runs 3 s; the capture asks for 2 s.
for mode in pausing nonblocking idle; do
  flag=""; [ $mode = nonblocking ] && flag=--nonblocking
  [ $mode = idle ] && flag=--idle
  "$PY" "$T" mainexit 3 > "$WORK/me.out" & tp=$!
  wait_line "$WORK/me.out" ready || fail "mainexit: target did not start"
  t0=$(ms_now)
  timeout 10 "$PROFD_BIN" sample record --pid $tp --duration 2 $flag -o "$WORK/me.txt" 2> "$WORK/me.err"
  rc=$? ms=$(($(ms_now) - t0))
  left=$(stopped_threads $tp)
  wait $tp
  echo "mainexit $mode: $ms ms, $(tail -1 "$WORK/me.err" | cut -c1-120)"
  [ $rc -eq 0 ] || fail "mainexit $mode: sampler exited $rc (124: hung): $(cat "$WORK/me.err")"
  [ $ms -le 2600 ] || fail "mainexit $mode: --duration 2 took $ms ms"
  [ -z "$left" ] || fail "mainexit $mode: threads left stopped: $left"
  n=$(awk '/worker_spin/ {s += $NF} END {print s + 0}' "$WORK/me.txt")
  [ "$n" -ge 120 ] || fail "mainexit $mode: only $n worker samples in 2 s at 100 Hz"
  grep -q "process exited" "$WORK/me.err" && fail "mainexit $mode: said the process exited"
  # 0.2 s of the main thread before it exits: 20 samples at 100 Hz, not the whole capture
  m=$(awk '/mainexit \(/ {s += $NF} END {print s + 0}' "$WORK/me.txt")
  [ "$m" -le 40 ] || fail "mainexit $mode: $m samples of the exited main thread"
done
# SIGINT while the main thread is gone: the capture ends at once and writes what it has.
"$PY" "$T" mainexit 4 > "$WORK/me.out" & tp=$!
wait_line "$WORK/me.out" ready || fail "mainexit: target did not start"
sleep 0.5
"$PROFD_BIN" sample record --pid $tp --duration 20 -o "$WORK/int.txt" 2> "$WORK/int.err" & sp=$!
sleep 1
t0=$(ms_now)
kill -INT $sp
wait $sp; rc=$?
ms=$(($(ms_now) - t0))
[ $rc -eq 0 ] || fail "SIGINT: sampler exited $rc"
[ $ms -le 500 ] || fail "SIGINT: sampler took $ms ms to stop"
grep -q worker_spin "$WORK/int.txt" || fail "SIGINT: nothing written"
left=$(stopped_threads $tp)
[ -z "$left" ] || fail "SIGINT: threads left stopped: $left"
wait $tp

# --- 1 busy + 100 idle threads: against the same target with no idle threads, in pausing mode.
idle_run() { # idle_run N FLAG -> "cpu_pct stopped_seen loops_per_s"
  "$PY" "$T" idle "$1" 2.6 > "$WORK/idle.out" & local tp=$!
  wait_line "$WORK/idle.out" "^busy" || fail "idle: target did not start"
  local busy; busy=$(awk '/^busy/ {print $2}' "$WORK/idle.out")
  sleep 0.2
  /usr/bin/python3 -c '
import os, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stderr=open(os.environ["ERR"], "w"))
_, st, ru = os.wait4(p.pid, 0)
print("%.2f" % (100 * (ru.ru_utime + ru.ru_stime) / (time.monotonic() - t0)))
' "$PROFD_BIN" sample record --pid $tp --duration 2 $2 -o "$WORK/idle.txt" > "$WORK/cpu" &
  local sp=$! seen=0
  while kill -0 $sp 2> /dev/null; do # idle threads caught stopped
    for t in /proc/$tp/task/*; do
      case "$(sed 's/.*) \(.\).*/\1/' "$t/stat" 2> /dev/null)" in t) [ "${t##*/}" != "$busy" ] && seen=$((seen + 1)) ;; esac
    done
    sleep 0.05
  done
  wait $sp
  wait $tp
  echo "$(cat "$WORK/cpu") $seen $(py_check 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["held"])' "$WORK/idle.out")"
}
export ERR=$WORK/idle.err
# Two interleaved runs of each; the better of each pair (least CPU, least held), so that a burst
# of load from other processes in one run does not read as a cost of idle threads.
read -r cpu0 _ held0 <<< "$(idle_run 0 "")"
read -r cpu100 seen held100 <<< "$(idle_run 100 "")"
read -r cpu0b _ held0b <<< "$(idle_run 0 "")"
read -r cpu100b seenb held100b <<< "$(idle_run 100 "")"
cpu0=$(py_check "print(min($cpu0, $cpu0b))")
cpu100=$(py_check "print(min($cpu100, $cpu100b))")
held0=$(py_check "print(min($held0, $held0b))")
held100=$(py_check "print(min($held100, $held100b))")
seen=$((seen + seenb))
echo "idle: sampler CPU ${cpu0} % of a core with 0 idle threads, ${cpu100} % with 100; busy thread" \
  "held $(py_check "print('%.2f %% / %.2f %%' % (100 * $held0, 100 * $held100))") (0 / 100 idle);" \
  "idle threads seen stopped: $seen"
py_check "import sys; sys.exit(0 if $cpu100 <= 3 * $cpu0 + 4 else 1)" ||
  fail "idle: sampler CPU grew from $cpu0 % to $cpu100 % with 100 idle threads"
# The old sampler held all 101 threads for 2.5-3.3 ms per sample: 25-33 % of the time at 100 Hz
# on a quiet machine. Now only the busy thread is stopped, for its own read; what remains is
# load: a sampler preempted while it holds the thread (at load 9: 1.6-2.2 % with 0 or 100 idle
# threads, once 9.9 %), and on a VM the time the hypervisor steals, which the run without idle
# threads sees as well.
py_check "import sys; sys.exit(0 if $held100 <= max(0.2, $held0 + 0.1) else 1)" ||
  fail "idle: the busy thread was held stopped more with 100 idle threads ($held100 vs $held0)"
[ "$seen" -eq 0 ] || fail "idle: idle threads were seen stopped $seen times"

# --- a 10,000-deep stack (and a shallow thread), both modes
"$PY" "$T" deep 10000 4 > "$WORK/deep.out" & tp=$!
wait_line "$WORK/deep.out" ready || fail "deep: target did not start"
sleep 0.5
for flag in "" --nonblocking; do
  "$PROFD_BIN" sample record --pid $tp --duration 1 --threads $flag -o "$WORK/deep.txt" 2> "$WORK/deep.err"
  rc=$?
  echo "deep ${flag:---pausing}: $(tail -1 "$WORK/deep.err" | cut -c1-140)"
  [ $rc -eq 0 ] || fail "deep: sampler exited $rc: $(cat "$WORK/deep.err")"
  py_check '
import sys
deep = shallow = bad = 0
for line in open(sys.argv[1], encoding="utf-8"):
    body, n = line.rstrip("\n").rsplit(" ", 1)
    frames = body.split(";")
    if "deep_rec (targets.py" in body:
        ok = frames[1].startswith("[truncated: stack deeper than") and len(frames) >= 4000
        deep += int(n) if ok else 0
        bad += 0 if ok else int(n)
    elif "shallow_spin" in body:
        shallow += int(n)
print("deep: %d truncated deep samples, %d shallow, %d malformed" % (deep, shallow, bad))
sys.exit(0 if deep >= 3 and shallow >= 3 and bad == 0 else 1)
' "$WORK/deep.txt" || fail "deep ${flag:---pausing}: deep stack not truncated with a marker, or shallow thread lost"
done
kill $tp 2> /dev/null; wait $tp 2> /dev/null

# --- names with ';' and a newline, and a 2,000-character one
"$PY" "$T" names 3 > "$WORK/names.out" & tp=$!
wait_line "$WORK/names.out" ready || fail "names: target did not start"
"$PROFD_BIN" sample record --pid $tp --duration 1 -o "$WORK/names.txt" 2> "$WORK/names.err" ||
  fail "names: sampler failed: $(cat "$WORK/names.err")"
kill $tp 2> /dev/null; wait $tp 2> /dev/null
py_check '
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
lines = text.splitlines()
ok = all(re.fullmatch(r".* \d+", l) for l in lines) and lines
frames = [f for l in lines for f in l.rsplit(" ", 1)[0].split(";")]
semi = [f for f in frames if f.startswith("a:b\\nc (")]
cut = [f for f in frames if f.startswith("long_x") and "[...cut] (" in f]
print("names: %d lines, %d escaped frames, %d cut frames" % (len(lines), len(semi), len(cut)))
good = ok and semi and cut and all(f == "a:b\\nc (odd:file\\nname.py:3)" for f in semi)
good = good and all(len(f.split(" (")[0]) <= 1010 for f in cut)
sys.exit(0 if good else 1)
' "$WORK/names.txt" || fail "names: raw output not escaped or long name not cut: $(head -c 600 "$WORK/names.txt")"

# --- a job-control stop (SIGSTOP from someone else) is kept: read with --idle, still stopped
# after the capture, runs again on SIGCONT
"$PY" "$T" deep 10 6 > "$WORK/js.out" & tp=$!
wait_line "$WORK/js.out" ready || fail "jobstop: target did not start"
sleep 0.3 # "ready" comes just before deep_rec is entered: stop it inside, not before
kill -STOP $tp; sleep 0.1
"$PROFD_BIN" sample record --pid $tp --duration 1 --idle -o "$WORK/js.txt" 2> "$WORK/js.err" ||
  fail "jobstop: sampler failed: $(cat "$WORK/js.err")"
grep -q "deep_rec (targets.py" "$WORK/js.txt" || fail "jobstop: the stopped target was not read"
grep -q "State:.T (stopped)" /proc/$tp/status || fail "jobstop: target no longer stopped: $(grep State /proc/$tp/status)"
kill -CONT $tp; sleep 0.3
grep -q "State:.[RS]" /proc/$tp/status || fail "jobstop: target not running after SIGCONT: $(grep State /proc/$tp/status)"
kill $tp 2> /dev/null; wait $tp 2> /dev/null

# --- a zombie, and a full disk
"$PY" -c 'import os, sys, time
pid = os.fork()
if pid == 0:
    os._exit(0)
print(pid, flush=True)
time.sleep(5)' > "$WORK/z.out" & zp=$!
wait_line "$WORK/z.out" . || fail "zombie: parent did not start"
sleep 0.2
"$PROFD_BIN" sample record --pid "$(cat "$WORK/z.out")" --duration 1 -o "$WORK/z.txt" 2> "$WORK/z.err"
rc=$?
[ $rc -eq 1 ] && grep -q "^Failed to profile process: pid [0-9]* is a zombie" "$WORK/z.err" ||
  fail "zombie: exit $rc, stderr: $(cat "$WORK/z.err")"
kill $zp; wait $zp 2> /dev/null

"$PY" "$T" deep 10 3 > "$WORK/full.out" & tp=$!
wait_line "$WORK/full.out" ready || fail "full: target did not start"
for fmt in raw speedscope; do
  "$PROFD_BIN" sample record --pid $tp --duration 1 --format $fmt -o /dev/full 2> "$WORK/full.err"
  rc=$?
  [ $rc -ne 0 ] || fail "/dev/full ($fmt): exit 0"
  grep -q "cannot write /dev/full: No space left on device" "$WORK/full.err" || fail "/dev/full ($fmt): no error line: $(cat "$WORK/full.err")"
  grep -q "no stacks written" "$WORK/full.err" || fail "/dev/full ($fmt): summary claims stacks: $(tail -1 "$WORK/full.err")"
  grep -q "stacks written to" "$WORK/full.err" && fail "/dev/full ($fmt): summary claims stacks were written"
done
kill $tp 2> /dev/null; wait $tp 2> /dev/null

# --- the version-dependent parts (main-thread exit, deep stacks, odd names) on the other
# layouts: 3.8 (frame objects), 3.10 (code-unit offsets), 3.13 (current_frame in the thread)
PY_ROOT=${PROFD_PYENV_ROOT:-/root/.pyenv/versions}
for other in "$PY_ROOT"/3.8.*/bin/python "$PY_ROOT"/3.10.*/bin/python "$PY_ROOT"/3.13.*/bin/python; do
  [ -x "$other" ] || { skip_part_optional "no interpreter at $other"; continue; }
  v=$("$other" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  for flag in "" --nonblocking; do
    "$other" "$T" mainexit 2.5 > "$WORK/me.out" & tp=$!
    wait_line "$WORK/me.out" ready || fail "$v mainexit: target did not start"
    timeout 10 "$PROFD_BIN" sample record --pid $tp --duration 1 $flag -o "$WORK/me.txt" 2> "$WORK/me.err"
    rc=$?
    left=$(stopped_threads $tp)
    wait $tp
    n=$(awk '/worker_spin/ {s += $NF} END {print s + 0}' "$WORK/me.txt")
    [ $rc -eq 0 ] && [ "$n" -ge 40 ] && [ -z "$left" ] ||
      fail "$v mainexit ${flag:---pausing}: rc $rc, $n worker samples, stopped: '$left': $(tail -1 "$WORK/me.err")"
  done
  "$other" "$T" deep 10000 3 > "$WORK/deep.out" & tp=$!
  wait_line "$WORK/deep.out" ready || fail "$v deep: target did not start"
  sleep 0.8
  "$PROFD_BIN" sample record --pid $tp --duration 1 -o "$WORK/deep.txt" 2> "$WORK/deep.err" ||
    fail "$v deep: sampler failed: $(cat "$WORK/deep.err")"
  kill $tp 2> /dev/null; wait $tp 2> /dev/null
  grep -q "^<module> (targets.py:[0-9]*);.*\[truncated: stack deeper than 4096 frames\]" "$WORK/deep.txt" &&
    fail "$v deep: marker not at the root"
  grep -q "^\[truncated: stack deeper than 4096 frames\];deep_rec (targets.py" "$WORK/deep.txt" ||
    fail "$v deep: no truncated deep stack: $(cut -c1-200 "$WORK/deep.txt" | head -3)"
  grep -q "shallow_spin (targets.py" "$WORK/deep.txt" || fail "$v deep: the shallow thread is missing"
  "$other" "$T" names 2 > "$WORK/names.out" & tp=$!
  wait_line "$WORK/names.out" ready || fail "$v names: target did not start"
  "$PROFD_BIN" sample record --pid $tp --duration 1 -o "$WORK/names.txt" 2> "$WORK/names.err"
  kill $tp 2> /dev/null; wait $tp 2> /dev/null
  grep -q ';a:b\\nc (odd:file\\nname.py:3) [0-9]*$' "$WORK/names.txt" ||
    fail "$v names: no escaped frame: $(cut -c1-200 "$WORK/names.txt")"
  grep -q '\[...cut\] (odd:file\\nname.py:6) [0-9]*$' "$WORK/names.txt" ||
    fail "$v names: no cut long name"
  echo "CPython $v: main-thread exit, deep stack and names checked"
done

[ $failed -eq 0 ] && echo "all sampler safety checks passed"
exit $failed
