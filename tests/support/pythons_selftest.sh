#!/bin/bash
# pythons_selftest.sh - the provisioned test interpreters (scripts/provision-pythons.sh,
# docs/test-pythons.md) and tests/support/pythons.sh's launch modes. For every interpreter the
# tests expect: it runs a script that imports what the fixtures use, the pid written to the
# pid file is the Python process itself, and the host sees it the way the mode promises
# (chroot: host paths in /proc/PID/maps, /proc/PID/root is the root; ns: paths inside the
# root, /proc/PID/root leads to them, another mount namespace), a path passed as {RUNDIR}/...
# reaches the target, 3.13t has the GIL disabled and the d builds are debug builds. Missing
# interpreters are skipped locally, fatal under CI=true.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/pythons.sh"
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; profd_py_cleanup; rm -rf "$W"' EXIT

cat > "$W/probe.py" <<'EOF'
import sys, threading, ctypes, time, os, signal, subprocess, tracemalloc
gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
debug = hasattr(sys, "gettotalrefcount")
print("ready", os.getpid(), sys.version.split()[0], "gil=%s" % gil, "debug=%s" % debug, flush=True)
# Runs until the file named by its argument appears (the test has looked at it), 30 s at most.
for _ in range(3000):
    if os.path.exists(sys.argv[1]):
        break
    time.sleep(0.01)
else:
    sys.exit(3)
EOF

passed=0 failed=0 skipped=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

for name in "${PROFD_PY_EXPECTED[@]}"; do
    rc=0; profd_py_check "$name" || rc=$?
    if [ $rc -eq 1 ]; then skipped=$((skipped + 1)); continue; fi
    if [ $rc -eq 2 ]; then failed=$((failed + 1)); continue; fi
    path=$(profd_py_field "$name" path); root=$(profd_py_field "$name" root)
    for mode in $(profd_py_modes "$name"); do
        what="$name $mode"
        out=$W/out.$name.$mode
        profd_py_launch "$name" "$mode" "$W/pid" "$W/probe.py" "{RUNDIR}/done" > "$out" 2>&1
        launcher=$PROFD_PY_LAUNCHER
        if ! pid=$(profd_py_wait_pid "$W/pid" 20); then
            fail "$what: no Python process: $(cat "$out")"
            : > "$PROFD_PY_RUNDIR/done"; wait "$launcher"; continue
        fi
        for _ in $(seq 200); do grep -q ready "$out" && break; sleep 0.05; done
        ok=1
        read -r _ ppid version gil debug < "$out" || true
        [ "$ppid" = "$pid" ] || { fail "$what: pid file says $pid, the script says ${ppid:-nothing}: $(cat "$out")"; ok=0; }
        exe_in_maps=$(awk -v p="$path" '$6 ~ p "$" { print $6; exit }' "/proc/$pid/maps" 2>/dev/null)
        case $mode in
        host)
            [ "$(readlink "/proc/$pid/root")" = / ] || { fail "$what: /proc/$pid/root is not /"; ok=0; } ;;
        chroot)
            [ "$exe_in_maps" = "$root$path" ] || { fail "$what: maps shows '$exe_in_maps', want the host path $root$path"; ok=0; }
            [ "$(readlink "/proc/$pid/root")" = "$root" ] || { fail "$what: /proc/$pid/root is $(readlink "/proc/$pid/root"), want $root"; ok=0; }
            [ "$(readlink /proc/$pid/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ] || { fail "$what: not in the host's mount namespace"; ok=0; } ;;
        ns)
            [ "$exe_in_maps" = "$path" ] || { fail "$what: maps shows '$exe_in_maps', want the in-root path $path"; ok=0; }
            [ "/proc/$pid/root$path" -ef "$root$path" ] || { fail "$what: /proc/$pid/root$path is not $root$path"; ok=0; }
            [ "$(readlink /proc/$pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] || { fail "$what: in the host's mount namespace"; ok=0; } ;;
        esac
        case $name in
        *t) [ "$gil" = gil=False ] || { fail "$what: $gil, want the GIL disabled"; ok=0; } ;;
        *d) [ "$debug" = debug=True ] || { fail "$what: not a debug build ($debug)"; ok=0; } ;;
        esac
        want=$(profd_py_field "$name" version); want=${want%% *}
        [ "$version" = "$want" ] || { fail "$what: runs $version, the manifest says $want"; ok=0; }
        : > "$PROFD_PY_RUNDIR/done"
        wait "$launcher"; rc=$?
        [ $rc -eq 0 ] || { fail "$what: exited $rc: $(cat "$out")"; ok=0; }
        [ $ok -eq 1 ] && { passed=$((passed + 1)); echo "ok: $what: pid $pid, $version $gil $debug"; }
    done
    profd_py_cleanup
done

# ns mode: killing the launcher (unshare) takes the Python child with it.
if [ -z "$(_profd_py_problem 3.14)" ]; then
    profd_py_launch 3.14 ns "$W/pid" "$W/probe.py" "{RUNDIR}/never" > "$W/out.kill" 2>&1
    launcher=$PROFD_PY_LAUNCHER
    if pid=$(profd_py_wait_pid "$W/pid" 20); then
        kill "$launcher"; wait "$launcher" 2>/dev/null
        for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.05; done
        if [ -d "/proc/$pid" ]; then fail "3.14 ns: Python $pid outlives its killed launcher"; kill -9 "$pid"
        else passed=$((passed + 1)); echo "ok: 3.14 ns: killing the launcher ends Python"; fi
    else
        fail "3.14 ns: no Python process for the kill check: $(cat "$W/out.kill")"
    fi
    profd_py_cleanup
fi

echo "pythons_selftest: $passed passed, $failed failed, $skipped skipped"
exit $((failed > 0))
