#!/usr/bin/env bash
# render_browser.sh - render a realistic profile to HTML and drive it in
# headless Chromium (tests/render/browser.mjs): canvas drawn, search
# highlights and reports a %, click zooms, tooltip, table sort, icicle; the
# diff page's colours and tooltip; the SVG's zoom and search.
# Leaves the screenshot at $PROFD_BUILD_DIR/render-browser.png.
set -u
P=${PROFD_BIN:?}
SRC=${PROFD_SOURCE_DIR:?}
OUT=${PROFD_BUILD_DIR:-/tmp}
. "$(dirname "$0")/../support/skip.sh"
# Chromium is not installed by scripts/install-deps.sh: optional; node and
# playwright-core are.
[ -x /usr/bin/chromium ] || skip_provided "chromium not installed (/usr/bin/chromium): make deps installs it"
need_cmd node nodejs
if [ ! -d "$SRC/tests/node/node_modules/playwright-core" ]; then
    skip_provided "playwright-core not installed in tests/node (npm ci there)"
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
GEN=$SRC/../shared/bench/gen_collapsed.py
if [ -f "$GEN" ]; then
    python3 "$GEN" 5000 11 >"$T/in.txt"
else
    python3 -c '
import random
r = random.Random(5); fs = ["f%d (app/m%d.py:%d)" % (i, i % 7, i) for i in range(300)]
seen = {}
while len(seen) < 5000:
    seen[";".join(["main (app.py:1)", "serve (app.py:9)"] + [r.choice(fs) for _ in range(r.randint(1, 30))])] = r.randint(1, 50)
for k in sorted(seen): print(k, seen[k])' >"$T/in.txt"
fi
# a function on a subset of the stacks, 4 frames below the root
fn=$(cut -d';' -f6 "$T/in.txt" | sed 's/ (.*//' | grep -E '^[A-Za-z_][A-Za-z0-9_]*$' | sort | uniq -c | sort -rn | awk 'NR==1 {print $2}')
"$P" render --title "browser test" --detail service=web-api --detail pid=4242 -o "$T/flamegraph.html" "$T/in.txt" || exit 1
timeout 120 node "$SRC/tests/render/browser.mjs" "$T/flamegraph.html" "$OUT/render-browser.png" "^$fn " || exit 1
[ -s "$OUT/render-browser.png" ] || { echo "FAIL: no screenshot"; exit 1; }
# diff: the first half of the stacks before, every third stack quadrupled after
head -n 2500 "$T/in.txt" >"$T/before.txt"
awk 'NR % 3 == 0 { $NF = $NF * 4 } { print }' "$T/in.txt" >"$T/after.txt"
"$P" diff -o "$T/diff.html" "$T/before.txt" "$T/after.txt" || exit 1
timeout 120 node "$SRC/tests/render/browser.mjs" "$T/diff.html" "$OUT/render-browser-diff.png" "^$fn " diff || exit 1
# the SVG's own zoom and search
"$P" render --format svg -o "$T/flame.svg" "$T/in.txt" || exit 1
timeout 120 node "$SRC/tests/render/browser_svg.mjs" "$T/flame.svg" "^$fn " || exit 1
echo "ok: browser checks passed, screenshot $OUT/render-browser.png"
