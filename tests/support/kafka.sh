# kafka.sh - start and stop the mock Kafka cluster (kafka_mock) from bash tests.
#
#   . "$PROFD_SOURCE_DIR/tests/support/kafka.sh"
#   kafka_start [--brokers N] [--topic NAME:PARTITIONS]... [--stdin-control]
#   ... use $KAFKA_BROKERS (host:port,...) with profd or kcat ...
#   kafka_ctl "down 1"     # only with --stdin-control; prints the mock's reply
#   kafka_stop
#
# kafka_start exports KAFKA_BROKERS and KAFKA_MOCK_PID. The mock dies with the
# shell that started it (PR_SET_PDEATHSIG), so a failing test leaves nothing
# behind; kafka_stop ends it with SIGTERM (or "quit") and waits for it.

kafka_start() {
    local bin=${KAFKA_MOCK_BIN:-${PROFD_BUILD_DIR:?PROFD_BUILD_DIR is not set}/tests/support/kafka_mock}
    if [ ! -x "$bin" ]; then
        echo "kafka_start: $bin not found; build the kafka_mock target" >&2
        return 1
    fi
    KAFKA_MOCK_DIR=$(mktemp -d /tmp/kafka_mock.XXXXXX)
    local control=0 a
    for a in "$@"; do [ "$a" = --stdin-control ] && control=1; done
    if [ $control = 1 ]; then
        mkfifo "$KAFKA_MOCK_DIR/ctl"
        "$bin" "$@" <"$KAFKA_MOCK_DIR/ctl" >"$KAFKA_MOCK_DIR/out" 2>"$KAFKA_MOCK_DIR/err" &
        KAFKA_MOCK_PID=$!
        exec {KAFKA_MOCK_FD}>"$KAFKA_MOCK_DIR/ctl"
    else
        "$bin" "$@" </dev/null >"$KAFKA_MOCK_DIR/out" 2>"$KAFKA_MOCK_DIR/err" &
        KAFKA_MOCK_PID=$!
        KAFKA_MOCK_FD=
    fi
    local i line
    for i in $(seq 100); do
        # read, not $(head ...): no subshell racing bash's job table
        line=
        IFS= read -r line <"$KAFKA_MOCK_DIR/out" 2>/dev/null || true
        case $line in BOOTSTRAP=*) break ;; esac
        if ! kill -0 "$KAFKA_MOCK_PID" 2>/dev/null; then
            echo "kafka_start: kafka_mock exited: $(cat "$KAFKA_MOCK_DIR/err")" >&2
            return 1
        fi
        sleep 0.05
    done
    case $line in
    BOOTSTRAP=*) ;;
    *)
        echo "kafka_start: no BOOTSTRAP line from kafka_mock within 5 s" >&2
        kafka_stop
        return 1
        ;;
    esac
    export KAFKA_BROKERS=${line#BOOTSTRAP=} KAFKA_MOCK_PID
}

# Send one command to a mock started with --stdin-control; print its reply.
kafka_ctl() {
    if [ -z "${KAFKA_MOCK_FD:-}" ]; then
        echo "kafka_ctl: start the mock with --stdin-control" >&2
        return 1
    fi
    local before i reply=
    before=$(wc -l <"$KAFKA_MOCK_DIR/out")
    echo "$*" >&"$KAFKA_MOCK_FD"
    for i in $(seq 100); do
        reply=$(sed -n "$((before + 1))p" "$KAFKA_MOCK_DIR/out")
        [ -n "$reply" ] && break
        kill -0 "$KAFKA_MOCK_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "$reply"
    [ "$reply" = ok ]
}

kafka_stop() {
    if [ -n "${KAFKA_MOCK_PID:-}" ]; then
        kill -TERM "$KAFKA_MOCK_PID" 2>/dev/null || true
        wait "$KAFKA_MOCK_PID" 2>/dev/null || true
    fi
    if [ -n "${KAFKA_MOCK_FD:-}" ]; then
        exec {KAFKA_MOCK_FD}>&-
    fi
    if [ -n "${KAFKA_MOCK_DIR:-}" ]; then rm -rf "$KAFKA_MOCK_DIR"; fi
    KAFKA_MOCK_PID= KAFKA_MOCK_FD= KAFKA_MOCK_DIR=
    unset KAFKA_BROKERS
}
