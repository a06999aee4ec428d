#!/bin/bash
# The periodic cleanup inside the workers: two `profd worker` processes share
# one Redis; exactly one of them wins the "cleanup" claim and cleans (blobs
# older than PROFD_CLEANUP_DAYS go, recent ones stay, stale index entries are
# dropped), the other does nothing, and the claim is held for the interval.
set -euo pipefail
: "${PROFD_BIN:?}" "${PROFD_SOURCE_DIR:?}"
. "$PROFD_SOURCE_DIR/tests/support/redis.sh"
. "$(dirname "$0")/../support/skip.sh"
need_cmd redis-cli redis-tools
need_cmd redis-server
T=$(mktemp -d /tmp/profd-cleanlock.XXXXXX)
PIDS=()
finish() {
    local rc=$?
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    redis_stop >/dev/null 2>&1 || true
    if [ $rc -ne 0 ]; then for f in "$T"/*.log; do echo "== $f" >&2; tail -n 20 "$f" >&2; done; fi
    rm -rf "$T"
    exit $rc
}
trap finish EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
redis_start || fail "redis-server did not start"

export PROFD_BUS=memory PROFD_STORAGE="file://$T/blobs" PROFD_SPOOL_DIR="$T/spool"
export PROFD_SAMPLER=builtin PROFD_LOG_FORMAT=json PROFD_LOG_LEVEL=info
export PROFD_CLEANUP_DAYS=7 PROFD_CLEANUP_INTERVAL=60
echo '{}' >"$T/targets.json"
export PROFD_TARGETS="$T/targets.json"

old_ms=$(( ($(date +%s) - 10 * 86400) * 1000 ))
for i in 1 2; do
    d="$T/blobs/sessions/00000000-0000-4000-8000-00000000000$i"
    mkdir -p "$d"
    for f in stacks.txt profile.json flamegraph.html; do echo old >"$d/$f"; done
    touch -d '10 days ago' "$d"/*
    redis-cli -p "$REDIS_PORT" ZADD profd:idx:all "$old_ms" "00000000-0000-4000-8000-00000000000$i" >/dev/null
done
recent="$T/blobs/sessions/00000000-0000-4000-8000-000000000009"
mkdir -p "$recent"; echo new >"$recent/stacks.txt"; touch -d '2 days ago' "$recent/stacks.txt"

for w in a b; do
    PROFD_HOST="node-$w" "$PROFD_BIN" worker >"$T/$w.log" 2>&1 &
    PIDS+=("$!")
done
end=$((SECONDS + 15))
until cat "$T/a.log" "$T/b.log" | grep -q '"cleanup.done"'; do
    [ $SECONDS -lt $end ] || fail "no worker cleaned up within 15 s"
    sleep 0.2
done
sleep 1.5 # the loser has tried by now (each worker tries at start)
runs=$(grep -h '"cleanup.done"' "$T/a.log" "$T/b.log")
[ "$(wc -l <<<"$runs")" = 1 ] || fail "expected one cleanup, got: $runs"
grep -q 'sessions: 0 removed (and 2 index entries of expired records); objects: 6 removed' <<<"$runs" \
    || fail "unexpected counts: $runs"
[ ! -e "$T/blobs/sessions/00000000-0000-4000-8000-000000000001" ] || fail "old blobs are still there"
[ -f "$recent/stacks.txt" ] || fail "a recent blob was removed"
[ "$(redis-cli -p "$REDIS_PORT" ZCARD profd:idx:all)" = 0 ] || fail "stale index entries remain"
owner=$(redis-cli -p "$REDIS_PORT" GET profd:claim:cleanup)
ttl=$(redis-cli -p "$REDIS_PORT" PTTL profd:claim:cleanup)
[[ "$owner" == node-* ]] || fail "cleanup claim owner is '$owner'"
[ "$ttl" -gt 50000 ] || fail "the cleanup claim is held for ${ttl} ms, want about 60 s"
winner=$(grep -l '"cleanup.done"' "$T/a.log" "$T/b.log")
echo "# one cleanup by $(basename "$winner" .log) (claim owner $owner): ${runs##*older than}"
echo "1 passed, 0 failed"
