# pythons.sh - the test interpreters that scripts/provision-pythons.sh installs, for tests to
# source (bash). docs/test-pythons.md describes them. It reads $PROFD_PYTHONS/manifest.tsv
# (default /opt/profd-pythons), whose lines are
#     name <TAB> kind <TAB> path <TAB> root <TAB> version
# kind is host (path is a host path, root is -) or sid-root (path is inside the Debian sid root
# at root). The functions:
#
#   profd_py_names                  every interpreter name in the manifest, one a line
#   profd_py_field NAME FIELD       FIELD of NAME: kind, path, root or version
#   profd_py_check NAME...          0 when all are there and run; otherwise prints what is
#                                   missing and how to provision it, and returns 1 (the caller
#                                   skips), or under CI=true prints FAIL and returns 2
#   profd_py_require NAME...        profd_py_check, exiting the test: 0 (skip) or 1 (CI) if any
#                                   is missing
#   profd_py_modes NAME             the launch modes that NAME supports: host, or chroot and ns
#   profd_py_launch NAME MODE PIDFILE SCRIPT [ARGS...]
#       starts SCRIPT under NAME in the background, with stdin/stdout/stderr inherited.
#       MODE: host (kind host); chroot or ns (kind sid-root):
#         chroot  a plain chroot into the sid root, in the host's mount namespace, the way a
#                 chroot'd process looks to the host: /proc/PID/maps shows host paths
#                 (ROOT/usr/bin/python3.14), /proc/PID/root is ROOT.
#         ns      its own mount namespace, like a container: unshare --mount --fork, the root
#                 bind-mounted on itself, /proc mounted inside, pivot_root into it. maps
#                 shows paths inside the root (/usr/bin/python3.14), found from the host under
#                 /proc/PID/root.
#       The script is copied into a fresh run directory, for sid-root inside the root
#       (ROOT/tmp/profd-run.XXXXXX, seen by the target as /tmp/profd-run.XXXXXX, the same in both
#       modes). The Python process's own pid (a host pid) is written to PIDFILE just before
#       exec; wait for it with profd_py_wait_pid. Sets, in the calling shell:
#         PROFD_PY_LAUNCHER   the pid to wait on; its exit status is the script's, and a
#                             SIGTERM, SIGINT or SIGHUP sent to it reaches Python. In host and
#                             chroot mode it is the Python process itself; in ns mode it is a
#                             shell around unshare, whose forked child is Python (it forwards
#                             those signals; SIGKILL on unshare kills its child, --kill-child).
#         PROFD_PY_RUNDIR     the run directory, host path (put extra files there)
#         PROFD_PY_RUNDIR_IN  the same directory as the target sees it
#       In ARGS, {RUNDIR} stands for PROFD_PY_RUNDIR_IN: pass paths for the target that way
#       (profd_py_launch 3.14 chroot "$W/pid" fixture.py --out {RUNDIR}/result.json; then read
#       "$PROFD_PY_RUNDIR/result.json").
#       Call it in the current shell (not in $(...)), redirecting as needed:
#         profd_py_launch 3.14 ns "$W/pid" fixture.py 3.6 > "$W/out"
#   profd_py_wait_pid PIDFILE [SECONDS]   prints the pid once the Python process runs (default
#                                         10 s); returns 1 on timeout
#   profd_py_run NAME MODE ARGS...  runs python ARGS in the foreground (no script copy), e.g.
#                                   profd_py_run 3.15d ns -c 'import sys; print(sys.version)'
#   profd_py_cleanup                removes the run directories made by profd_py_launch
#
# All interpreters the tests expect, in the order the manifest lists them:
PROFD_PY_EXPECTED=(3.8 3.9 3.10 3.11 3.12 3.13 3.11-debian 3.13t 3.14 3.14d 3.15 3.15d)
PROFD_PYTHONS=${PROFD_PYTHONS:-/opt/profd-pythons}
PROFD_PY_MANIFEST=$PROFD_PYTHONS/manifest.tsv
PROFD_PY_RUNDIRS=()
_profd_py_src=${PROFD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PROFD_PY_PROVISION="bash $_profd_py_src/scripts/provision-pythons.sh"

profd_py_names() {
    [ -r "$PROFD_PY_MANIFEST" ] || return 0
    awk -F'\t' '!/^#/ && NF >= 5 { print $1 }' "$PROFD_PY_MANIFEST"
}

profd_py_field() {
    local col
    case $2 in kind) col=2 ;; path) col=3 ;; root) col=4 ;; version) col=5 ;;
        *) echo "profd_py_field: unknown field $2" >&2; return 2 ;; esac
    [ -r "$PROFD_PY_MANIFEST" ] || return 1
    awk -F'\t' -v n="$1" -v c="$col" '!/^#/ && $1 == n { print $c; found = 1; exit }
        END { exit !found }' "$PROFD_PY_MANIFEST"
}

# Why NAME cannot be used, or nothing when it can.
_profd_py_problem() {
    local name=$1 kind path root
    if [ ! -r "$PROFD_PY_MANIFEST" ]; then
        echo "no manifest $PROFD_PY_MANIFEST"; return
    fi
    kind=$(profd_py_field "$name" kind) || { echo "not in $PROFD_PY_MANIFEST"; return; }
    path=$(profd_py_field "$name" path)
    root=$(profd_py_field "$name" root)
    case $kind in
    host) [ -x "$path" ] || echo "$path is not there" ;;
    sid-root)
        if [ "$(id -u)" -ne 0 ]; then echo "sid-root interpreters need root (chroot, unshare)"
        elif [ ! -x "$root$path" ]; then echo "$root$path is not there"; fi ;;
    *) echo "unknown kind '$kind' in $PROFD_PY_MANIFEST" ;;
    esac
}

profd_py_check() {
    local name why rc=0
    for name in "$@"; do
        why=$(_profd_py_problem "$name")
        [ -z "$why" ] && continue
        if [ "${CI:-}" = true ]; then
            echo "FAIL: CPython $name is missing under CI=true: $why; provision it with: $PROFD_PY_PROVISION"
            rc=2
        else
            echo "SKIP: CPython $name is missing: $why; provision it with: $PROFD_PY_PROVISION"
            [ $rc -eq 0 ] && rc=1
        fi
    done
    return $rc
}

profd_py_require() {
    local rc=0
    profd_py_check "$@" || rc=$?
    [ $rc -eq 0 ] && return 0
    [ $rc -eq 2 ] && exit 1
    exit 0
}

profd_py_modes() {
    case $(profd_py_field "$1" kind) in
    host) echo host ;;
    sid-root) echo chroot; echo ns ;;
    esac
}

# _profd_py_exec NAME MODE PIDFILE PYTHON-ARGS...: exec the interpreter (never returns on
# success); PIDFILE gets the pid that Python will have.
_profd_py_exec() {
    local name=$1 mode=$2 pidfile=$3 kind path root
    shift 3
    kind=$(profd_py_field "$name" kind) || { echo "profd_py: $name is not in $PROFD_PY_MANIFEST" >&2; return 127; }
    path=$(profd_py_field "$name" path)
    root=$(profd_py_field "$name" root)
    case $kind:$mode in
    host:host)
        echo $BASHPID > "$pidfile"
        exec "$path" "$@" ;;
    sid-root:chroot)
        echo $BASHPID > "$pidfile"
        exec chroot "$root" "$path" "$@" ;;
    sid-root:ns)
        # pivot_root needs the new root to be a mount point: bind it on itself. After
        # pivot_root(".", ".") the old root is stacked on top and detached with umount -l; the
        # commands after that (umount, chroot) are the sid root's own.
        unshare --mount --propagation private --fork --kill-child -- /bin/sh -c '
            set -e
            root=$1 pidfile=$2; shift 2
            mount --bind "$root" "$root"
            mount -t proc proc "$root/proc"
            echo $$ > "$pidfile"
            cd "$root"
            pivot_root . .
            umount -l .
            exec chroot . "$@"' profd-ns "$root" "$pidfile" "$path" "$@" &
        # unshare --fork ignores SIGTERM and SIGINT while it waits for its child, so this shell
        # stays in between and hands them (and SIGHUP) to Python; with no Python yet, unshare
        # is killed, and --kill-child takes its child along.
        local u=$! sig rc
        for sig in TERM INT HUP; do
            trap "_profd_py_forward $sig $u '$pidfile'" $sig
        done
        while :; do
            wait $u; rc=$?
            kill -0 $u 2>/dev/null || break
        done
        exit $rc ;;
    *) echo "profd_py: $name ($kind) cannot be launched in mode '$mode' (modes: $(profd_py_modes "$name" | tr '\n' ' '))" >&2
       return 2 ;;
    esac
}

_profd_py_forward() {
    local sig=$1 u=$2 pidfile=$3 pid
    pid=$(cat "$pidfile" 2>/dev/null)
    if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then kill -s "$sig" "$pid" 2>/dev/null
    else kill -s KILL "$u" 2>/dev/null; fi
}

profd_py_launch() {
    local name=$1 mode=$2 pidfile=$3 script=$4 kind root base
    shift 4
    kind=$(profd_py_field "$name" kind) || { echo "profd_py_launch: $name is not in $PROFD_PY_MANIFEST" >&2; return 127; }
    root=$(profd_py_field "$name" root)
    [ -r "$script" ] || { echo "profd_py_launch: no script $script" >&2; return 2; }
    rm -f "$pidfile"
    if [ "$kind" = sid-root ]; then
        PROFD_PY_RUNDIR=$(mktemp -d "$root/tmp/profd-run.XXXXXX") || return 1
        PROFD_PY_RUNDIR_IN=${PROFD_PY_RUNDIR#"$root"}
    else
        PROFD_PY_RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/profd-run.XXXXXX") || return 1
        PROFD_PY_RUNDIR_IN=$PROFD_PY_RUNDIR
    fi
    chmod 755 "$PROFD_PY_RUNDIR"
    PROFD_PY_RUNDIRS+=("$PROFD_PY_RUNDIR")
    base=$(basename "$script")
    cp "$script" "$PROFD_PY_RUNDIR/$base"
    local args=() a
    for a in "$@"; do args+=("${a//\{RUNDIR\}/$PROFD_PY_RUNDIR_IN}"); done
    _profd_py_exec "$name" "$mode" "$pidfile" "$PROFD_PY_RUNDIR_IN/$base" ${args[@]+"${args[@]}"} &
    PROFD_PY_LAUNCHER=$!
}

profd_py_wait_pid() {
    local pidfile=$1 limit=${2:-10} i pid exe
    for ((i = 0; i < limit * 20; i++)); do
        if [ -s "$pidfile" ]; then
            pid=$(cat "$pidfile")
            exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || exe=
            case ${exe##*/} in python*) echo "$pid"; return 0 ;; esac
        fi
        sleep 0.05
    done
    echo "profd_py_wait_pid: no Python process in $pidfile after $limit s" >&2
    return 1
}

profd_py_run() {
    local name=$1 mode=$2
    shift 2
    (_profd_py_exec "$name" "$mode" /dev/null "$@")
}

profd_py_cleanup() {
    local d
    for d in "${PROFD_PY_RUNDIRS[@]}"; do
        case $d in */profd-run.*) rm -rf "$d" ;; esac
    done
    PROFD_PY_RUNDIRS=()
}
