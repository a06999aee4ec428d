# profd submit: usage errors and exit codes, the request it publishes on
# Kafka (mock cluster, read back with kcat), and a Pub/Sub failure (exit 1).
# The Pub/Sub success path is in e2e.sh.
set -euo pipefail
: "${PROFD_BIN:?}" "${PROFD_SOURCE_DIR:?}" "${PROFD_BUILD_DIR:?}"
. "$PROFD_SOURCE_DIR/tests/support/kafka.sh"
. "$(dirname "$0")/../support/skip.sh"
T=$(mktemp -d /tmp/profd-submit.XXXXXX)
trap 'kafka_stop >/dev/null 2>&1 || true; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export PROFD_LOG_LEVEL=warn PROFD_REDIS_URL=memory

# expect RC PATTERN ARGS...: exit status RC and PATTERN on stderr.
expect() {
    local want=$1 pat=$2 rc=0; shift 2
    "$PROFD_BIN" submit "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = "$want" ] || fail "submit $*: exit $rc, want $want ($(cat "$T/err"))"
    grep -q -- "$pat" "$T/err" || fail "submit $*: stderr lacks '$pat': $(cat "$T/err")"
    [ "$(wc -l <"$T/err")" -le 1 ] || fail "submit $*: more than one line on stderr"
}
export PROFD_BUS=kafka
expect 2 "--service NAME is required"
expect 2 "unknown flag '--bogus'" --service web --bogus 1
expect 2 "Duration must be between 10 and 300 seconds" --service web --duration 5
PROFD_DURATION_MAX=30 expect 2 "between 10 and 30 seconds" --service web --duration 60
expect 2 "host: required when pid is set" --service web --pid 42
expect 2 "service_name" --service "Web Api"
expect 2 "--label needs KEY=VALUE" --service web --label novalue
expect 2 "session_id" --service web --session-id not-a-uuid
PROFD_BUS=memory expect 2 "PROFD_BUS=memory" --service web
"$PROFD_BIN" help submit | grep -q -- "--session-id" || fail "help lacks --session-id"
"$PROFD_BIN" help submit | grep -q "PUBSUB_EMULATOR_HOST" || fail "help lacks the environment"
echo "# usage errors exit 2 with one line"

# Pub/Sub unreachable: exit 1, one line naming the topic.
PROFD_BUS=pubsub PUBSUB_EMULATOR_HOST=127.0.0.1:1 GOOGLE_CLOUD_PROJECT=p \
    expect 1 "publishing to projects/p/topics/profiling.requests" --service web
PROFD_BUS=pubsub GOOGLE_CLOUD_PROJECT= expect 1 "GOOGLE_CLOUD_PROJECT is not set" --service web
echo "# an unreachable or unconfigured Pub/Sub exits 1"

# Kafka: the published request is what the flags say, keyed by its id.
if ! command -v kcat >/dev/null || ! kafka_start; then
    skip_part_provided "kcat or the Kafka mock is missing; Kafka part not run"
    exit 0
fi
export PROFD_KAFKA_BROKERS=$KAFKA_BROKERS
id=0d4c8f4e-8a8e-4b5e-9d55-6b8f0f1e2a3c
out=$(USER=alice "$PROFD_BIN" submit --service web-api --duration 30 --pid 77 --host node-9 \
    --rate 50 --session-id $id --label team=core --label env=prod --idle 2>"$T/err") || fail "kafka submit: $(cat "$T/err")"
[ "$out" = "$id" ] || fail "submit printed '$out', want $id"
msg=""
for _ in $(seq 50); do
    msg=$(kcat -b "$KAFKA_BROKERS" -C -t profiling.requests -o beginning -e -q -f '%k\t%s\n' 2>/dev/null || true)
    [ -n "$msg" ] && break
    sleep 0.2
done
[ "$(printf '%s' "$msg" | cut -f1)" = "$id" ] || fail "message key is not the session id: $msg"
printf '%s' "$msg" | cut -f2- | python3 -c 'import json,sys
r=json.load(sys.stdin)
want={"version":1,"type":"profile","session_id":sys.argv[1],"service_name":"web-api","duration_seconds":30,
      "pid":77,"host":"node-9","rate_hz":50,"trigger":"cli","requested_by":"alice"}
for k,v in want.items():
    assert r[k]==v,(k,r[k],v)
assert r["labels"]=={"team":"core","env":"prod"},r["labels"]
assert r["options"]["idle"] is True and r["options"]["gil"] is False
assert r["requested_at"].endswith("Z")' "$id" || fail "published request is wrong: $msg"
echo "# kafka: the request carries every flag, keyed by its session id"
echo "1 passed, 0 failed"
