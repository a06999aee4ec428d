#!/usr/bin/env bash
# check-includes.sh [ROOT] - fail on a cross-module private include (`make lint`).
#
# A module is a directory src/<m>/ (its public interface is include/profd/).
#   - A file under src/<m>/ may include its own private headers ("<m>/x.h", or a
#     path relative to itself that stays inside src/<m>/), but no header under
#     another src/<other>/. A file directly under src/ (main.c) belongs to no
#     module and may include none.
#   - A test file (tests/, fuzz/, bench/) may include the private headers of the
#     module it tests: tests/<m>/ tests module m. Any other module it must
#     declare in its own directory's CMakeLists.txt, by naming that module's
#     library (profd_<other>) or its source folder (src/<other>, ${S}/<other>).
# Each offending include is printed as FILE:LINE: the include, and why; the
# script exits 1 if there is any, 0 otherwise. ROOT defaults to the repository.
set -euo pipefail
ROOT=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$ROOT"

declare -A module=()
for d in src/*/; do
    [ -d "$d" ] && module[$(basename "$d")]=1
done

# declared DIR: the modules the CMakeLists.txt of DIR (or of its nearest
# parent that has one, up to ROOT) names as profd_<m>, src/<m> or ${VAR}/<m>
# (a variable holding src, as in ${S}/store/conn.c).
declared() {
    local dir=$1
    while [ "$dir" != . ] && [ ! -f "$dir/CMakeLists.txt" ]; do dir=$(dirname "$dir"); done
    [ -f "$dir/CMakeLists.txt" ] || return 0
    grep -Eo '(profd_|src/|\}/)[A-Za-z0-9_]+' "$dir/CMakeLists.txt" | sed -E 's#^(profd_|src/|\}/)##' | sort -u
}

bad=0
while IFS= read -r -d '' f; do
    dir=$(dirname "$f")
    case $f in
        src/*/*) own=${f#src/}; own=${own%%/*}; allowed=" $own " ;;
        src/*) own=""; allowed=" " ;;
        tests/*/*)
            own=${f#tests/}; own=${own%%/*}
            allowed=" $own $(declared "$dir" | tr '\n' ' ')"
            ;;
        *) own=""; allowed=" $(declared "$dir" | tr '\n' ' ')" ;;
    esac
    while IFS=: read -r line inc; do
        [ -n "$inc" ] || continue
        # The module a path names: "../<m>/x.h" resolved from the including
        # file's folder, "<m>/x.h" against src/.
        # A bare "x.h" is the including file's own folder (or a system header).
        [[ $inc == */* ]] || continue
        target=""
        if [[ $inc == *..* ]]; then
            rel=$(realpath -m --relative-to="$ROOT" "$dir/$inc")
            if [[ $rel == src/*/* ]]; then
                target=${rel#src/}; target=${target%%/*}
            fi
        else
            first=${inc%%/*}
            [ -n "${module[$first]:-}" ] && target=$first
        fi
        [ -n "$target" ] || continue
        [[ $allowed == *" $target "* ]] && continue
        if [ -n "$own" ] && [[ $f == src/* ]]; then
            why="module $own includes a private header of module $target"
        elif [[ $f == src/* ]]; then
            why="src/ top level includes a private header of module $target"
        else
            why="a private header of module $target, not declared in $(dirname "$f")/CMakeLists.txt (profd_$target or src/$target)"
        fi
        echo "$f:$line: #include \"$inc\": $why"
        bad=$((bad + 1))
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<][^">]+[">]' "$f" |
        sed -E 's/^([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*["<]([^">]+)[">].*/\1:\2/' || true)
done < <(find src tests fuzz bench -type f \( -name '*.c' -o -name '*.h' \) -print0 2>/dev/null | sort -z)

if [ $bad -gt 0 ]; then
    echo "check-includes: $bad cross-module private include(s); use the module's header in include/profd/"
    exit 1
fi
echo "check-includes: no cross-module private include"
