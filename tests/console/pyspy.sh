#!/usr/bin/env bash
# pyspy.sh - the console's session page with py-spy (the py-spy stand-in the
# build makes): py-spy writes its stacks only at the end, so while it runs
# the page shows progress (elapsed of duration) and says that the live view
# needs the built-in sampler, draws no live picture, and shows the stored
# flame graph once it completes (pyspy.mjs, headless Chromium).
set -u
SRC=${PROFD_SOURCE_DIR:?}
BUILD=${PROFD_BUILD_DIR:?}
. "$(dirname "$0")/../support/skip.sh"
[ -x /usr/bin/chromium ] || skip_provided "chromium not installed (/usr/bin/chromium; apt-get install chromium)"
need_cmd node nodejs
[ -d "$SRC/tests/node/node_modules/playwright-core" ] ||
    skip_provided "playwright-core not installed in tests/node (npm ci there)"
[ -x "$BUILD/tests/pyspy/bin/py-spy" ] || skip_provided "the py-spy stand-in is not built"
export PATH="$BUILD/tests/pyspy/bin:$PATH" SHOTS=$BUILD
SAMPLER=py-spy . "$(dirname "$0")/serve_fixture.sh"
timeout 120 node "$(dirname "$0")/pyspy.mjs" || fail "pyspy.mjs"
echo "ok: py-spy session page shows progress and the live-view note"
