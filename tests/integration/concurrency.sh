# 3 x PROFD_MAX_CONCURRENT requests: never more than the limit running at once
# (measured from the stand-in's start/stop times), and all of them complete.
. "$(dirname "$0")/lib.sh"
setup_services
MAX=2
for i in 1 2 3 4 5 6; do start_target "svc-$i"; done
start_worker w1 PROFD_HOST=node-1 PROFD_MAX_CONCURRENT=$MAX
ids=()
for i in 1 2 3 4 5 6; do
    id=$(uuid); ids+=("$id")
    produce "$(request "$id" "svc-$i" 2)" "$id"
done
for id in "${ids[@]}"; do
    wait_until 60 status_is "$id" completed || fail "$id is $(field "$id" status): $(field "$id" error_message)"
done
peak=$(python3 - "$T/w1.log" <<'PY'
import json, sys
ev = []
for line in open(sys.argv[1]):
    try: o = json.loads(line)
    except ValueError: continue
    if o.get("event") == "capture.started": ev.append((o["ts"], 1))
    if o.get("event") in ("capture.completed", "session.failed"): ev.append((o["ts"], -1))
cur = peak = 0
for _, d in sorted(ev, key=lambda e: (e[0], e[1])):
    cur += d; peak = max(peak, cur)
print(peak)
PY
)
[ "$peak" -le $MAX ] || fail "$peak captures ran at once, limit $MAX"
[ "$peak" -eq $MAX ] || fail "peak concurrency $peak never reached the limit $MAX"
note "6 sessions completed, peak concurrency $peak (limit $MAX)"
echo "1 passed, 0 failed"
