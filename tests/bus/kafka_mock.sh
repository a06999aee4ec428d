#!/usr/bin/env bash
# kafka_mock.sh - the mock Kafka cluster program and its bash helpers
# (tests/support/kafka.sh), driven the way integration tests use them.
set -euo pipefail
. "$PROFD_SOURCE_DIR/tests/support/kafka.sh"
. "$(dirname "$0")/../support/skip.sh"

need_cmd kcat
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
trap kafka_stop EXIT

# 1. Defaults, stdin at EOF: the mock keeps running until it is signalled.
kafka_start
[ -n "$KAFKA_BROKERS" ] || fail "KAFKA_BROKERS not set"
pid=$KAFKA_MOCK_PID
sleep 0.3
kill -0 "$pid" || fail "mock exited at EOF on stdin without --stdin-control"
meta=$(kcat -b "$KAFKA_BROKERS" -L -J)
for t in profiling.requests:3 profiling.events:1 profiling.requests.dlq:1; do
    n=$(python3 -c 'import json,sys; m=json.load(sys.stdin); print([len(t["partitions"]) for t in m["topics"] if t["topic"]==sys.argv[1]][0])' "${t%%:*}" <<<"$meta")
    [ "$n" = "${t##*:}" ] || fail "topic ${t%%:*} has $n partitions, want ${t##*:}"
done
printf 'one\ntwo\n' | kcat -b "$KAFKA_BROKERS" -P -t profiling.requests -k k
got=$(kcat -b "$KAFKA_BROKERS" -C -t profiling.requests -e -q -f '%k=%s\n' | sort | tr '\n' ' ')
[ "$got" = "k=one k=two " ] || fail "consumed '$got'"
kafka_stop
kill -0 "$pid" 2>/dev/null && fail "mock still running after kafka_stop"

# 2. Several brokers, custom topics, commands on stdin.
kafka_start --brokers 3 --topic jobs:5 --stdin-control
[ "$(tr ',' '\n' <<<"$KAFKA_BROKERS" | wc -l)" = 3 ] || fail "want 3 bootstrap servers: $KAFKA_BROKERS"
n=$(kcat -b "$KAFKA_BROKERS" -L -t jobs | grep -c 'partition [0-9]*,')
[ "$n" = 5 ] || fail "jobs has $n partitions, want 5"
kafka_ctl "down 2" >/dev/null || fail "down 2 refused"
kafka_ctl "up 2" >/dev/null || fail "up 2 refused"
kafka_ctl "rtt 1 10" >/dev/null || fail "rtt refused"
reply=$(kafka_ctl "explode 1") && fail "bad command accepted"
[[ $reply == "error: unknown command"* ]] || fail "reply to a bad command: $reply"
echo hello | kcat -b "$KAFKA_BROKERS" -P -t jobs -p 0
[ "$(kcat -b "$KAFKA_BROKERS" -C -t jobs -p 0 -e -q)" = hello ] || fail "no message on jobs"
pid=$KAFKA_MOCK_PID
kafka_ctl quit >/dev/null || true
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "mock still running after quit"
kafka_stop

# 3. Bad arguments are refused with a message.
if err=$("$PROFD_BUILD_DIR/tests/support/kafka_mock" --topic nopartitions 2>&1 </dev/null); then
    fail "--topic without partitions accepted"
fi
[[ $err == *"--topic wants NAME:PARTITIONS"* ]] || fail "error was: $err"
echo "PASS"
