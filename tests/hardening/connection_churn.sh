#!/usr/bin/env bash
# connection_churn.sh - 20,000 requests at concurrency 100, a new connection
# each, against `profd api` with Redis: every one answered 200, 0 resets
# (front_load.py churn).
set -euo pipefail
. "$(dirname "$0")/../support/skip.sh"
. "$(dirname "$0")/front_env.sh"
ulimit -n 4096 2>/dev/null || true
front_start
ID=$(curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    "$B/api/v1/monitoring/profile/start" -d '{"service_name":"churn-svc","duration_seconds":10}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])') || fail "start"
python3 "$(dirname "$0")/front_load.py" churn "$PORT" "$TOKEN" "$ID" || fail "churn"
echo "PASS"
