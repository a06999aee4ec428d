#!/usr/bin/env bash
# provision-pythons.sh - install the real CPython interpreters profd's tests sample (issue 14;
# docs/test-pythons.md) into a cache directory, and write the manifest the tests read.
#
#   bash scripts/provision-pythons.sh          (as root; CI runs it from .ci/run)
#
# Provides, under $PROFD_PYTHONS (default /opt/profd-pythons):
#   sid-root/       a Debian sid root (debootstrap --variant=minbase) with python3.14,
#                   python3.15 and their -dbg packages (python3.14d, python3.15d)
#   3.13t/          a free-threaded CPython 3.13 (--disable-gil --enable-shared), built with the
#                   host's gcc from Debian's python3.13 source package
#   manifest.tsv    one line per interpreter: name, kind, path, root, full version
# and checks the interpreters that come with the machine: pyenv's 3.8-3.13 and Debian's
# /usr/bin/python3.11.
#
# Idempotent: what is already there and works is kept, so a rerun takes seconds. It never
# changes the system's apt sources: the sid root has its own, and the python3.13 source is
# fetched through a private deb-src list with private apt state. Under CI=true anything
# missing at the end is an error; locally it is a warning (the tests then skip, saying so).
set -euo pipefail

CACHE=${PROFD_PYTHONS:-/opt/profd-pythons}
MIRROR=${PROFD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
JOBS=${PROFD_PYTHONS_JOBS:-2}
PYENV_VERSIONS=${PROFD_PYENV_ROOT:-/root/.pyenv/versions}

SID_ROOT=$CACHE/sid-root
SID_PACKAGES=(python3.14 python3.15 python3.14-dbg python3.15-dbg)
# name and path inside the root of every interpreter those packages provide
SID_INTERPRETERS=(3.14:/usr/bin/python3.14 3.14d:/usr/bin/python3.14d
                  3.15:/usr/bin/python3.15 3.15d:/usr/bin/python3.15d)

FT_PREFIX=$CACHE/3.13t
FT_PY=$FT_PREFIX/bin/python3.13t
FT_STAMP=$FT_PREFIX/.profd-source
FT_SOURCE=python3.13
FT_SUITES=(sid trixie)
# Host packages: the tools, and the -dev packages (bookworm's) the 3.13t build needs for the
# modules a test interpreter uses: ssl, zlib, ctypes (libffi), bz2, lzma, sqlite3, readline,
# curses, uuid. python3 is Debian's /usr/bin/python3.11.
HOST_PACKAGES=(debootstrap build-essential pkg-config dpkg-dev xz-utils util-linux python3
               libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev libsqlite3-dev
               libreadline-dev libncurses-dev uuid-dev)

# What every interpreter must import: what the fixtures use.
CHECK='import sys, threading, ctypes, time, os, signal, subprocess, tracemalloc
print(sys.version.replace("\n", " ").replace("\t", " "))'

start=$SECONDS
say() { echo "provision-pythons: $* (at $((SECONDS - start)) s)"; }
die() { echo "provision-pythons: ERROR: $*" >&2; exit 1; }

# Anything mounted under DIR (debootstrap mounts /proc and /sys in its target) is unmounted,
# deepest first. Returns non-zero when something stays mounted.
mounts_under() {
    findmnt -rn -o TARGET | awk -v d="$1" 'index($0, d "/") == 1 || $0 == d' | sort -r
}
unmount_under() {
    local dir=$1 m left
    for m in $(mounts_under "$dir"); do
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done
    left=$(mounts_under "$dir")
    [ -z "$left" ]
}
# rm -rf that refuses to descend into a directory with something mounted in it.
safe_rm() {
    local dir=$1
    [ -e "$dir" ] || return 0
    unmount_under "$dir" || die "$dir still has mounts; not removing it"
    rm -rf "$dir"
}
cleanup() {
    local rc=$?
    unmount_under "$SID_ROOT.partial" || echo "provision-pythons: WARNING: mounts left under $SID_ROOT.partial" >&2
    exit $rc
}

# --- host packages --------------------------------------------------------------------------
apt_updated=0
host_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing host packages: ${missing[*]}"
    if [ $apt_updated -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
# --- the Debian sid root --------------------------------------------------------------------
sid_ok() {
    local e
    for e in "${SID_INTERPRETERS[@]}"; do
        chroot "$SID_ROOT" "${e#*:}" -c 'pass' >/dev/null 2>&1 || return 1
    done
}
provision_sid() {
    if [ -d "$SID_ROOT" ] && sid_ok; then
        say "sid root: present ($SID_ROOT)"
        return 0
    fi
    if [ ! -x "$SID_ROOT/usr/bin/apt-get" ]; then
        safe_rm "$SID_ROOT.partial"
        safe_rm "$SID_ROOT"
        say "sid root: debootstrap --variant=minbase sid from $MIRROR"
        # The snapshot's sid Release has expired, but debootstrap only checks its signature
        # (bookworm's keyring has the trixie key that signs it), not Valid-Until.
        if ! debootstrap --variant=minbase --keyring="$KEYRING" sid "$SID_ROOT.partial" "$MIRROR" \
                > "$CACHE/debootstrap.log" 2>&1; then
            tail -20 "$CACHE/debootstrap.log" >&2
            die "debootstrap failed (whole log: $CACHE/debootstrap.log)"
        fi
        unmount_under "$SID_ROOT.partial" || die "debootstrap left mounts under $SID_ROOT.partial"
        mv "$SID_ROOT.partial" "$SID_ROOT"
    fi
    # apt inside the root: the mirror is a frozen snapshot whose sid Release has expired.
    cat > "$SID_ROOT/etc/apt/apt.conf.d/99profd-snapshot" <<'EOF'
// profd's provision-pythons.sh: the mirror is a frozen snapshot; its Release files expire.
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
EOF
    # No services in the root: invoke-rc.d is told so instead of guessing.
    printf '#!/bin/sh\nexit 101\n' > "$SID_ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$SID_ROOT/usr/sbin/policy-rc.d"
    say "sid root: apt-get install ${SID_PACKAGES[*]} (log: $CACHE/sid-apt.log)"
    # Nothing needs /proc or /sys here (debootstrap made /dev's nodes), so nothing is mounted;
    # without /dev/pts, dpkg runs without a pty.
    local in_root=(chroot "$SID_ROOT" env DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0)
    if ! { "${in_root[@]}" -q update && "${in_root[@]}" install -y -q "${SID_PACKAGES[@]}" &&
           "${in_root[@]}" clean; } > "$CACHE/sid-apt.log" 2>&1; then
        tail -20 "$CACHE/sid-apt.log" >&2
        die "apt-get in the sid root failed (whole log: $CACHE/sid-apt.log)"
    fi
    sid_ok || die "the sid interpreters do not run after apt-get install"
}
# --- the free-threaded 3.13t ----------------------------------------------------------------
ft_ok() {
    [ -x "$FT_PY" ] && [ -s "$FT_STAMP" ] || return 1
    local want got
    want=$(sed -n 's/^upstream=//p' "$FT_STAMP")
    got=$("$FT_PY" -c 'import sys; print(sys.version.split()[0], sys._is_gil_enabled())' 2>/dev/null) || return 1
    [ "$got" = "$want False" ]
}
provision_ft() {
    if ft_ok; then
        say "3.13t: present ($FT_PY, $(sed -n 's/^source=//p' "$FT_STAMP"))"
        return 0
    fi
    local work=$CACHE/.build-3.13t apt=$CACHE/.apt-src
    safe_rm "$work"
    mkdir -p "$work/src" "$apt/lists/partial" "$apt/cache/archives/partial"
    # A private deb-src list and private apt state: the system's sources, lists and caches are
    # not touched. The snapshot's Release files have expired, hence Check-Valid-Until.
    : > "$apt/sources.list"
    local s
    for s in "${FT_SUITES[@]}"; do
        echo "deb-src [signed-by=$KEYRING] $MIRROR $s main" >> "$apt/sources.list"
    done
    local A=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
             -o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root)
    say "3.13t: apt-get update through the private deb-src list ($apt/sources.list)"
    apt-get "${A[@]}" -q update > "$work/update.log" 2>&1 \
        || { tail -20 "$work/update.log" >&2; die "apt-get update (private deb-src list) failed"; }
    # The mirror lists versions whose files it does not serve (404): newest first, the first one
    # that downloads is built.
    local versions v got=""
    versions=$(apt-cache "${A[@]}" showsrc "$FT_SOURCE" | sed -n 's/^Version: //p' | sort -u | sort -rV)
    [ -n "$versions" ] || die "no $FT_SOURCE source package in ${FT_SUITES[*]}"
    for v in $versions; do
        rm -rf "$work/src"; mkdir -p "$work/src"
        say "3.13t: apt-get source --download-only $FT_SOURCE=$v"
        if (cd "$work/src" && apt-get "${A[@]}" -q source --download-only "$FT_SOURCE=$v") \
                > "$work/source-$v.log" 2>&1; then
            got=$v; break
        fi
        echo "provision-pythons: $FT_SOURCE=$v cannot be fetched: $(grep -m1 '^E:' "$work/source-$v.log")" >&2
    done
    [ -n "$got" ] || die "no version of the $FT_SOURCE source package could be fetched (${versions//$'\n'/ })"
    # Upstream's source as the package carries it: Debian's patches adapt it to Debian's own
    # layout (multiarch, dist-packages, no ensurepip), which a --prefix build does not want.
    (cd "$work/src" && dpkg-source --skip-patches -x ./*.dsc tree) > "$work/extract.log" 2>&1 \
        || { cat "$work/extract.log" >&2; die "dpkg-source -x failed"; }
    local upstream=${got%-*}; upstream=${upstream#*:}
    mkdir -p "$work/build"
    say "3.13t: configure --disable-gil --enable-shared, make -j$JOBS (CPython $upstream, about 7 min on 2 cores)"
    (cd "$work/build" &&
        "$work/src/tree/configure" --prefix="$FT_PREFIX" --disable-gil --enable-shared \
            --without-ensurepip --disable-test-modules LDFLAGS="-Wl,-rpath,$FT_PREFIX/lib" \
            > "$work/configure.log" 2>&1) \
        || { tail -30 "$work/configure.log" >&2; die "configure failed (log: $work/configure.log)"; }
    (cd "$work/build" && make -j"$JOBS" > "$work/make.log" 2>&1) \
        || { tail -30 "$work/make.log" >&2; die "make failed (log: $work/make.log)"; }
    safe_rm "$FT_PREFIX"
    say "3.13t: make install into $FT_PREFIX"
    (cd "$work/build" && make install > "$work/install.log" 2>&1) \
        || { tail -30 "$work/install.log" >&2; die "make install failed (log: $work/install.log)"; }
    printf 'source=%s=%s\nupstream=%s\n' "$FT_SOURCE" "$got" "$upstream" > "$FT_STAMP"
    ft_ok || die "$FT_PY does not report CPython $upstream with the GIL disabled: $("$FT_PY" -c 'import sys; print(sys.version, sys._is_gil_enabled())' 2>&1)"
    safe_rm "$work"
}
# --- the manifest ---------------------------------------------------------------------------
# add NAME KIND PATH ROOT: every interpreter is run once with CHECK; its version string goes in the manifest.
add() {
    local name=$1 kind=$2 path=$3 root=$4 out
    if [ "$kind" = host ]; then
        out=$("$path" -c "$CHECK" 2>&1) || { missing+=("$name ($path: ${out##*$'\n'})"); return 0; }
    else
        out=$(chroot "$root" "$path" -c "$CHECK" 2>&1) || { missing+=("$name ($root $path: ${out##*$'\n'})"); return 0; }
    fi
    lines+=("$name"$'\t'"$kind"$'\t'"$path"$'\t'"$root"$'\t'"${out##*$'\n'}")
}
write_manifest() {
    local minor py e
    for minor in 8 9 10 11 12 13; do
        py=$(ls -d "$PYENV_VERSIONS"/3.$minor.*/bin/python 2>/dev/null | sort -V | tail -1 || true)
        if [ -z "$py" ]; then missing+=("3.$minor (no $PYENV_VERSIONS/3.$minor.*/bin/python)"); continue; fi
        add "3.$minor" host "$py" -
    done
    if [ -x /usr/bin/python3.11 ]; then add 3.11-debian host /usr/bin/python3.11 -
    else missing+=("3.11-debian (no /usr/bin/python3.11)"); fi
    add 3.13t host "$FT_PY" -
    for e in "${SID_INTERPRETERS[@]}"; do add "${e%%:*}" sid-root "${e#*:}" "$SID_ROOT"; done

    {
        printf '# name\tkind\tpath\troot\tversion\n'
        printf '%s\n' "${lines[@]}"
    } > "$CACHE/manifest.tsv.tmp"
    mv "$CACHE/manifest.tsv.tmp" "$CACHE/manifest.tsv"
    say "manifest: $CACHE/manifest.tsv (${#lines[@]} interpreters)"
    sed 's/^/  /' "$CACHE/manifest.tsv"
}

# The whole run is one function, read in full before it starts: editing or checking out this
# file while it runs (a 3.13t build takes minutes) cannot change what the run does.
main() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, apt-get, /opt)"
    mkdir -p "$CACHE"
    exec 9> "$CACHE/.lock"
    flock -w 3600 9 || die "another provision-pythons.sh holds $CACHE/.lock"
    trap cleanup EXIT
    host_install "${HOST_PACKAGES[@]}"
    provision_sid
    provision_ft
    lines=() missing=()
    write_manifest
    local m
    if [ ${#missing[@]} -gt 0 ]; then
        for m in "${missing[@]}"; do echo "provision-pythons: missing: $m" >&2; done
        if [ "${CI:-}" = true ]; then die "${#missing[@]} interpreter(s) missing under CI=true"; fi
        echo "provision-pythons: WARNING: ${#missing[@]} interpreter(s) missing; their tests will skip" >&2
    fi
    say "done in $((SECONDS - start)) s"
}

main "$@"
exit
