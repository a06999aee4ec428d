#!/usr/bin/env bash
# test_demo.sh - smoke test of `make demo`'s script path: scripts/demo.sh with
# the built binary must capture the sample app and print a flame graph whose
# file exists and shows the app's call tree.
set -euo pipefail
PROFD=${PROFD_BIN:?}
SRC=${PROFD_SOURCE_DIR:?}
. "$(dirname "$0")/../support/skip.sh"
need_cmd curl
[ -x /usr/bin/python3 ] || need_cmd python3
DIR=$(mktemp -d /tmp/profd-demo-test.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
OUT=$(PROFD_DEMO_WAIT=0 PROFD_DEMO_DIR="$DIR/demo" bash "$SRC/scripts/demo.sh" "$PROFD" 2>&1) || {
    echo "$OUT"
    echo "FAIL: demo.sh exited non-zero"
    exit 1
}
echo "$OUT"
FILE=$(sed -n 's/^demo: flame graph file: //p' <<<"$OUT")
URL=$(sed -n 's/^demo: flame graph URL: *\([^ ]*\).*/\1/p' <<<"$OUT")
[ -s "$FILE" ] || { echo "FAIL: no flame graph at '$FILE'"; exit 1; }
[[ "$URL" == http://127.0.0.1:*/api/v1/files/sessions/*/flamegraph.html\?expires=*\&signature=* ]] \
    || { echo "FAIL: unexpected URL '$URL'"; exit 1; }
ID=$(basename "$(dirname "$FILE")")
CONSOLE=$(sed -n 's/^demo: console: *\([^ ]*\).*/\1/p' <<<"$OUT")
[[ "$CONSOLE" == http://127.0.0.1:*/\?code=*\#/s/"$ID" ]] || { echo "FAIL: unexpected console link '$CONSOLE'"; exit 1; }
STACKS=$(dirname "$FILE")/stacks.txt
for fn in handle_request compute_report fibonacci; do
    grep -q "$fn" "$STACKS" || { echo "FAIL: $fn missing from the capture"; exit 1; }
done
# Nothing left running: the app and the server the script started are gone.
read -r APP SERVE < "$DIR/demo/pids"
for pid in $APP $SERVE; do
    kill -0 "$pid" 2>/dev/null && { echo "FAIL: process $pid left behind"; exit 1; }
done
echo "PASS"
