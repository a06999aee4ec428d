#!/usr/bin/env bash
# check-deps.sh [-v] [BUILD [ROOT]] - every module library links only what it
# declares (`make lint`). ROOT is the source tree [the repository].
#
# Reads each module's declared dependencies from the profd_module(NAME DEPS...)
# lines of CMakeLists.txt (the profd_<m> names among DEPS; their dependencies
# count too, as CMake links them PUBLIC), then runs nm on BUILD/libprofd_<m>.a
# (default build/, which must be built). A symbol a library leaves undefined
# must be defined by the library itself or by one of its dependencies:
#   - defined by another module's library that is not a dependency: an
#     undeclared edge of the module graph;
#   - a profd_* symbol that no module library defines (say, one that only the
#     profd executable's src/cli/ has): the library cannot be linked alone.
# Each is printed with the library and symbol; the script exits 1 if there is
# any. -v also prints, per module, its declared dependencies and the modules
# nm shows it using.
set -euo pipefail
verbose=0
[ "${1:-}" = -v ] && { verbose=1; shift; }
BUILD=$(realpath -m "${1:-$(dirname "$0")/../build}")
cd "${2:-$(dirname "$0")/..}"

declare -A deps=() closure=() defined_by=() has_lib=()
modules=()
while read -r name rest; do
    modules+=("$name")
    d=""
    for t in $rest; do
        [[ $t =~ ^profd_[A-Za-z0-9_]+$ ]] && d+=" ${t#profd_}"
    done
    deps[$name]=$d
done < <(tr '\n' ' ' <CMakeLists.txt | grep -Eo 'profd_module\([^)]*\)' |
    sed -E 's/^profd_module\(//; s/\)$//; s/[[:space:]]+/ /g')
[ ${#modules[@]} -gt 0 ] || { echo "check-deps: no profd_module lines in CMakeLists.txt" >&2; exit 1; }

# closure M: M's dependencies, transitively.
close() {
    local seen=" " todo=${deps[$1]:-} m
    while [ -n "${todo// /}" ]; do
        set -- $todo
        m=$1; shift; todo="$*"
        [[ $seen == *" $m "* ]] && continue
        seen+="$m "
        todo+=" ${deps[$m]:-}"
    done
    echo "$seen"
}

for m in "${modules[@]}"; do
    closure[$m]=$(close "$m")
    lib=$BUILD/libprofd_$m.a
    if [ ! -f "$lib" ]; then
        echo "check-deps: $lib is missing (build first: cmake --build $BUILD)" >&2
        exit 1
    fi
    has_lib[$m]=1
    while read -r sym; do
        [ -n "${defined_by[$sym]:-}" ] || defined_by[$sym]=$m
    done < <(nm -g --defined-only "$lib" 2>/dev/null | awk 'NF == 3 && $2 ~ /^[A-TV-Z]$/ { print $3 }' | sort -u)
done

bad=0
for m in "${modules[@]}"; do
    lib=$BUILD/libprofd_$m.a
    used=" "
    # Undefined in some object of the library and not defined by another of its objects.
    while read -r sym; do
        owner=${defined_by[$sym]:-}
        if [ "$owner" = "$m" ]; then
            continue
        elif [ -n "$owner" ]; then
            [[ $used == *" $owner "* ]] || used+="$owner "
            if [[ ${closure[$m]} != *" $owner "* ]]; then
                echo "libprofd_$m.a: $sym is defined in libprofd_$owner.a, which profd_$m does not depend on"
                bad=$((bad + 1))
            fi
        elif [[ $sym == profd_* ]]; then
            echo "libprofd_$m.a: $sym is undefined and no module library defines it"
            bad=$((bad + 1))
        fi
    done < <(nm -u "$lib" 2>/dev/null | awk '$1 == "U" { print $2 }' | sort -u)
    if [ $verbose = 1 ]; then
        printf '%-8s declares:%s\n%-8s uses:    %s\n' "$m" "${deps[$m]:- (none)}" "" "${used# }"
    fi
done

if [ $bad -gt 0 ]; then
    echo "check-deps: $bad undefined symbol(s) outside the declared dependencies"
    exit 1
fi
echo "check-deps: ${#modules[@]} module libraries; every undefined symbol is defined in a declared dependency"
