#!/usr/bin/env bash
# dockerfile.sh - the Dockerfile checked against this Debian 12 machine (the
# image's own base), without Docker:
#   * stages: build on debian:bookworm, runtime on debian:bookworm-slim, py-spy
#     pinned to a release that reads CPython 3.12 and 3.13 (>= 0.4.0);
#   * every package an apt-get install names exists in Debian (apt-cache show);
#   * the build stage installs the -dev package of every pkg-config module that
#     CMakeLists.txt requires (found through dpkg -S of its .pc file);
#   * the runtime stage installs the package of every shared library the built
#     profd needs (readelf NEEDED -> ldconfig -> dpkg -S), so the slim image
#     runs the binary; libc6 and libgcc-s1 come with the base image;
#   * the runtime user is not root, ENTRYPOINT is profd and CMD a real command;
#   * the HEALTHCHECK command, run verbatim against a real `profd api` started
#     with the image's PROFD_LISTEN port replaced by a free one, succeeds, and
#     fails once the API is stopped.
set -euo pipefail
SRC=${PROFD_SOURCE_DIR:?}
PROFD=${PROFD_BIN:?}
. "$(dirname "$0")/../support/skip.sh"
TMP=$(mktemp -d /tmp/profd-dockerfile.XXXXXX)
API_PID=
cleanup() { [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

python3 "$SRC/tests/deploy/dockerfile_facts.py" "$SRC/Dockerfile" > "$TMP/facts" || fail "cannot read the Dockerfile"
fact() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$TMP/facts"; }

grep -qx "stage build debian:bookworm" "$TMP/facts" || fail "the build stage is not debian:bookworm"
grep -qx "stage runtime debian:bookworm-slim" "$TMP/facts" || fail "the runtime stage is not debian:bookworm-slim"
[ "$(tail -n +1 "$TMP/facts" | grep '^stage' | tail -1 | cut -d' ' -f2)" = runtime ] || fail "runtime is not the last stage"
PYSPY=$(fact arg | awk '$1 == "PYSPY_VERSION" { print $2 }')
[ -n "$PYSPY" ] || fail "no ARG PYSPY_VERSION"
printf '0.4.0\n%s\n' "$PYSPY" | sort -V -C || fail "py-spy $PYSPY cannot read Python 3.12/3.13 (needs >= 0.4.0)"
grep -q "^copyfrom pyspy .*py-spy /usr/local/bin/py-spy$" "$TMP/facts" || fail "py-spy is not copied into the runtime image"
echo "ok: stages build/pyspy/runtime, py-spy $PYSPY"

BUILD_PKGS=$(awk '$1 == "apt" && $2 == "build" { print $3 }' "$TMP/facts")
RUN_PKGS=$(awk '$1 == "apt" && $2 == "runtime" { print $3 }' "$TMP/facts")
[ -n "$RUN_PKGS" ] || fail "no packages found in the runtime stage"

# One apt-cache call for all (each call costs ~0.5 s); one by one only if it fails.
if ! command -v apt-cache >/dev/null; then
    skip_part_optional "no apt-cache: package names not checked"
elif apt-cache show $BUILD_PKGS $RUN_PKGS >/dev/null 2>&1; then
    echo "ok: all $(echo $BUILD_PKGS $RUN_PKGS | wc -w) apt packages exist"
elif ! apt-cache show libc6 >/dev/null 2>&1; then
    skip_part_optional "apt-cache has no package lists (apt-get update): package names not checked"
else
    for p in $BUILD_PKGS $RUN_PKGS; do
        apt-cache show "$p" >/dev/null 2>&1 || fail "package $p does not exist in this Debian's lists"
    done
fi

# owner FILE...: "path package" lines from one dpkg -S call (each call costs
# ~0.3 s). /lib and /usr/lib are one directory under usrmerge but dpkg knows a
# file under one name only, so each path is asked both ways, and printed
# without its /usr prefix; look one up with `pkgof PATH`.
owner() {
    local names=() f
    for f in "$@"; do
        f=${f#/usr}
        names+=("$f" "/usr$f")
    done
    dpkg -S "${names[@]}" 2>/dev/null | awk -F': ' '{ sub(/:.*/, "", $1); sub(/^\/usr\//, "/", $2); print $2, $1 }' || true
}
pkgof() { # PATH OWNERS-FILE
    awk -v f="${1#/usr}" '$1 == f { print $2 }' "$2" | head -1
}

# -dev packages of the pkg-config modules CMakeLists.txt requires.
MODULES=$(sed -n 's/^pkg_check_modules([A-Z]* REQUIRED IMPORTED_TARGET \([a-z0-9-]*\)).*/\1/p' "$SRC/CMakeLists.txt")
[ -n "$MODULES" ] || fail "no pkg_check_modules found in CMakeLists.txt"
PCS=()
for m in $MODULES; do PCS+=("$(readlink -f "$(pkg-config --variable=pcfiledir "$m")/$m.pc")"); done
owner "${PCS[@]}" > "$TMP/pc-owners"
for pc in "${PCS[@]}"; do
    pkg=$(pkgof "$pc" "$TMP/pc-owners")
    [ -n "$pkg" ] || fail "cannot tell which package provides $pc"
    grep -qx "$pkg" <<<"$BUILD_PKGS" || fail "the build stage lacks $pkg ($(basename "$pc"))"
done
echo "ok: build stage has the -dev package of: $(echo $MODULES)"

# Runtime packages of every library profd is linked against.
BASE="libc6 libgcc-s1"
ldconfig -p > "$TMP/ldconfig"
LIBS=()
for so in $(readelf -d "$PROFD" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'); do
    path=$(awk -v s="$so" '$1 == s { print $NF }' "$TMP/ldconfig" | head -1)
    [ -n "$path" ] || fail "cannot find $so"
    LIBS+=("$so=$(readlink -f "$path")")
done
[ ${#LIBS[@]} -gt 0 ] || fail "readelf found no NEEDED libraries in $PROFD"
owner "${LIBS[@]#*=}" > "$TMP/so-owners"
for l in "${LIBS[@]}"; do
    so=${l%%=*}
    pkg=$(pkgof "${l#*=}" "$TMP/so-owners")
    [ -n "$pkg" ] || fail "cannot tell which package provides ${l#*=}"
    if ! grep -qx "$pkg" <<<"$RUN_PKGS" && ! grep -qw -- "$pkg" <<<"$BASE"; then
        fail "the runtime stage lacks $pkg, which provides $so"
    fi
    echo "ok: $so <- $pkg"
done

USER_LINE=$(fact user | tail -1)
case "$USER_LINE" in ""|root|root:*|0|0:*) fail "the runtime image runs as root ($USER_LINE)" ;; esac
[ "$(fact entrypoint)" = /usr/local/bin/profd ] || fail "ENTRYPOINT is not /usr/local/bin/profd"
CMD=$(fact cmd)
"$PROFD" help 2>&1 | grep -q "^  $CMD " || fail "CMD '$CMD' is not a profd command"
echo "ok: user $USER_LINE, entrypoint profd, cmd $CMD"

# The HEALTHCHECK against a real API.
HC=$(fact healthcheck)
[ -n "$HC" ] || fail "no HEALTHCHECK"
LISTEN=$(fact env | awk '$1 == "PROFD_LISTEN" { print $2 }')
IMG_PORT=${LISTEN##*:}
[[ "$HC" == *"127.0.0.1:$IMG_PORT/healthz"* ]] || fail "HEALTHCHECK does not probe /healthz on PROFD_LISTEN's port $IMG_PORT"
command -v curl >/dev/null || { skip_part_provided "curl missing: HEALTHCHECK not run"; echo "PASS"; exit 0; }
PROFD_BUS=memory PROFD_REDIS_URL=memory PROFD_STORAGE="file://$TMP/data" PROFD_JWT_SECRET=test \
    PROFD_LISTEN=127.0.0.1:0 PROFD_LOG_FORMAT=text "$PROFD" api >"$TMP/api.log" 2>&1 &
API_PID=$!
PORT=
for _ in $(seq 1 100); do
    PORT=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$TMP/api.log" | head -1)
    [ -n "$PORT" ] && break
    sleep 0.05
done
[ -n "$PORT" ] || { cat "$TMP/api.log"; fail "profd api did not start"; }
read -ra HCV <<<"${HC//127.0.0.1:$IMG_PORT/127.0.0.1:$PORT}"
"${HCV[@]}" || fail "the HEALTHCHECK command failed against a running API: ${HCV[*]}"
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true; API_PID=
if "${HCV[@]}" 2>/dev/null; then fail "the HEALTHCHECK passed with the API stopped"; fi
echo "ok: HEALTHCHECK '$HC' passes against profd api and fails without it"
echo "PASS"
