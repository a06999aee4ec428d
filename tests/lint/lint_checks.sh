#!/usr/bin/env bash
# lint_checks.sh - scripts/check-includes.sh and scripts/check-deps.sh on
# made-up trees: what each must report, and that a clean tree passes.
set -euo pipefail
SRC=${PROFD_SOURCE_DIR:?}
. "$(dirname "$0")/../support/skip.sh"
need_cmd nm binutils
CC=${CC:-cc}
need_cmd "$CC" gcc
T=$(mktemp -d /tmp/profd-lint.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/out" ] && cat "$T/out" >&2; exit 1; }

# --- check-includes: modules a and b; tests for a, and a test dir x declaring b.
R=$T/inc
mkdir -p "$R/src/a" "$R/src/b/sub" "$R/tests/a" "$R/tests/x" "$R/include/profd"
touch "$R/src/a/own.h" "$R/src/b/priv.h" "$R/src/b/sub/deep.h" "$R/include/profd/b.h"
cat >"$R/src/a/a.c" <<'C'
#include <stdio.h>
#include "profd/b.h"
#include "own.h"
#include "a/own.h"
#include "b/priv.h"
# include <b/sub/deep.h>
#include "../b/priv.h"
C
printf '#include "a/own.h"\n' >"$R/src/main.c"
printf '#include "a/own.h"\n#include "b/priv.h"\n' >"$R/tests/a/t.c"
printf '#include "b/priv.h"\n' >"$R/tests/x/t.c"
printf 'add_executable(t t.c)\ntarget_link_libraries(t PRIVATE profd_b)\n' >"$R/tests/x/CMakeLists.txt"
rc=0
bash "$SRC/scripts/check-includes.sh" "$R" >"$T/out" 2>&1 || rc=$?
[ $rc = 1 ] || fail "check-includes exited $rc on a tree with cross-module includes, want 1"
for want in 'src/a/a.c:5: #include "b/priv.h": module a includes a private header of module b' \
    'src/a/a.c:6: #include "b/sub/deep.h": module a' \
    'src/a/a.c:7: #include "../b/priv.h": module a' \
    'src/main.c:1: #include "a/own.h": src/ top level' \
    'tests/a/t.c:2: #include "b/priv.h": a private header of module b, not declared'; do
    grep -qF "$want" "$T/out" || fail "check-includes did not report: $want"
done
[ "$(grep -c '#include' "$T/out")" = 5 ] || fail "check-includes reported other lines than the 5 expected"
grep -q '^check-includes: 5 cross-module' "$T/out" || fail "no count line"
sed -i '/b\/priv.h\|b\/sub/d' "$R/src/a/a.c" "$R/tests/a/t.c"
rm "$R/src/main.c"
bash "$SRC/scripts/check-includes.sh" "$R" >"$T/out" 2>&1 || fail "check-includes fails on a clean tree"
echo "ok: check-includes"

# --- check-deps: a depends on b (and so on c through b); d on nothing.
R=$T/deps
mkdir -p "$R/build"
cat >"$R/CMakeLists.txt" <<'CM'
profd_module(c m)
profd_module(b profd_c
             PkgConfig::X)
profd_module(a profd_b)
profd_module(d)
CM
lib() { # NAME C-SOURCE
    printf '%s\n' "$2" >"$R/build/$1.c"
    "$CC" -c -o "$R/build/$1.o" "$R/build/$1.c"
    rm -f "$R/build/libprofd_$1.a"
    ar rc "$R/build/libprofd_$1.a" "$R/build/$1.o"
}
lib c 'int profd_c_f(void) { return 1; }'
lib b 'int profd_c_f(void); int profd_b_f(void) { return profd_c_f(); }'
lib d 'int profd_d_f(void) { return 4; }'
lib a 'int profd_b_f(void); int profd_c_f(void); int profd_d_f(void); int profd_nowhere(void);
int profd_a_f(void) { return profd_b_f() + profd_c_f() + profd_d_f() + profd_nowhere(); }'
rc=0
bash "$SRC/scripts/check-deps.sh" "$R/build" "$R" >"$T/out" 2>&1 || rc=$?
[ $rc = 1 ] || fail "check-deps exited $rc with undeclared symbols, want 1"
grep -qx 'libprofd_a.a: profd_d_f is defined in libprofd_d.a, which profd_a does not depend on' "$T/out" ||
    fail "check-deps did not report profd_d_f"
grep -qx 'libprofd_a.a: profd_nowhere is undefined and no module library defines it' "$T/out" ||
    fail "check-deps did not report profd_nowhere"
[ "$(grep -c '^libprofd_' "$T/out")" = 2 ] || fail "check-deps reported more than the two symbols"
lib a 'int profd_b_f(void); int profd_c_f(void);
int profd_a_f(void) { return profd_b_f() + profd_c_f(); }'
bash "$SRC/scripts/check-deps.sh" "$R/build" "$R" >"$T/out" 2>&1 || fail "check-deps fails on a clean graph"
grep -q '^check-deps: 4 module libraries' "$T/out" || fail "check-deps summary"
rm "$R/build/libprofd_d.a"
bash "$SRC/scripts/check-deps.sh" "$R/build" "$R" >"$T/out" 2>&1 && fail "check-deps passes with a library missing"
echo "ok: check-deps"
echo "PASS"
