# redis.sh - throwaway redis-server for script tests. Source it, then:
#
#   redis_start [--appendonly]   start on a free loopback port; exports
#                                REDIS_PORT, REDIS_PID, REDIS_DIR, PROFD_REDIS_URL
#   redis_restart                stop (SIGTERM flushes the AOF) and start again on the
#                                same port and directory
#   redis_stop                   stop it and remove its directory
#   redis_cli ARGS...            redis-cli against it (when redis-cli is installed)
#
# Snapshots are off (--save ''); --appendonly turns on the AOF for tests that
# restart Redis. Returns 1 with a message if redis-server is missing (the
# caller prints "SKIP: ..." and exits 0) or does not start. Put
# `trap redis_stop EXIT` in the calling script so nothing is left running.

_redis_free_port() {
    # Ask the kernel for a free port: bind port 0, read it back, release it.
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 20000))
}

_redis_ping() {
    # A PING over bash's /dev/tcp: no redis-cli needed.
    local reply
    { exec 9<>"/dev/tcp/127.0.0.1/$REDIS_PORT"; } 2>/dev/null || return 1
    printf 'PING\r\n' >&9
    IFS= read -r -t 1 reply <&9
    exec 9>&-
    [[ "$reply" == "+PONG"* ]]
}

_redis_spawn() {
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
        --appendonly "$REDIS_APPENDONLY" --dir "$REDIS_DIR" \
        --logfile "$REDIS_DIR/redis.log" --daemonize no --protected-mode no \
        </dev/null >/dev/null 2>&1 &
    REDIS_PID=$!
    export REDIS_PID
    local i
    for ((i = 0; i < 500; i++)); do
        if ! kill -0 "$REDIS_PID" 2>/dev/null; then
            return 1
        fi
        _redis_ping && return 0
        sleep 0.02
    done
    return 1
}

redis_start() {
    REDIS_APPENDONLY=no
    [[ "${1:-}" == "--appendonly" ]] && REDIS_APPENDONLY=yes
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "redis-server is not installed (scripts/install-deps.sh installs it)" >&2
        return 1
    fi
    REDIS_DIR=$(mktemp -d /tmp/profd-redis-XXXXXX)
    export REDIS_DIR REDIS_APPENDONLY
    local attempt
    for attempt in 1 2 3 4 5; do
        REDIS_PORT=$(_redis_free_port)
        export REDIS_PORT
        PROFD_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
        export PROFD_REDIS_URL
        _redis_spawn && return 0
        redis_kill
    done
    echo "redis-server did not start (see $REDIS_DIR/redis.log)" >&2
    return 1
}

redis_kill() {
    [[ -n "${REDIS_PID:-}" ]] || return 0
    kill "$REDIS_PID" 2>/dev/null
    local i
    for ((i = 0; i < 250; i++)); do
        kill -0 "$REDIS_PID" 2>/dev/null || break
        sleep 0.02
    done
    kill -9 "$REDIS_PID" 2>/dev/null
    wait "$REDIS_PID" 2>/dev/null
    REDIS_PID=
}

redis_restart() {
    redis_kill
    _redis_spawn || { echo "redis-server did not restart on port $REDIS_PORT" >&2; return 1; }
}

redis_stop() {
    redis_kill
    [[ -n "${REDIS_DIR:-}" && -d "$REDIS_DIR" ]] && rm -rf -- "$REDIS_DIR"
    REDIS_DIR=
}

redis_cli() {
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}
