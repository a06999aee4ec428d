#!/usr/bin/env bash
# compose.sh - docker-compose.yml checked without a Docker daemon:
#   * `docker-compose -f docker-compose.yml config -q` (Debian's docker-compose
#     validates the file against the Compose schema, interpolates variables and
#     resolves service references; it needs no daemon);
#   * the resolved file has what the stack promises (compose_check.py): the
#     services, Redis with AOF everysec, topics created by kafka-init before
#     api/worker start, the worker in the app's PID namespace with SYS_PTRACE,
#     root, read-only, PROFD_TARGETS mounted; every mounted file exists;
#   * a copy with a dangling depends_on is refused (the check can fail).
set -euo pipefail
SRC=${PROFD_SOURCE_DIR:?}
. "$(dirname "$0")/../support/skip.sh"
need_cmd docker-compose
python3 -c 'import yaml' 2>/dev/null || skip_provided "python3-yaml is not installed"
TMP=$(mktemp -d /tmp/profd-compose.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cd "$SRC"
# Variables the file interpolates would change the output.
unset PROFD_JWT_SECRET PROFD_BUS

docker-compose -f docker-compose.yml config -q || { echo "FAIL: docker-compose config -q"; exit 1; }
echo "ok: docker-compose config -q"
docker-compose -f docker-compose.yml config > "$TMP/resolved.yml"
python3 "$SRC/tests/deploy/compose_check.py" "$TMP/resolved.yml" "$SRC" || { echo "FAIL: compose_check"; exit 1; }

cp docker-compose.yml "$TMP/docker-compose.yml"
sed -i 's/^      redis:$/      redis-typo:/' "$TMP/docker-compose.yml"
cmp -s docker-compose.yml "$TMP/docker-compose.yml" && { echo "FAIL: the mutation changed nothing"; exit 1; }
if docker-compose -f "$TMP/docker-compose.yml" --project-directory "$SRC" config -q 2>"$TMP/err"; then
    echo "FAIL: docker-compose accepted a depends_on on an undefined service"; exit 1
fi
grep -qi "redis-typo" "$TMP/err" || { cat "$TMP/err"; echo "FAIL: unexpected error"; exit 1; }
echo "ok: a dangling depends_on is refused: $(head -1 "$TMP/err")"
echo "PASS"
