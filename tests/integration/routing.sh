# Two workers with different PROFD_HOST: every request runs exactly once, on
# the worker of the host it names, or on the one whose PROFD_TARGETS has it.
. "$(dirname "$0")/lib.sh"
setup_services
start_target svc-a; cp "$T/targets.json" "$T/targets-a.json"
TARGETS_JSON="{}"
start_target svc-b; cp "$T/targets.json" "$T/targets-b.json"
start_worker a PROFD_HOST=node-a PROFD_TARGETS="$T/targets-a.json"
start_worker b PROFD_HOST=node-b PROFD_TARGETS="$T/targets-b.json"
ida=$(uuid); idb=$(uuid); idany=$(uuid); idnone=$(uuid)
produce "$(request "$ida" svc-a 1 node-a)" "$ida"
produce "$(request "$idb" svc-b 1 node-b)" "$idb"
produce "$(request "$idany" svc-b 1)" "$idany"
produce "$(request "$idnone" svc-a 1 node-z)" "$idnone"
for id in "$ida" "$idb" "$idany"; do
    wait_until 30 status_is "$id" completed || fail "$id is $(field "$id" status): $(field "$id" error_message)"
done
[ "$(field "$ida" host)" = node-a ] || fail "svc-a ran on $(field "$ida" host)"
[ "$(field "$idb" host)" = node-b ] || fail "svc-b ran on $(field "$idb" host)"
[ "$(field "$idany" host)" = node-b ] || fail "host-less svc-b ran on $(field "$idany" host)"
ra=$(grep -c " record " "$T/a.standin"); rb=$(grep -c " record " "$T/b.standin")
[ "$ra" -eq 1 ] && [ "$rb" -eq 2 ] || fail "node-a ran $ra captures (want 1), node-b ran $rb (want 2)"
[ "$(field "$idnone" status)" = queued ] || fail "a request for an absent host is $(field "$idnone" status)"
note "node-a ran 1, node-b ran 2, a request for node-z stays queued until PROFD_REQUEST_TTL"
echo "1 passed, 0 failed"
