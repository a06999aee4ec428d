# pubsub.sh - Google's Pub/Sub emulator for script tests. Source it, then:
#
#   pubsub_available            0 when Java and the emulator are installed
#   pubsub_start                start on a free loopback port; exports
#                               PUBSUB_EMULATOR_HOST, PUBSUB_PID, GOOGLE_CLOUD_PROJECT
#   pubsub_topic NAME           create a topic (short name)
#   pubsub_sub NAME TOPIC [ACK_DEADLINE]
#                               create a subscription of TOPIC [10 s]
#   pubsub_publish TOPIC DATA [KEY=VALUE...]
#                               publish one message with attributes
#   pubsub_pull_all SUB [MAX]   pull and ack what is there now; prints one JSON
#                               object per message: {"data":...,"attributes":{...}}
#   pubsub_stop                 stop it and remove its directory
#
# Everything goes over the emulator's REST API with curl. The emulator is a
# Java process (about 2 s to start); it dies with the test's EXIT trap via
# pubsub_stop. A caller prints "SKIP: ..." when pubsub_available fails.

PUBSUB_EMULATOR_BIN=${PUBSUB_EMULATOR_BIN:-/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator}

pubsub_available() {
    command -v java >/dev/null 2>&1 || { echo "java is not installed" >&2; return 1; }
    [ -x "$PUBSUB_EMULATOR_BIN" ] || { echo "the Pub/Sub emulator is not installed at $PUBSUB_EMULATOR_BIN" >&2; return 1; }
    command -v curl >/dev/null 2>&1 || { echo "curl is not installed" >&2; return 1; }
}

_pubsub_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pubsub_start() {
    pubsub_available || return 1
    PUBSUB_DIR=$(mktemp -d /tmp/profd-pubsub-XXXXXX)
    export GOOGLE_CLOUD_PROJECT=${GOOGLE_CLOUD_PROJECT:-profd-test}
    local attempt port i
    for attempt in 1 2 3; do
        port=$(_pubsub_free_port)
        "$PUBSUB_EMULATOR_BIN" --host=127.0.0.1 --port="$port" --data-dir="$PUBSUB_DIR" \
            </dev/null >"$PUBSUB_DIR/emulator.log" 2>&1 &
        PUBSUB_PID=$!
        for ((i = 0; i < 300; i++)); do
            kill -0 "$PUBSUB_PID" 2>/dev/null || break
            if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/v1/projects/$GOOGLE_CLOUD_PROJECT/topics"; then
                export PUBSUB_EMULATOR_HOST="127.0.0.1:$port" PUBSUB_PID PUBSUB_DIR
                return 0
            fi
            sleep 0.1
        done
        pubsub_kill
    done
    echo "the Pub/Sub emulator did not start (see $PUBSUB_DIR/emulator.log)" >&2
    return 1
}

_pubsub_url() { echo "http://$PUBSUB_EMULATOR_HOST/v1/projects/$GOOGLE_CLOUD_PROJECT/$1"; }

_pubsub_call() { # METHOD PATH [BODY]: fails unless 2xx
    curl -sS --fail-with-body --max-time 10 -X "$1" -H 'Content-Type: application/json' \
        ${3:+--data-binary "$3"} "$(_pubsub_url "$2")"
}

pubsub_topic() { _pubsub_call PUT "topics/$1" '{}' >/dev/null; }

pubsub_sub() {
    _pubsub_call PUT "subscriptions/$1" \
        "{\"topic\":\"projects/$GOOGLE_CLOUD_PROJECT/topics/$2\",\"ackDeadlineSeconds\":${3:-10}}" >/dev/null
}

pubsub_publish() { # TOPIC DATA [K=V...]
    local topic=$1 data=$2; shift 2
    local body
    body=$(python3 -c 'import base64,json,sys
a=dict(kv.split("=",1) for kv in sys.argv[2:])
m={"data":base64.b64encode(sys.argv[1].encode()).decode()}
if a: m["attributes"]=a
print(json.dumps({"messages":[m]}))' "$data" "$@")
    _pubsub_call POST "topics/$topic:publish" "$body" >/dev/null
}

pubsub_pull_all() { # SUB [MAX]
    local out ids
    out=$(_pubsub_call POST "subscriptions/$1:pull" "{\"maxMessages\":${2:-100},\"returnImmediately\":true}") || return 1
    ids=$(printf '%s' "$out" | python3 -c 'import json,sys
d=json.load(sys.stdin).get("receivedMessages",[])
print(json.dumps({"ackIds":[m["ackId"] for m in d]}) if d else "")')
    [ -n "$ids" ] && _pubsub_call POST "subscriptions/$1:acknowledge" "$ids" >/dev/null
    printf '%s' "$out" | python3 -c 'import base64,json,sys
for m in json.load(sys.stdin).get("receivedMessages",[]):
    x=m["message"]
    print(json.dumps({"data":base64.b64decode(x.get("data","")).decode(),"attributes":x.get("attributes",{})}))'
}

pubsub_kill() {
    [ -n "${PUBSUB_PID:-}" ] || return 0
    # The launcher script execs java, so this pid is the emulator itself.
    kill "$PUBSUB_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$PUBSUB_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$PUBSUB_PID" 2>/dev/null || true
    wait "$PUBSUB_PID" 2>/dev/null || true
    PUBSUB_PID=
    return 0
}

pubsub_stop() {
    pubsub_kill
    if [ -n "${PUBSUB_DIR:-}" ] && [ -d "$PUBSUB_DIR" ]; then rm -rf -- "$PUBSUB_DIR"; fi
    PUBSUB_DIR=
    return 0
}
