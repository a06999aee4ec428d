#!/usr/bin/env bash
# openapi.sh - the OpenAPI document (src/api/openapi.json): assets.c in sync
# with it, a real validator (@apidevtools/swagger-parser) accepts what
# GET /api/v1/openapi.json serves, and every documented operation and status
# answers as documented from a real `profd serve` (openapi.mjs). That every
# served route is documented is test_api_units (test_openapi_matches_routes).
set -u
SRC=${PROFD_SOURCE_DIR:?}
. "$(dirname "$0")/../support/skip.sh"
python3 "$SRC/src/api/embed_assets.py" --check ||
    { echo "FAIL: src/api/assets.c is stale: run python3 src/api/embed_assets.py"; exit 1; }
need_cmd node nodejs
[ -d "$SRC/tests/node/node_modules/@apidevtools/swagger-parser" ] ||
    skip_provided "@apidevtools/swagger-parser not installed in tests/node (npm ci there)"
. "$(dirname "$0")/serve_fixture.sh"
timeout 180 node "$(dirname "$0")/openapi.mjs" || fail "openapi.mjs"
echo "ok: OpenAPI document valid and answered as documented"
