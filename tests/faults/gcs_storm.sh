# GCS storms: 503s, 429s with Retry-After, resets mid-upload and slow answers,
# ROUNDS times. Every session ends completed (the retries got through) or
# failed with upload_failed; none is lost.
. "$(dirname "$0")/lib.sh"
setup_services
python3 "$PROFD_SOURCE_DIR/tests/blob/gcs_server.py" >"$T/gcs.port" &
PIDS+=("$!")
wait_until 10 test -s "$T/gcs.port" || fail "gcs_server.py did not start"
GCS="127.0.0.1:$(cat "$T/gcs.port")"
export PROFD_STORAGE="gs://bkt/profd" STORAGE_EMULATOR_HOST="$GCS"
ctl() { curl -sf -X POST "http://$GCS/_control/$1" -d "$2" >/dev/null || fail "control $1"; }
for i in 1 2; do start_target "svc-$i"; done
start_worker w1 PROFD_HOST=node-1
for r in $(seq "$ROUNDS"); do
    ctl faults '{"faults": [{"kind": "503", "match": "upload", "count": 3},
                            {"kind": "429", "match": "upload", "count": 2, "retry_after": 1},
                            {"kind": "reset", "match": "upload", "count": 1},
                            {"kind": "slow", "match": "upload", "count": 2, "delay": 1}]}'
    new_request svc-1 1
    new_request svc-2 1
    wait_until 60 all_finished || fail "round $r did not finish"
done
invariants gcs_storm "per round: 3x503, 2x429 (Retry-After 1), 1 reset, 2 slow"
