#!/usr/bin/env bash
# front_bench.sh - GET session through the HTTP front: p50, p99 and
# throughput, kept-alive and with a new connection per request, at 500
# requests/s and at saturation, under `profd serve` and under `profd api` +
# redis-server, each with and without the slowloris load of
# tests/hardening/front_load.py (300 trickling + 100 idle connections).
# Every figure under attack is printed beside its no-attack reference from
# the same run, as a ratio. Targets: p99 <= 5 ms at 500/s; under slowloris a
# well-behaved client's p99 no worse than 2x the reference.
#
# Each condition runs BENCH_ROUNDS times (default 3), reference and attack
# interleaved, and the median of each figure is printed: on a shared machine
# one run's p99 is mostly the scheduler's.
#
#   bench/api/front_bench.sh [BUILD_DIR]      (BENCH_SECONDS per run, default 4)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build}
PROFD=$BUILD/profd
LOAD=$BUILD/bench/api/load_front
SECS=${BENCH_SECONDS:-4}
ROUNDS=${BENCH_ROUNDS:-3}
[ -x "$PROFD" ] && [ -x "$LOAD" ] || { echo "build first: make build" >&2; exit 1; }
# shellcheck source=../../tests/support/redis.sh
source "$SRC/tests/support/redis.sh"
WORK=$(mktemp -d /tmp/profd-bench-front.XXXXXX)
SRV=""
ATT=""
cleanup() {
    [ -n "$ATT" ] && kill "$ATT" 2>/dev/null || true
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null || true
    redis_stop 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 4096 2>/dev/null || true
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() { # serve | api
    export PROFD_JWT_SECRET=bench-secret PROFD_STORAGE=file://$WORK/data PROFD_ALLOW_ANY_PID=1
    export PROFD_LOG_LEVEL=warn PROFD_RATE_LIMIT=100000
    PORT=$(free_port)
    if [ "$1" = api ]; then
        redis_start >/dev/null
        PROFD_BUS=memory "$PROFD" api --listen "127.0.0.1:$PORT" 2>"$WORK/$1.log" &
    else
        PROFD_REDIS_URL=memory "$PROFD" serve --listen "127.0.0.1:$PORT" 2>"$WORK/$1.log" &
    fi
    SRV=$!
    for _ in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    TOKEN=$("$PROFD" api token --sub bench --role admin)
    ID=$(curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        "http://127.0.0.1:$PORT/api/v1/monitoring/profile/start" \
        -d '{"service_name":"bench-svc","duration_seconds":10}' |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])')
}

stop_server() {
    kill "$SRV" 2>/dev/null || true
    wait "$SRV" 2>/dev/null || true
    SRV=""
    redis_stop 2>/dev/null || true
}

run() { # conn load -> the load_front line
    local args=(--seconds "$SECS")
    [ "$1" = new ] && args+=(--new)
    if [ "$2" = 500 ]; then args+=(--rate 500 --clients 4); else args+=(--rate 0 --clients 8); fi
    "$LOAD" 127.0.0.1 "$PORT" "/api/v1/monitoring/profile/$ID" "$TOKEN" "${args[@]}"
}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b if b else float('nan')))" "$1" "$2"; }

median() { python3 -c 'import sys, statistics; print("%.2f" % statistics.median(map(float, sys.argv[1:])))' "$@"; }
med_field() { # name lines...
    local name=$1 vals=()
    shift
    for l in "$@"; do vals+=("$(field "$name" "$l")"); done
    median "${vals[@]}"
}

printf 'rounds: %s x %s s per condition; medians\n' "$ROUNDS" "$SECS"
printf '%-6s %-10s %-5s | %-28s | %-28s | %s\n' server conn load \
    "reference: p50 p99 rps err" "slowloris: p50 p99 rps err" "p99 x, rps x"
for server in serve api; do
    start_server "$server"
    for conn in keepalive new; do
        for load in 500 sat; do
            # BENCH_ONLY="api:keepalive:500 serve:new:500" reruns only those conditions
            case " ${BENCH_ONLY:-$server:$conn:$load} " in *" $server:$conn:$load "*) ;; *) continue ;; esac
            refs=() atts=()
            for _ in $(seq 1 "$ROUNDS"); do
                refs+=("$(run "$conn" "$load")")
                # nice: the attacker would be on other machines; here it shares the
                # 2 cores, and its own CPU use is not what is being measured.
                nice -n 10 python3 "$SRC/tests/hardening/front_load.py" attack "$PORT" \
                    >"$WORK/attack.log" 2>&1 &
                ATT=$!
                sleep 4
                atts+=("$(run "$conn" "$load")")
                opened=$(tail -1 "$WORK/attack.log")
                kill "$ATT" 2>/dev/null || true
                wait "$ATT" 2>/dev/null || true
                ATT=""
                sleep 1
            done
            rp50=$(med_field p50_ms "${refs[@]}") rp99=$(med_field p99_ms "${refs[@]}")
            rrps=$(med_field rps "${refs[@]}") rerr=$(med_field errors "${refs[@]}")
            ap50=$(med_field p50_ms "${atts[@]}") ap99=$(med_field p99_ms "${atts[@]}")
            arps=$(med_field rps "${atts[@]}") aerr=$(med_field errors "${atts[@]}")
            printf '%-6s %-10s %-5s | %6s %6s %7s %4s    | %6s %6s %7s %4s    | %s, %s  (%s)\n' \
                "$server" "$conn" "$load" "$rp50" "$rp99" "$rrps" "$rerr" "$ap50" "$ap99" "$arps" \
                "$aerr" "$(ratio "$ap99" "$rp99")" "$(ratio "$arps" "$rrps")" "$opened"
            printf '       p99 of each round: reference %s; slowloris %s\n' \
                "$(for l in "${refs[@]}"; do field p99_ms "$l"; done | tr '\n' ' ')" \
                "$(for l in "${atts[@]}"; do field p99_ms "$l"; done | tr '\n' ' ')"
        done
    done
    stop_server
done
