#!/usr/bin/env bash
# tests/support/redis.sh works: start with AOF, data survives redis_restart,
# redis_stop removes the server and its directory.
set -u
source "$PROFD_SOURCE_DIR/tests/support/redis.sh"
. "$(dirname "$0")/../support/skip.sh"
need_cmd redis-server
need_cmd redis-cli redis-tools
trap redis_stop EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

redis_start --appendonly || fail "redis_start"
[[ "$PROFD_REDIS_URL" == "redis://127.0.0.1:$REDIS_PORT/0" ]] || fail "PROFD_REDIS_URL=$PROFD_REDIS_URL"
kill -0 "$REDIS_PID" || fail "REDIS_PID $REDIS_PID is not running"
[[ "$(redis_cli CONFIG GET appendonly | tail -1)" == yes ]] || fail "appendonly is not on"
[[ "$(redis_cli SET k v)" == OK ]] || fail "SET"
old_pid=$REDIS_PID
redis_restart || fail "redis_restart"
[[ "$REDIS_PID" != "$old_pid" ]] || fail "restart kept the old pid"
kill -0 "$old_pid" 2>/dev/null && fail "the old server is still running"
[[ "$(redis_cli GET k)" == v ]] || fail "data lost across the restart"
dir=$REDIS_DIR pid=$REDIS_PID
redis_stop
kill -0 "$pid" 2>/dev/null && fail "redis_stop left the server running"
[[ -d "$dir" ]] && fail "redis_stop left $dir"
echo "PASS"
