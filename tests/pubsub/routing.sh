# Two workers with different PROFD_HOST share one subscription (docs/routing.md):
# each request runs exactly once, on the worker of the host it names, or on
# the one whose PROFD_TARGETS has the service; the other nacks it back.
. "$(dirname "$0")/lib.sh"
setup_pubsub
start_target svc-a; cp "$T/targets.json" "$T/targets-a.json"
TARGETS_JSON="{}"
start_target svc-b; cp "$T/targets.json" "$T/targets-b.json"
start_worker a PROFD_HOST=node-a PROFD_TARGETS="$T/targets-a.json"
start_worker b PROFD_HOST=node-b PROFD_TARGETS="$T/targets-b.json"
ids_a=() ids_b=()
for _ in 1 2; do
    id=$(uuid); ids_a+=("$id"); ps_produce "$(request "$id" svc-a 1 node-a)"
    id=$(uuid); ids_b+=("$id"); ps_produce "$(request "$id" svc-b 1 node-b)"
done
idany=$(uuid)
ps_produce "$(request "$idany" svc-b 1)"
for id in "${ids_a[@]}" "${ids_b[@]}" "$idany"; do
    wait_until 40 status_is "$id" completed || fail "$id is $(field "$id" status): $(field "$id" error_message)"
done
for id in "${ids_a[@]}"; do [ "$(field "$id" host)" = node-a ] || fail "svc-a ran on $(field "$id" host)"; done
for id in "${ids_b[@]}" "$idany"; do [ "$(field "$id" host)" = node-b ] || fail "svc-b ran on $(field "$id" host)"; done
ra=$(grep -c " record " "$T/a.standin"); rb=$(grep -c " record " "$T/b.standin")
[ "$ra" -eq 2 ] && [ "$rb" -eq 3 ] || fail "node-a ran $ra captures (want 2), node-b ran $rb (want 3)"
for id in "${ids_a[@]}" "${ids_b[@]}" "$idany"; do
    [ "$(field "$id" attempt)" = 1 ] || fail "$id ran $(field "$id" attempt) times"
done
nacks=$(cat "$T/a.log" "$T/b.log" | grep -c '"pubsub.nack"' || true)
note "node-a ran 2, node-b ran 3, each once; $nacks nack(s) handed requests to the other worker"
echo "1 passed, 0 failed"
