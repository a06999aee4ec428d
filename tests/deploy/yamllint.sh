#!/usr/bin/env bash
# yamllint.sh - yamllint (with the repository's .yamllint) on the static YAML:
# docker-compose.yml, the chart's Chart.yaml and values.yaml, .yamllint itself.
# A file with a duplicated key must be refused, so the check can fail.
set -euo pipefail
SRC=${PROFD_SOURCE_DIR:?}
. "$(dirname "$0")/../support/skip.sh"
need_cmd yamllint
cd "$SRC"
FILES=(docker-compose.yml helm/profd/Chart.yaml helm/profd/values.yaml .yamllint)
yamllint -s -c .yamllint "${FILES[@]}" || { echo "FAIL: yamllint found problems"; exit 1; }

TMP=$(mktemp -d /tmp/profd-yamllint.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# values.yaml with one key written twice: yamllint must catch it.
{ cat helm/profd/values.yaml; printf '# Again.\nimagePullSecrets: []\n'; } > "$TMP/values.yaml"
if yamllint -s -c .yamllint "$TMP/values.yaml" >"$TMP/out" 2>&1; then
    echo "FAIL: yamllint accepted a duplicated key"; exit 1
fi
grep -q "duplication of key" "$TMP/out" || { cat "$TMP/out"; echo "FAIL: unexpected yamllint output"; exit 1; }
echo "PASS: yamllint clean on ${FILES[*]}; a duplicated key is refused"
