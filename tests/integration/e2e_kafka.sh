# A request produced with kcat becomes a completed session in Redis with a
# TTL, three stored files, and session.started + session.completed events.
. "$(dirname "$0")/lib.sh"
setup_services
start_target web-api
MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_worker w1 PROFD_HOST=node-1 PROFD_METRICS_LISTEN=127.0.0.1:$MPORT

id=$(uuid)
produce "$(request "$id" web-api 2)" "$id"
wait_until 40 status_is "$id" completed || fail "session $id is $(field "$id" status): $(field "$id" error_message)"

ttl=$(rcli TTL "profd:session:$id")
[ "$ttl" -gt $((6 * 86400)) ] && [ "$ttl" -le $((7 * 86400)) ] || fail "TTL is $ttl, want about 7 days"
[ "$(field "$id" host)" = node-1 ] || fail "host is $(field "$id" host)"
[ "$(field "$id" pid)" = "$TARGET_PID" ] || fail "pid is $(field "$id" pid), want $TARGET_PID"
[ "$(field "$id" attempt)" = 1 ] || fail "attempt is $(field "$id" attempt)"
count=$(field "$id" sample_count)
[ "$count" -gt 50 ] || fail "sample_count is $count for a 2 s capture at 100 Hz"
python3 -c 'import sys; v=float(sys.argv[1]); sys.exit(0 if 0 <= v < 100 else 1)' "$(field "$id" overhead_percent)" \
    || fail "overhead_percent $(field "$id" overhead_percent) out of range"
case "$(field "$id" sampler)" in py-spy*) ;; *) fail "sampler is $(field "$id" sampler)" ;; esac

for f in stacks.txt profile.json flamegraph.html; do
    [ -s "$T/blobs/sessions/$id/$f" ] || fail "sessions/$id/$f not stored"
done
grep -q '<canvas' "$T/blobs/sessions/$id/flamegraph.html" || fail "flamegraph.html has no canvas"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/blobs/sessions/$id/profile.json" \
    || fail "profile.json is not JSON"

wait_until 10 sh -c "kcat -b $KAFKA_BROKERS -C -t profiling.events -o beginning -e -q -f '%k %s\n' 2>/dev/null | grep -c '$id' | grep -q 2" \
    || fail "want two events for $id"
ev=$(consume_all profiling.events | grep "$id")
echo "$ev" | grep -q '"type":"session.started"' || fail "no session.started event"
echo "$ev" | grep -q '"type":"session.completed"' || fail "no session.completed event"
echo "$ev" | head -1 | cut -f1 | grep -qx "$id" || fail "events are not keyed by session id"
echo "$ev" | grep '"session.completed"' | grep -q 'flame_graph_url' || fail "completed event has no flame_graph_url"
metrics=$(curl -fsS "http://127.0.0.1:$MPORT/metrics") || fail "no /metrics on PROFD_METRICS_LISTEN"
echo "$metrics" | grep -q '^profd_sessions_finished_total{status="completed"} 1$' || fail "metrics lack the completed session"
echo "$metrics" | grep -q '^profd_capture_duration_seconds_count 1$' || fail "metrics lack the capture duration"
echo "$metrics" | grep -qE '^profd_bytes_stored_total [1-9]' || fail "metrics lack the bytes stored"
echo "$metrics" | grep -q '^profd_capture_overhead_percent_count 1$' || fail "metrics lack the capture overhead"
msum=$(echo "$metrics" | sed -n 's/^profd_capture_overhead_percent_sum //p')
python3 -c 'import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b) < 0.01 else 1)' "$msum" "$(field "$id" overhead_percent)" \
    || fail "overhead metric $msum is not the session's overhead_percent $(field "$id" overhead_percent)"
note "session $id completed with $count samples; events keyed and ordered"
echo "1 passed, 0 failed"
