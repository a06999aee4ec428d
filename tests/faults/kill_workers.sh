# kill -9 of a worker mid-capture, ROUNDS times: the lease expires and the
# other worker on the host retries the session (or fails it as worker_lost).
. "$(dirname "$0")/lib.sh"
setup_services
for i in 1 2; do start_target "svc-$i"; done
start_worker a PROFD_HOST=node-1
start_worker b PROFD_HOST=node-1
kills=0
for r in $(seq "$ROUNDS"); do
    new_request svc-1 4
    new_request svc-2 4
    victim_id=${IDS[-1]}
    wait_until 30 status_is "$victim_id" running || fail "round $r: nothing ran"
    sleep 1
    # kill whichever worker runs it; restart it under the same name
    for name in a b; do
        pid=$(eval echo "\$WORKER_$name")
        if pgrep -P "$pid" >/dev/null; then
            kill -9 "$pid"; kills=$((kills + 1))
            start_worker "$name" PROFD_HOST=node-1
            break
        fi
    done
done
invariants kill_workers "$kills kill -9 of a capturing worker"
