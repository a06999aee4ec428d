# A Kafka broker goes down and comes back, ROUNDS times, while requests keep
# arriving: the worker reconnects and no request is lost.
. "$(dirname "$0")/lib.sh"
setup_services
kafka_stop
kafka_start --brokers 3 --stdin-control
export KAFKA_BROKERS PROFD_KAFKA_BROKERS="$KAFKA_BROKERS"
for i in 1 2 3; do start_target "svc-$i"; done
start_worker w1 PROFD_HOST=node-1
for r in $(seq "$ROUNDS"); do
    new_request svc-1 1
    b=$(( (r % 3) + 1 ))
    kafka_ctl "down $b" >/dev/null || fail "could not take broker $b down"
    # A producer whose partition leader is down waits for it: produce in the
    # background, bring the broker back, then let the producer finish.
    id=$(uuid); IDS+=("$id")
    produce "$(request "$id" svc-2 1)" "$id" &
    producer=$!
    sleep 3
    kafka_ctl "up $b" >/dev/null || fail "could not bring broker $b back"
    wait "$producer" || fail "round $r: the request sent during the outage was not delivered"
    new_request svc-3 1
done
invariants kafka_broker "broker down 3 s per round"
