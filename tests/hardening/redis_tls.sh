#!/usr/bin/env bash
# redis_tls.sh - rediss:// against redis-server's own TLS port.
#
# Makes a CA, an unrelated CA, a server certificate naming only "localhost"
# and a client certificate with the openssl CLI; starts one redis-server that
# does not ask for client certificates and one that requires them
# (--tls-auth-clients yes), plus a listener that never speaks; then runs
# test_redis_tls (store behaviours over TLS, wrong CA, host name check, bad
# files, client certificates, bounded handshake).
set -euo pipefail
. "$(dirname "$0")/../support/skip.sh"
need_cmd redis-server
need_cmd openssl
BIN=${PROFD_BUILD_DIR:?}/tests/hardening/test_redis_tls
[ -x "$BIN" ] || skip_provided "test_redis_tls is not built (cmocka missing: libcmocka-dev)"
T=$(mktemp -d /tmp/profd-tls-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# cert NAME CA SUBJECT SAN: a key and a certificate signed by CA.
cert() {
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$3" -keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null
    printf '%s\n' "$4" >"$T/$1.ext"
    openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.crt" -CAkey "$T/$2.key" -CAcreateserial \
        -days 2 -extfile "$T/$1.ext" -out "$T/$1.crt" 2>/dev/null
}
for ca in ca other-ca; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=profd test $ca" \
        -keyout "$T/$ca.key" -out "$T/$ca.crt" 2>/dev/null || fail "openssl could not make a CA"
done
cert server ca localhost "subjectAltName=DNS:localhost"
cert client ca profd-client "extendedKeyUsage=clientAuth"

# tls_server PORT AUTH_CLIENTS: a TLS-only redis-server; waits until it answers.
tls_server() {
    redis-server --port 0 --tls-port "$1" --bind 127.0.0.1 --save '' --dir "$T" \
        --tls-cert-file "$T/server.crt" --tls-key-file "$T/server.key" \
        --tls-ca-cert-file "$T/ca.crt" --tls-auth-clients "$2" --daemonize no \
        --logfile "$T/redis-$1.log" </dev/null >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        grep -q "Ready to accept" "$T/redis-$1.log" 2>/dev/null && return 0
        kill -0 "${PIDS[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    if grep -qi "tls.*not\|unrecognized\|Bad directive" "$T/redis-$1.log" 2>/dev/null; then
        skip_provided "this redis-server is built without TLS"
    fi
    fail "redis-server with --tls-port $1 did not start: $(tail -2 "$T/redis-$1.log")"
}
export TLS_DIR=$T TLS_PORT MTLS_PORT HUNG_PORT
TLS_PORT=$(free_port); tls_server "$TLS_PORT" no
MTLS_PORT=$(free_port); tls_server "$MTLS_PORT" yes
HUNG_PORT=$(free_port)
python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); open(sys.argv[2], "w").close()
held = []
while True: held.append(s.accept())' "$HUNG_PORT" "$T/hung.ready" &
PIDS+=($!)
for _ in $(seq 100); do [ -e "$T/hung.ready" ] && break; sleep 0.05; done
[ -e "$T/hung.ready" ] || fail "the silent listener on $HUNG_PORT did not start"
"$BIN"
