#!/usr/bin/env bash
# scripts/soak.sh BUILD_DIR [ROUNDS]: the fault-injection cases of tests/faults
# with ROUNDS rounds each (default 5), then their table, printed and written
# into docs/reliability.md between the soak markers.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
ROUNDS=${2:-5}
SRC=$(cd "$(dirname "$0")/.." && pwd)
report=$(mktemp /tmp/profd-soak.XXXXXX)
trap 'rm -f "$report"' EXIT
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
status=0
(cd "$BUILD" && FAULT_ROUNDS=$ROUNDS FAULT_REPORT=$report FAULT_WAIT=600 \
    ctest -R '^fault_' -j2 --timeout 1800 --output-on-failure) || status=$?
table=$(
    echo "| case | rounds | requests | completed | failed (reason x count) | fault |"
    echo "| --- | ---: | ---: | ---: | --- | --- |"
    sort "$report" | awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}'
    echo
    echo "Every case also asserts: no request lost, no session left running, at most one"
    echo "completed event per session. Run of $start, $ROUNDS rounds (\`make soak\`), exit status $status."
)
echo "$table"
doc="$SRC/docs/reliability.md"
if [ -f "$doc" ] && grep -q '<!-- soak:begin -->' "$doc"; then
    python3 - "$doc" "$table" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
text = open(path).read()
a, b = text.index("<!-- soak:begin -->"), text.index("<!-- soak:end -->")
open(path, "w").write(text[:a] + "<!-- soak:begin -->\n" + table + "\n" + text[b:])
PY
    echo "docs/reliability.md updated"
fi
exit $status
