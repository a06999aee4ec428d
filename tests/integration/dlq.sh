# Every message of the bad-request corpus (plus an oversized one) lands in the
# DLQ exactly once with the error headers, no session is created, and the
# worker still serves a good request afterwards. Two workers read every
# message (one group per host); the DLQ claim keeps it to one copy.
. "$(dirname "$0")/lib.sh"
setup_services
start_target web-api
start_worker w1 PROFD_HOST=node-1
start_worker w2 PROFD_HOST=node-2

bad=("$PROFD_SOURCE_DIR"/tests/fixtures/requests/bad/*.json)
[ ${#bad[@]} -ge 50 ] || fail "the bad corpus has ${#bad[@]} messages, want at least 50"
python3 -c 'print("{\"service_name\":\"web-api\",\"pad\":\"" + "x"*70000 + "\"}")' >"$T/oversized.json"
kcat -b "$KAFKA_BROKERS" -P -t profiling.requests "${bad[@]}" "$T/oversized.json"
want=$((${#bad[@]} + 1))

dlq_count() { consume_all profiling.requests.dlq | grep -c . || true; }
wait_until 60 sh -c "[ \$(kcat -b $KAFKA_BROKERS -C -t profiling.requests.dlq -o beginning -e -q 2>/dev/null | grep -c . ) -ge $want ]" \
    || fail "DLQ has $(dlq_count) messages, want $want"
sleep 2 # a duplicate from the second worker would show up by now
n=$(kcat -b "$KAFKA_BROKERS" -C -t profiling.requests.dlq -o beginning -e -q -f '%h\n' 2>/dev/null | grep -c 'profd-error-code=')
[ "$n" -eq "$want" ] || fail "DLQ has $n messages with headers, want exactly $want (once each)"
kcat -b "$KAFKA_BROKERS" -C -t profiling.requests.dlq -o beginning -e -q -f '%h\n' 2>/dev/null | grep -q 'profd-error=' \
    || fail "DLQ messages lack the profd-error header"
sessions=$(rcli --scan --pattern 'profd:session:*' | wc -l)
[ "$sessions" -eq 0 ] || fail "$sessions sessions were created from bad messages"

# test_dlq_keeps_kafka_key: the DLQ copy of a keyed message keeps its key
# (the bad corpus above is unkeyed; this one names no session id either, so
# the key cannot come from anywhere else).
printf 'orig-key-42#{"service_name": "web-api", "duration_seconds": 0, "note": "keyed-dlq"}\n' \
    | kcat -b "$KAFKA_BROKERS" -P -t profiling.requests -K '#'
wait_until 30 sh -c "kcat -b $KAFKA_BROKERS -C -t profiling.requests.dlq -o beginning -e -q -f '%k|%s\n' 2>/dev/null | grep -aq keyed-dlq" \
    || fail "the keyed bad message did not reach the DLQ"
keyed=$(kcat -b "$KAFKA_BROKERS" -C -t profiling.requests.dlq -o beginning -e -q -f '%k|%s\n' 2>/dev/null | grep -a keyed-dlq)
[ "${keyed%%|*}" = orig-key-42 ] || fail "DLQ copy has key '${keyed%%|*}', want orig-key-42 ($keyed)"
note "DLQ copy kept the key orig-key-42"

id=$(uuid)
produce "$(request "$id" web-api 1 node-1)" "$id"
wait_until 30 status_is "$id" completed || fail "worker stopped serving after bad input: $(field "$id" status)"
kill -0 "$WORKER_w1" && kill -0 "$WORKER_w2" || fail "a worker died"
note "$want bad messages dead-lettered once each; good request completed afterwards"
echo "1 passed, 0 failed"
