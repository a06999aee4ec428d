#!/usr/bin/env bash
# host_required.sh - HTTP/1.1 without Host (or with two) is 400; HTTP/1.0
# may omit it (front_checks.py).
set -euo pipefail
. "$(dirname "$0")/../support/skip.sh"
. "$(dirname "$0")/front_env.sh"
front_start
python3 "$(dirname "$0")/front_checks.py" host "$PORT" "$TOKEN" || fail "host"
echo "PASS"
