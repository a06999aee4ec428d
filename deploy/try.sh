#!/usr/bin/env bash
# Profiles the compose stack's sample service and saves its flame graph.
# Run from the repository root after `docker compose up -d --build`:
#   deploy/try.sh [SECONDS] [OUT.html]        (defaults: 10, flamegraph.html)
# Needs curl and python3 on the host. Prints each step; exits 1 with the reason.
# API_URL (default http://127.0.0.1:8080) and TOKEN (default: minted with
# `profd api token` in the api container) point it elsewhere.
set -euo pipefail
DURATION=${1:-10}
OUT=${2:-flamegraph.html}
API=${API_URL:-http://127.0.0.1:8080}

if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi
die() { echo "try: $*" >&2; exit 1; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]) or "")' "$1"; }

# A token from the environment (TOKEN=...) or minted inside the api container.
if [ -z "${TOKEN:-}" ]; then
  TOKEN=$("${COMPOSE[@]}" exec -T api profd api token --sub try --ttl 600) ||
    die "could not mint a token: is the stack up (docker compose ps)?"
fi
auth=(-H "Authorization: Bearer $TOKEN")

echo "try: starting a ${DURATION} s capture of web-api"
resp=$(curl -sS "${auth[@]}" -H 'Content-Type: application/json' -X POST \
  -d "{\"service_name\": \"web-api\", \"duration_seconds\": $DURATION}" \
  "$API/api/v1/monitoring/profile/start") || die "the API at $API did not answer"
ID=$(field session_id <<<"$resp")
[ -n "$ID" ] || die "start refused: $resp"
echo "try: session $ID"

deadline=$((SECONDS + DURATION + 60))
while :; do
  s=$(curl -sS "${auth[@]}" "$API/api/v1/monitoring/profile/$ID")
  status=$(field status <<<"$s")
  case "$status" in
    completed) break ;;
    failed) die "session failed: $(field error_code <<<"$s"): $(field error_message <<<"$s")" ;;
  esac
  [ "$SECONDS" -lt "$deadline" ] || die "still $status after $((DURATION + 60)) s"
  sleep 1
done

# The link points at the GCS emulator (http://gcs:4443/...): resolve that
# name to the port compose publishes on this host.
curl -fsSL --resolve gcs:4443:127.0.0.1 "${auth[@]}" -o "$OUT" \
  "$API/api/v1/monitoring/profile/$ID/flamegraph" || die "could not download the flame graph"
echo "try: $(field sample_count <<<"$s") samples; flame graph saved to $OUT"
