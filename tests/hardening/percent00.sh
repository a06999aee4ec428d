#!/usr/bin/env bash
# percent00.sh - %00 in the path or a query value is 400 where the same
# request without it is answered: /profile/<id>%00 no longer finds <id>, and
# limit=5%00 no longer means 5 (front_checks.py).
set -euo pipefail
. "$(dirname "$0")/../support/skip.sh"
. "$(dirname "$0")/front_env.sh"
front_start
ID=$(curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    "$B/api/v1/monitoring/profile/start" -d '{"service_name":"pct-svc","duration_seconds":10}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])') || fail "start"
python3 "$(dirname "$0")/front_checks.py" percent00 "$PORT" "$TOKEN" "$ID" || fail "percent00"
echo "PASS"
