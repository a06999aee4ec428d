# With the default bounds (10..300 s) a 5 s request is rejected with the seed's
# text, in the DLQ header and in the failed session.
. "$(dirname "$0")/lib.sh"
setup_services
unset PROFD_DURATION_MIN
start_target web-api
start_worker w1 PROFD_HOST=node-1
id=$(uuid)
produce "$(request "$id" web-api 5)" "$id"
wait_until 30 sh -c "kcat -b $KAFKA_BROKERS -C -t profiling.requests.dlq -o beginning -e -q -f '%h\n' 2>/dev/null | grep -q 'Duration must be between 10 and 300 seconds'" \
    || fail "no DLQ message with the seed's duration text"
wait_until 10 sh -c "kcat -b $KAFKA_BROKERS -C -t profiling.events -o beginning -e -q 2>/dev/null | grep '$id' | grep -q session.failed" \
    || fail "no session.failed event for $id"
consume_all profiling.events | grep "$id" | grep -q 'Duration must be between 10 and 300 seconds' \
    || fail "the failed event does not carry the seed's text"
note "5 s request rejected: Duration must be between 10 and 300 seconds"
echo "1 passed, 0 failed"
