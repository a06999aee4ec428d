#!/usr/bin/env bash
# references.sh - the deployment files and docs name only real variables,
# metrics and error codes (tests/deploy/references.py), and the check fails on
# a made-up variable.
set -euo pipefail
SRC=${PROFD_SOURCE_DIR:?}
PROFD=${PROFD_BIN:?}
python3 "$SRC/tests/deploy/references.py" "$SRC" "$PROFD" || { echo "FAIL: references"; exit 1; }

TMP=$(mktemp -d /tmp/profd-references.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/docs" "$TMP/include/profd" "$TMP/src"
cp -r "$SRC/src" "$SRC/deploy" "$SRC/helm" "$SRC/Dockerfile" "$SRC/docker-compose.yml" "$TMP/"
cp "$SRC/docs/deploy.md" "$SRC/docs/operations.md" "$TMP/docs/"
cp "$SRC/include/profd/util.h" "$TMP/include/profd/"
echo "  PROFD_NOT_A_SETTING: 1" >> "$TMP/helm/profd/templates/configmap-env.yaml"
sed -i 's/^### worker_lost$/### worker_gone/' "$TMP/docs/operations.md"
sed -i 's/profd_bytes_stored_total/profd_bytes_saved_total/' "$TMP/docs/operations.md"
if python3 "$SRC/tests/deploy/references.py" "$TMP" "$PROFD" > "$TMP/out"; then
    echo "FAIL: references.py accepted a made-up variable, metric and missing runbook"; exit 1
fi
for want in "PROFD_NOT_A_SETTING is not a variable" "metric profd_bytes_saved_total is not registered" \
            "no runbook (### worker_lost)"; do
    grep -qF "$want" "$TMP/out" || { cat "$TMP/out"; echo "FAIL: expected '$want'"; exit 1; }
done
echo "PASS: references real; made-up ones are refused"
