#!/usr/bin/env bash
# idle_address_lockout.sh - 100 idle connections from one address (more than
# its 64 slots) do not lock that address out: new requests from it are
# answered within 1 s, because the oldest idle connection gives up its slot
# (front_checks.py idle-lockout). Behind a proxy, that address is everyone.
set -euo pipefail
. "$(dirname "$0")/../support/skip.sh"
. "$(dirname "$0")/front_env.sh"
front_start
python3 "$(dirname "$0")/front_checks.py" idle-lockout "$PORT" "$TOKEN" || fail "idle-lockout"
echo "PASS"
