# schema_drift.sh - hold the JSON Schemas in schemas/ and the C validation in
# src/session/request.c to the same fixture set (tests/fixtures/requests/).
#
# 1. ajv (tests/node/validate.mjs) must pass every good/ file and fail every
#    bad/ file; test_request holds the C side to the same files.
# 2. Each bad file must fail on the same field in both: the field that
#    EXPECTED names for the C error is the field ajv reports.
# 3. Bad files rejected only by the transport rules (which JSON Schema cannot
#    state) must be exactly those listed in TRANSPORT.
# 4. What profd itself writes (re-encoded requests, sessions, events, from
#    test_request with PROFD_EMIT_DIR) must pass the request, session and
#    event schemas.
# 5. Differential: 3000 generated messages (tests/node/gen_requests.mjs, seed
#    PROFD_DRIFT_SEED, default 1) get the same verdict from request_judge (C)
#    and validate.mjs (ajv).
set -u
src=${PROFD_SOURCE_DIR:?PROFD_SOURCE_DIR is not set}
build=${PROFD_BUILD_DIR:?PROFD_BUILD_DIR is not set}
fx=$src/tests/fixtures/requests
validate=$src/tests/node/validate.mjs

. "$(dirname "$0")/../support/skip.sh"
need_cmd node nodejs
for m in ajv ajv-formats; do
    [ -d "$src/tests/node/node_modules/$m" ] ||
        skip_provided "$m is missing; run npm ci in tests/node"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
problem() { echo "FAIL: $*"; failures=$((failures + 1)); }

run_node() { # out-file args...
    local out=$1
    shift
    node "$validate" "$@" >"$out" 2>"$tmp/node.err" ||
        { cat "$tmp/node.err"; echo "FAIL: validate.mjs could not run"; exit 1; }
}

# 1. verdicts
run_node "$tmp/good" "$fx/good"
run_node "$tmp/bad" "$fx/bad"
ngood=$(ls "$fx"/good/*.json | wc -l)
nbad=$(ls "$fx"/bad/*.json | wc -l)
[ "$(grep -c . "$tmp/good")" -eq "$ngood" ] || problem "ajv judged $(grep -c . "$tmp/good") of $ngood good files"
[ "$(grep -c . "$tmp/bad")" -eq "$nbad" ] || problem "ajv judged $(grep -c . "$tmp/bad") of $nbad bad files"
while IFS=$'\t' read -r verdict file stage reason field; do
    [ "$verdict" = pass ] || problem "good/${file##*/} fails the schema ($stage: $reason)"
done <"$tmp/good"
while IFS=$'\t' read -r verdict file rest; do
    [ "$verdict" = fail ] || problem "bad/${file##*/} passes the schema"
done <"$tmp/bad"

# 2. same field in both validators
while IFS=$'\t' read -r verdict file stage reason field; do
    [ "$verdict" = fail ] || continue
    name=${file##*/}
    prefix=$(awk -F'\t' -v n="$name" '$1 == n { print $2 }' "$fx/EXPECTED")
    want=${prefix%%:*}
    want=${want%%.*}
    [ -n "$want" ] || { problem "bad/$name has no EXPECTED line"; continue; }
    [ "$field" = "$want" ] ||
        problem "bad/$name: C rejects field '$want', ajv rejects '$field' ($reason)"
done <"$tmp/bad"

# 3. the transport exception list
awk -F'\t' '$3 == "transport" { n = $2; sub(".*/", "", n); print n }' "$tmp/bad" | sort >"$tmp/transport.actual"
grep -v '^#' "$fx/TRANSPORT" | grep . | sort >"$tmp/transport.listed"
if ! diff -u "$tmp/transport.listed" "$tmp/transport.actual" >"$tmp/transport.diff"; then
    cat "$tmp/transport.diff"
    problem "bad files rejected only by transport rules differ from tests/fixtures/requests/TRANSPORT"
fi

# The oversized message is made here rather than committed: valid JSON of
# 65537 bytes, which only the size rule rejects.
python3 -c 'import sys; s = "{\"service_name\":\"web-api\",\"pad\":\""; sys.stdout.write(s + "x" * (65537 - len(s) - 2) + "\"}")' >"$tmp/oversized.json"
run_node "$tmp/over" "$tmp/oversized.json"
grep -q "^fail.*transport.*over 65536" "$tmp/over" || problem "a 65537-byte message passes ajv: $(cat "$tmp/over")"

# 4. profd's own output against all three schemas
test_bin=$build/tests/session/test_request
if [ -x "$test_bin" ]; then
    mkdir "$tmp/emit"
    PROFD_EMIT_DIR=$tmp/emit "$test_bin" >"$tmp/emit.log" 2>&1 ||
        { cat "$tmp/emit.log"; problem "test_request failed while writing samples"; }
    for kind in request session event; do
        files=("$tmp/emit/$kind-"*)
        [ -e "${files[0]}" ] || { problem "test_request wrote no $kind samples"; continue; }
        run_node "$tmp/emit-$kind" --schema "$src/schemas/profiling-$kind.schema.json" "${files[@]}"
        while IFS=$'\t' read -r verdict file stage reason field; do
            [ "$verdict" = pass ] ||
                problem "profd's $kind ${file##*/} fails its schema ($stage: $reason)"
        done <"$tmp/emit-$kind"
        echo "ok: ${#files[@]} $kind messages written by profd pass profiling-$kind.schema.json"
    done
else
    problem "$test_bin is not built"
fi

# 5. differential
judge=$build/tests/session/request_judge
seed=${PROFD_DRIFT_SEED:-1}
if [ -x "$judge" ]; then
    node "$src/tests/node/gen_requests.mjs" "$tmp/gen" 3000 "$seed"
    "$judge" "$tmp/gen"/*.json | sort >"$tmp/gen.c"
    run_node "$tmp/gen.node" "$tmp/gen"
    sort -o "$tmp/gen.node" "$tmp/gen.node"
    cut -f1,2 "$tmp/gen.c" >"$tmp/gen.c.v"
    cut -f1,2 "$tmp/gen.node" >"$tmp/gen.node.v"
    if ! cmp -s "$tmp/gen.c.v" "$tmp/gen.node.v"; then
        join -t $'\t' -1 2 -2 2 "$tmp/gen.c.v" "$tmp/gen.node.v" 2>/dev/null |
            awk -F'\t' '$2 != $3' | head -5 | while IFS=$'\t' read -r f c n; do
            echo "  $(basename "$f"): C $c, ajv $n: $(head -c 300 "$f")"
            grep -F "$f" "$tmp/gen.c" "$tmp/gen.node" | cut -f3- | sed 's/^/    /'
        done
        problem "C and ajv disagree on generated messages (seed $seed)"
    fi
    echo "ok: C and ajv agree on 3000 generated messages (seed $seed," \
        "$(grep -c '^pass' "$tmp/gen.c.v") valid)"
else
    problem "$judge is not built"
fi

echo "ok: ajv judged $ngood good and $nbad bad fixtures; transport-only: $(wc -l <"$tmp/transport.actual")"
if [ "$failures" -ne 0 ]; then
    echo "$failures failed"
    exit 1
fi
echo "all passed"
