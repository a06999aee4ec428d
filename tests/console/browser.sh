#!/usr/bin/env bash
# browser.sh - the console in headless Chromium (browser.mjs, playwright-core,
# /usr/bin/chromium, the render tests' headless flags) against `profd serve`
# with the built-in sampler and a real CPython target (serve_fixture.sh): sign
# in through the one-time link, start a 10 s capture from the form, watch the
# live flame graph change, see it complete and compare the final flame graph
# with the stored stacks.txt, start a second capture, compare the two and read
# the diff table, download speedscope and validate it against
# ../shared/testdata's speedscope schema, cancel a third session; no page or
# console errors, no request outside the origin, a viewer sees no start or
# cancel and the API refuses them, usable at 1280 and 390 px (screenshots in
# the build folder). Chromium missing: a skip locally, a failure under CI=true.
set -u
SRC=${PROFD_SOURCE_DIR:?}
. "$(dirname "$0")/../support/skip.sh"
[ -x /usr/bin/chromium ] || skip_provided "chromium not installed (/usr/bin/chromium; apt-get install chromium)"
need_cmd node nodejs
[ -d "$SRC/tests/node/node_modules/playwright-core" ] ||
    skip_provided "playwright-core not installed in tests/node (npm ci there)"
SCHEMA=$SRC/../shared/testdata/speedscope/file-format-schema.json
[ -f "$SCHEMA" ] || skip_provided "$SCHEMA is missing (../shared beside the checkout)"
export SPEEDSCOPE_SCHEMA=$SCHEMA SHOTS=${PROFD_BUILD_DIR:-/tmp}
PHASE_SECONDS=25 . "$(dirname "$0")/serve_fixture.sh"
timeout 300 node "$(dirname "$0")/browser.mjs" || fail "browser.mjs"
echo "ok: console browser checks passed, screenshots in $SHOTS/console-*.png"
