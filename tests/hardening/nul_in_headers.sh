#!/usr/bin/env bash
# nul_in_headers.sh - a NUL in any header, Authorization included, is 400
# and a closed connection, and no session is stored (front_checks.py).
set -euo pipefail
. "$(dirname "$0")/../support/skip.sh"
. "$(dirname "$0")/front_env.sh"
front_start
python3 "$(dirname "$0")/front_checks.py" nul-headers "$PORT" "$TOKEN" || fail "nul-headers"
[ "$(front_sessions)" = 0 ] || fail "a request with a NUL header stored a session"
echo "PASS"
