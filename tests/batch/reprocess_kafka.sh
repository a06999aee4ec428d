#!/bin/bash
# `profd reprocess` in queue mode, end to end: real captures through Kafka
# (the librdkafka mock cluster) make completed sessions; `profd reprocess
# --all` publishes one job per session on the request topic; two workers (two
# consumer groups, so both read every job) share them, and every session is
# re-rendered exactly once. A running-only or stacks-less session is skipped
# by the command itself.
. "$PROFD_SOURCE_DIR/tests/integration/lib.sh"
need_cmd kcat
setup_services
export PROFD_LOG_LEVEL=info
start_target web-api
start_worker a PROFD_HOST=node-a
start_worker b PROFD_HOST=node-b

ids=()
for i in 1 2 3 4 5 6; do
    id=$(uuid); ids+=("$id")
    produce "$(request "$id" web-api 1 node-a)" "$id"
done
for id in "${ids[@]}"; do
    wait_until 30 status_is "$id" completed || fail "$id is $(field "$id" status): $(field "$id" error_message)"
done
before=$(rcli GET "profd:session:${ids[0]}")
[ "$(field "${ids[0]}" reprocessed_at)" = "" ] || fail "reprocessed_at is set before any reprocess"

out=$("$PROFD_BIN" reprocess --all --rate 50 2>"$T/reprocess.log") || fail "reprocess exited $?: $(cat "$T/reprocess.log")"
grep -q "^queued: 6; skipped: 0; failed: 0$" <<<"$out" || fail "unexpected counts: $out"
[ "$(grep -c '"reprocess.queued"' "$T/reprocess.log")" = 6 ] || fail "want one log line per session: $(cat "$T/reprocess.log")"

reprocessed() { [ -n "$(field "$1" reprocessed_at)" ]; }
for id in "${ids[@]}"; do
    wait_until 20 reprocessed "$id" || fail "$id was not reprocessed: $(rcli GET "profd:session:$id")"
    [ "$(field "$id" renderer)" = "profd $("$PROFD_BIN" --version | cut -d' ' -f2)" ] || fail "renderer is $(field "$id" renderer)"
    [ "$(field "$id" status)" = completed ] || fail "$id is $(field "$id" status) after reprocess"
done
sleep 1 # let the slower worker see every job too
for id in "${ids[@]}"; do
    n=$(cat "$T/a.log" "$T/b.log" | grep '"reprocess.done"' | grep -c "$id" || true)
    [ "$n" = 1 ] || fail "$id was re-rendered $n times"
done
na=$(grep -c '"reprocess.done"' "$T/a.log" || true); nb=$(grep -c '"reprocess.done"' "$T/b.log" || true)
! grep -q 'not yet available' "$T/a.log" "$T/b.log" || fail "a worker still dead-letters reprocess jobs"
[ -z "$(consume_all profiling.requests.dlq)" ] || fail "something went to the DLQ"
gen=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["sample_count"])' "$before")
[ "$(field "${ids[0]}" sample_count)" = "$gen" ] || fail "sample_count changed: $gen -> $(field "${ids[0]}" sample_count)"
note "6 sessions re-rendered once each: node-a did $na, node-b did $nb"

# On a terminal: a progress bar with an ETA instead of log lines.
if command -v script >/dev/null; then
    script -qec "$PROFD_BIN reprocess --all --local --rate 20" /dev/null >"$T/tty.out" </dev/null \
        || fail "reprocess --local on a tty failed: $(cat "$T/tty.out")"
    grep -q '\[#.*\] 3/6 .* ETA 0m0' "$T/tty.out" || fail "no progress bar with an ETA: $(cat -A "$T/tty.out")"
    grep -q 'reprocessed: 6; skipped: 0; failed: 0' "$T/tty.out" || fail "tty counts: $(cat "$T/tty.out")"
    ! grep -q '"reprocess.done"' "$T/tty.out" || fail "log lines on a terminal"
    note "progress bar: $(tr '\r' '\n' <"$T/tty.out" | grep -m1 '3/6')"
fi
echo "1 passed, 0 failed"
