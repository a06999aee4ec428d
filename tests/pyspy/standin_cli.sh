#!/bin/bash
# The py-spy stand-in's command line: version, clap-style usage errors (exit 2),
# py-spy's runtime errors (exit 1) and the raw output of a short real capture.
set -u
PYSPY="$PROFD_BUILD_DIR/tests/pyspy/bin/py-spy"
[ -x "$PYSPY" ] || { echo "FAIL: $PYSPY not built"; exit 1; }
T=$(mktemp -d); trap 'rm -rf "$T"; kill $TARGET 2>/dev/null' EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect() { # expect CODE PATTERN -- args...
  local code=$1 pat=$2; shift 3
  "$PYSPY" "$@" >"$T/out" 2>"$T/err"; local rc=$?
  [ $rc -eq $code ] || fail "py-spy $*: exit $rc, want $code ($(cat "$T/err"))"
  grep -q -- "$pat" "$T/out" "$T/err" || fail "py-spy $*: no '$pat' in output: $(cat "$T/out" "$T/err")"
}
sleep 30 & TARGET=$!
expect 0 '^py-spy 0\.4\.1$' -- --version
expect 2 'USAGE' --
expect 2 "The subcommand 'frobnicate' wasn't recognized" -- frobnicate
expect 2 'required arguments were not provided' -- record -o "$T/x"
expect 2 "Found argument '--bogus' which wasn't expected" -- record --pid 1 --bogus
expect 2 "isn't a valid value for '--format <format>'" -- record --pid 1 --format pdf
expect 2 "Invalid value \"fast\" for '--rate <rate>'" -- record --pid 1 --rate fast
expect 2 "requires a value but none was supplied" -- record --pid
expect 101 "panicked at 'invalid duration" -- record --pid 1 --duration soon
expect 1 "Can't get native stack traces with the --nonblocking option." -- record --pid 1 --native --nonblocking
expect 1 'Failed to get process executable name. Check that the process is running.' -- record --pid 999999999 -o "$T/x" -d 1
PYSPY_STANDIN_MODE=notpython expect 1 'Failed to find python version from target process' -- record --pid $TARGET -o "$T/x" -d 1
PYSPY_STANDIN_MODE=permission expect 1 'Permission' -- record --pid $TARGET -o "$T/x" -d 1
# A real one-second capture at 50 Hz: 49 samples (py-spy records duration*rate - 1 intervals).
expect 0 "Wrote raw flamegraph data to '$T/raw.txt'. Samples: 49 Errors: 0" -- r -p $TARGET -r 50 -d 1 -f raw -o "$T/raw.txt" --threads
total=$(awk '{s+=$NF} END {print s}' "$T/raw.txt")
[ "$total" = 49 ] || fail "raw counts sum to $total, want 49"
grep -q "^thread ($TARGET): MainThread;<module> (sleep.py:1);main (sleep.py:12);" "$T/raw.txt" || fail "raw stack shape: $(cat "$T/raw.txt")"
expect 0 "Wrote speedscope file" -- record --pid $TARGET --rate 20 --duration 1 --format speedscope -o "$T/p.json" --idle
python3 - "$T/p.json" <<'PY' || fail "speedscope file"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["$schema"] == "https://www.speedscope.app/file-format-schema.json"
assert d["exporter"] == "py-spy@0.4.1" and d["name"] == "py-spy profile"
names = [p["name"] for p in d["profiles"]]
assert names == sorted(names) and len(names) == 2, names
for p in d["profiles"]:
    assert p["type"] == "sampled" and p["unit"] == "seconds"
    assert len(p["samples"]) == len(p["weights"])
    assert abs(p["endValue"] - len(p["samples"]) / 20) < 1e-9
    for s in p["samples"]:
        assert all(0 <= i < len(d["shared"]["frames"]) for i in s)
assert sum(len(p["samples"]) for p in d["profiles"]) == 2 * 19
PY
# Replay of a given stack file, and the log line.
printf 'a (x.py:1);b (x.py:2) 3\na (x.py:1);c (x.py:3) 1\n' > "$T/stacks"
PYSPY_STANDIN_STACKS="$T/stacks" PYSPY_STANDIN_LOG="$T/log" expect 0 'Samples: 39' -- record --pid $TARGET --rate 40 --duration 1 --format raw -o "$T/r2.txt"
grep -q '^a (x.py:1);b (x.py:2) 30$' "$T/r2.txt" || fail "replay: $(cat "$T/r2.txt")"
grep -q '^a (x.py:1);c (x.py:3) 9$' "$T/r2.txt" || fail "replay: $(cat "$T/r2.txt")"
grep -Eq "^[0-9]+\.[0-9]{9} [0-9]+ $PYSPY record --pid $TARGET" "$T/log" || fail "log: $(cat "$T/log")"
# Ctrl-C writes what was collected.
"$PYSPY" record --pid $TARGET --duration 10 --format raw -o "$T/int.txt" >"$T/out" 2>&1 & SP=$!
sleep 0.5; kill -INT $SP; wait $SP; rc=$?
[ $rc -eq 0 ] || fail "SIGINT: exit $rc"
grep -q "Stopped sampling because Control-C pressed" "$T/out" || fail "SIGINT message"
[ -s "$T/int.txt" ] || fail "SIGINT: no output"
# The target exiting ends the capture early, keeping the samples.
sleep 0.5 & SHORT=$!
expect 0 "Stopped sampling because process exited" -- record --pid $SHORT --duration 5 --format raw -o "$T/ex.txt"
[ -s "$T/ex.txt" ] || fail "exit: no output"
echo "ok"
