#!/usr/bin/env bash
# slow_clients.sh - slowloris against `profd api` with Redis: 300 trickling
# connections from 127.0.0.40-43 and 100 idle ones from 127.0.0.44, while a
# client on 127.0.0.50 gets every GET /healthz and GET session answered 200
# within 1 s for 30 s (PROFD_SLOW_SECONDS), 0 failures (front_load.py slow).
set -euo pipefail
. "$(dirname "$0")/../support/skip.sh"
. "$(dirname "$0")/front_env.sh"
ulimit -n 4096 2>/dev/null || true
front_start
ID=$(curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    "$B/api/v1/monitoring/profile/start" -d '{"service_name":"slow-svc","duration_seconds":10}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])') || fail "start"
python3 "$(dirname "$0")/front_load.py" slow "$PORT" "$TOKEN" "$ID" || fail "slow clients"
echo "PASS"
