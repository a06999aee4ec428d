#!/bin/bash
# The worker end to end writing to gs:// against tests/blob/gcs_server.py:
# a request on Kafka becomes a completed session whose three objects are in
# the bucket under the store's prefix (uploaded through injected 503s and a
# reset), with links pointing at the emulator; then an upload that keeps
# failing ends the session failed/upload_failed with the contract's message.
. "$PROFD_SOURCE_DIR/tests/integration/lib.sh"
need_cmd kcat
setup_services
# poll SECONDS CMD...: our own, so this test does not depend on lib.sh's helper names.
poll() {
    local end=$((SECONDS + $1)); shift
    until "$@"; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.2
    done
}

python3 "$PROFD_SOURCE_DIR/tests/blob/gcs_server.py" >"$T/gcs.port" &
PIDS+=("$!")
poll 10 test -s "$T/gcs.port" || fail "gcs_server.py did not start"
GCS="127.0.0.1:$(cat "$T/gcs.port")"
export PROFD_STORAGE="gs://bkt/profd" STORAGE_EMULATOR_HOST="$GCS"
ctl() { curl -sf -X POST "http://$GCS/_control/$1" -d "$2" >/dev/null || fail "control $1"; }
stats() { curl -sf "http://$GCS/_control/stats"; }

start_target web-api
start_worker w1 PROFD_HOST=node-1

ctl faults '{"faults": [{"kind": "503", "match": "upload", "count": 2}, {"kind": "reset", "match": "upload"}]}'
id=$(uuid)
produce "$(request "$id" web-api 1)" "$id"
poll 40 finished "$id" || fail "session $id did not finish"
status_is "$id" completed || fail "session $id is $(field "$id" status): $(field "$id" error_message)"
objects=$(stats | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["objects"]))')
for f in stacks.txt profile.json flamegraph.html; do
    grep -qx "profd/sessions/$id/$f" <<<"$objects" || fail "profd/sessions/$id/$f not in the bucket: $objects"
done
[ "$(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["pending_faults"])')" = 0 ] \
    || fail "the injected faults were not all hit"
curl -sf "http://$GCS/storage/v1/b/bkt/o/profd%2Fsessions%2F$id%2Fprofile.json?alt=media" -o "$T/profile.json" \
    || fail "profile.json cannot be downloaded"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/profile.json" || fail "profile.json is not JSON"
ev=$(consume_all profiling.events | grep "$id" | grep session.completed | cut -f3- || true)
url=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["session"]["flame_graph_url"])' "$ev") \
    || fail "no completed event with a flame_graph_url: $ev"
[ "$url" = "http://$GCS/storage/v1/b/bkt/o/profd%2Fsessions%2F$id%2Fflamegraph.html?alt=media" ] \
    || fail "flame_graph_url is '$url', want the emulator link"
curl -sf "$url" -o "$T/flamegraph.html" || fail "the link does not serve the flame graph"
grep -q '<canvas' "$T/flamegraph.html" || fail "the link serves no flame graph"
note "session $id stored in gs://bkt/profd through 2x503 and a reset"

ctl faults '{"faults": [{"kind": "503", "match": "upload", "count": 50}]}'
id2=$(uuid)
produce "$(request "$id2" web-api 1)" "$id2"
poll 60 finished "$id2" || fail "session $id2 did not finish"
status_is "$id2" failed || fail "session $id2 is $(field "$id2" status) despite a bucket that keeps failing"
[ "$(field "$id2" error_code)" = upload_failed ] || fail "error_code is $(field "$id2" error_code)"
msg=$(field "$id2" error_message)
grep -Eq "^upload of profd/sessions/$id2/[a-z.]+ failed after 6 attempts: HTTP 503" <<<"$msg" \
    || fail "error_message is '$msg'"
[ -s "$PROFD_SPOOL_DIR/$id2/stacks.txt" ] || fail "the failed upload's capture is not kept in $PROFD_SPOOL_DIR/$id2"
note "failing bucket: $msg; capture kept in the spool"

# test_upload_failure_no_orphans: stacks.txt is stored, then profile.json keeps
# failing; the failed session must not leave stacks.txt (or anything) behind.
ctl reset "{}" # the earlier 503s that were not used up
ctl faults '{"faults": [{"kind": "503", "match": "upload", "after": 1, "count": 50}]}'
id3=$(uuid)
produce "$(request "$id3" web-api 1)" "$id3"
poll 60 finished "$id3" || fail "session $id3 did not finish"
status_is "$id3" failed || fail "session $id3 is $(field "$id3" status) with profile.json failing"
[ "$(field "$id3" error_code)" = upload_failed ] || fail "error_code is $(field "$id3" error_code)"
msg=$(field "$id3" error_message)
grep -q "profd/sessions/$id3/profile.json failed" <<<"$msg" || fail "not profile.json that failed: $msg"
deletes=$(stats | python3 -c 'import json,sys,urllib.parse as u
for r in json.load(sys.stdin)["requests"]:
    if r["method"] == "DELETE": print(u.unquote(r["path"]))')
grep -q "profd/sessions/$id3/stacks.txt" <<<"$deletes" \
    || fail "the stored stacks.txt of $id3 was not taken back (deletes: $deletes)"
objects=$(stats | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["objects"]))')
grep -q "sessions/$id3/" <<<"$objects" && fail "orphaned objects of the failed session: $(grep "$id3" <<<"$objects")"
note "profile.json failing after stacks.txt stored: failed session, no objects left"
echo "1 passed, 0 failed"
