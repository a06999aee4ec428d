#!/usr/bin/env bash
# chart.sh - the Helm chart, checked three ways:
#   1. tests/deploy/chart_check.py (always, python3 + PyYAML): templates balanced
#      and YAML once actions are removed, each a Kubernetes object; every
#      .Values path defined; every value documented. Then on broken copies of
#      the chart, each of which must be refused with the right line.
#   2. helm lint and helm template (when helm is on PATH), with defaults and with
#      every optional part switched on;
#   3. helm template | kubeconform -strict (when both are on PATH).
set -euo pipefail
SRC=${PROFD_SOURCE_DIR:?}
CHART=$SRC/helm/profd
CHECK=$SRC/tests/deploy/chart_check.py
. "$(dirname "$0")/../support/skip.sh"
python3 -c 'import yaml' 2>/dev/null || skip_provided "python3-yaml is not installed"
TMP=$(mktemp -d /tmp/profd-chart.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

python3 "$CHECK" "$CHART" || { echo "FAIL: chart_check on helm/profd"; exit 1; }

# broken COPY EXPECTED-MESSAGE SED-EXPRESSION FILE: the mutated chart must fail
# with EXPECTED-MESSAGE in the output.
broken() {
    rm -rf "$TMP/c" && cp -r "$CHART" "$TMP/c"
    sed -i "$3" "$TMP/c/$4"
    cmp -s "$CHART/$4" "$TMP/c/$4" && { echo "FAIL: mutation '$3' changed nothing in $4"; exit 1; }
    if python3 "$CHECK" "$TMP/c" >"$TMP/out" 2>&1; then
        echo "FAIL: chart_check accepted: $1"; exit 1
    fi
    grep -qF -- "$2" "$TMP/out" || { cat "$TMP/out"; echo "FAIL: expected '$2' for: $1"; exit 1; }
    echo "ok: refused $1"
}
broken "a misspelt values path" ".Values.worker.metricPort is not defined" \
    's/\.Values\.worker\.metricsPort/.Values.worker.metricPort/' templates/worker-daemonset.yaml
broken "an undocumented value" "value 'logLevel' has no comment" \
    '/# PROFD_LOG_LEVEL/d' values.yaml
broken "a mis-indented key" "api-service.yaml" \
    's/^  selector:$/ selector:/' templates/api-service.yaml
broken "an unclosed if" "is never closed" '$d' templates/pdb.yaml
broken "a template without metadata.name" "has no metadata.name" \
    's/^  name: {{ include "profd.fullname" . }}-env$/  nom: x/' templates/configmap-env.yaml

if ! command -v helm >/dev/null; then
    skip_part_optional "helm is not installed: helm lint and helm template not run"
    echo "PASS: chart_check (helm checks skipped)"
    exit 0
fi
ALL=(--set api.ingress.enabled=true --set api.ingress.tlsSecretName=tls
     --set serviceMonitor.enabled=true --set gcp.credentialsSecret=gcp-key
     --set config.kafka.configSecret=kafka-conf --set config.redis.existingSecret=redis
     --set auth.jwt.publicKeySecret=jwks --set auth.alertToken.existingSecret=alert)
helm lint --strict "$CHART" || { echo "FAIL: helm lint"; exit 1; }
helm lint --strict "$CHART" "${ALL[@]}" || { echo "FAIL: helm lint with every option"; exit 1; }
helm template t "$CHART" > "$TMP/default.yaml" || { echo "FAIL: helm template"; exit 1; }
helm template t "$CHART" "${ALL[@]}" > "$TMP/all.yaml" || { echo "FAIL: helm template (all)"; exit 1; }
grep -q "hostPID: true" "$TMP/default.yaml" || { echo "FAIL: the worker has no hostPID"; exit 1; }
if helm template t "$CHART" --set auth.jwt.existingSecret= >/dev/null 2>"$TMP/err"; then
    echo "FAIL: a chart without any JWT key rendered"; exit 1
fi
if command -v kubeconform >/dev/null; then
    kubeconform -strict -summary -ignore-missing-schemas "$TMP/default.yaml" "$TMP/all.yaml" \
        || { echo "FAIL: kubeconform"; exit 1; }
else
    skip_part_optional "kubeconform is not installed: rendered manifests not checked against schemas"
fi
echo "PASS: chart_check, helm lint, helm template"
