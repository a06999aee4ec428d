# The worker end to end with the built-in sampler (PROFD_SAMPLER=builtin) against the
# provisioned interpreters that it reads through their _Py_DebugOffsets: Debian sid's 3.14 in
# its own mount namespace (a container, as pythons.sh launches it) and the free-threaded 3.13t.
# Each session must complete with stacks and a flame graph that hold the target's call chain.
# Missing interpreters skip, saying how to provision them (fail under CI=true).
. "$(dirname "$0")/lib.sh"
. "$SUPPORT/pythons.sh"
rc=0
profd_py_check 3.14 3.13t || rc=$?
[ $rc -eq 2 ] && exit 1
[ $rc -eq 1 ] && exit "$PROFD_SKIP_RC"
setup_services
export PROFD_SAMPLER=builtin
profd_py_launch 3.14 ns "$T/pid314" "$BUSY_TARGET"
PIDS+=("$PROFD_PY_LAUNCHER")
P314=$(profd_py_wait_pid "$T/pid314")
PIDS+=("$P314")
profd_py_launch 3.13t host "$T/pid313t" "$BUSY_TARGET"
PIDS+=("$PROFD_PY_LAUNCHER")
P313T=$(profd_py_wait_pid "$T/pid313t")
echo "{\"app-314\": {\"pid\": $P314}, \"app-313t\": {\"pid\": $P313T}}" >"$T/targets.json"
export PROFD_TARGETS="$T/targets.json"
start_worker w1 PROFD_HOST=node-1
# 200 samples expected; a loaded 2-core machine (pausing reads of another root's target) misses
# many ticks, so the bound is loose: it catches a capture that barely sampled
for svc in app-314 app-313t; do
    builtin_session "$svc" 60
done
profd_py_cleanup
echo "2 passed, 0 failed"
