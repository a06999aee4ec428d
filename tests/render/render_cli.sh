#!/usr/bin/env bash
# render_cli.sh - profd render / profd diff through the real binary: flags and
# exit codes, bad-line reports, stdin, round trips (collapsed -> speedscope ->
# collapsed, render(collapsed(x)) == render(x)), speedscope schema validation
# with ajv, pprof decoded with python3's stdlib, SVG well-formedness, escaping
# of hostile names, and diff.
set -u
P=${PROFD_BIN:?}
SRC=${PROFD_SOURCE_DIR:?}
SHARED=$SRC/../shared
. "$(dirname "$0")/../support/skip.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
expect_rc() { # expect_rc WANT DESC cmd...
    local want=$1 desc=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" = "$want" ]; then ok "$desc (exit $rc)"; else fail "$desc: exit $rc, want $want: $(head -c 300 "$T/err")"; fi
}

# --- the compiled-in page matches its source
python3 "$SRC/src/render/embed_html.py" --check && ok "html_page.c in sync with flame.html" ||
    fail "src/render/html_page.c is stale: run python3 src/render/embed_html.py"

# --- usage and errors
expect_rc 2 "unknown flag" "$P" render --bogus
expect_rc 2 "unknown format" "$P" render --format png
expect_rc 2 "two inputs" "$P" render a b
expect_rc 2 "diff needs two inputs" "$P" diff only-one
expect_rc 1 "missing input" "$P" render "$T/nope.txt"
grep -q "cannot open $T/nope.txt" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ] && ok "one-line error" || fail "error text: $(cat "$T/err")"
"$P" help render >"$T/usage"
for f in --format --title --min-width --strict --inverted --output; do
    grep -q -- "$f" "$T/usage" || fail "usage lacks $f"
done
"$P" help diff | grep -q "BEFORE AFTER" || fail "diff usage"

# --- bad lines: reported with their numbers and skipped, or fatal with --strict
printf 'a;b 2\nno count here\na;b;c 3\r\n\n;x 1\na;b 1\n' >"$T/bad.txt"
expect_rc 0 "bad lines skipped" "$P" render --format collapsed "$T/bad.txt"
grep -q "^line 2: sample count 'here'" "$T/err" && grep -q "^line 5: empty frame name" "$T/err" &&
    ok "bad lines reported with numbers" || fail "bad line report: $(cat "$T/err")"
[ "$(cat "$T/out")" = "$(printf 'a;b 3\na;b;c 3')" ] && ok "merged output" || fail "merged output: $(cat "$T/out")"
expect_rc 1 "strict makes a bad line fatal" "$P" render --strict --format collapsed "$T/bad.txt"
grep -q "line 2:" "$T/err" || fail "strict error lacks the line number: $(cat "$T/err")"

# --- stdin, '-' and a file agree
"$P" render --format collapsed "$T/bad.txt" >"$T/a" 2>/dev/null
"$P" render --format collapsed <"$T/bad.txt" >"$T/b" 2>/dev/null
"$P" render --format collapsed - <"$T/bad.txt" >"$T/c" 2>/dev/null
cmp -s "$T/a" "$T/b" && cmp -s "$T/a" "$T/c" && ok "stdin" || fail "stdin differs from file"

# --- a realistic input
if [ -f "$SHARED/bench/gen_collapsed.py" ]; then
    python3 "$SHARED/bench/gen_collapsed.py" 3000 7 >"$T/in.txt"
else
    echo "note: $SHARED/bench/gen_collapsed.py absent, using a small built-in input"
    python3 -c '
import random
r = random.Random(3); fs = ["f%d (app/m%d.py:%d)" % (i, i % 7, i) for i in range(200)]
seen = {}
while len(seen) < 3000:
    seen[";".join(["main (app.py:1)"] + [r.choice(fs) for _ in range(r.randint(1, 30))])] = r.randint(1, 50)
for k in sorted(seen): print(k, seen[k])' >"$T/in.txt"
fi
total=$(awk '{s += $NF} END {print s}' "$T/in.txt")
# a file over 2 MiB is read ahead by a thread; stdin is read inline: same result
"$P" render --format collapsed "$T/in.txt" >"$T/file.out"
"$P" render --format collapsed <"$T/in.txt" >"$T/pipe.out"
cmp -s "$T/file.out" "$T/pipe.out" && ok "read-ahead and inline reads agree" || fail "file and stdin reads differ"
# a line over the 16 MiB limit is reported and skipped; a 3 MiB one is fine
python3 -c '
import sys
w = sys.stdout.write
w("a;b 1\n" + "x" * (17 << 20) + " 5\n" + "c;d 2\n" + "y" * (3 << 20) + ";z 7\nlast 1")' >"$T/long.txt"
"$P" render --format collapsed "$T/long.txt" >"$T/long.out" 2>"$T/long.err"
[ "$(cut -c1-8 "$T/long.out" | tr '\n' ' ')" = "a;b 1 c;d 2 last 1 yyyyyyyy " ] && grep -q "^line 2: longer than 16 MiB" "$T/long.err" &&
    ok "long lines" || fail "long lines: $(cut -c1-20 "$T/long.out") $(cat "$T/long.err")"
"$P" render --format collapsed "$T/in.txt" >"$T/norm.txt"
LC_ALL=C sort "$T/in.txt" >"$T/in.sorted"
LC_ALL=C sort "$T/norm.txt" | cmp -s - "$T/in.sorted" && ok "collapsed keeps every unique stack" || fail "collapsed changed the stacks"
"$P" render --format speedscope -o "$T/ss.json" "$T/in.txt" || fail "speedscope render"
"$P" render --format collapsed "$T/ss.json" >"$T/back.txt"
cmp -s "$T/norm.txt" "$T/back.txt" && ok "collapsed -> speedscope -> collapsed is the identity" || fail "speedscope round trip differs"
for fmt in html svg speedscope; do
    "$P" render --format $fmt --title T "$T/in.txt" >"$T/x.$fmt"
    "$P" render --format $fmt --title T "$T/norm.txt" >"$T/y.$fmt"
    cmp -s "$T/x.$fmt" "$T/y.$fmt" && ok "render(collapsed(x)) == render(x) for $fmt" || fail "$fmt differs after normalising"
done
python3 - "$T/ss.json" "$total" <<'PY' && ok "speedscope weights sum to the input total ($total)" || fail "speedscope weights"
import json, sys
d = json.load(open(sys.argv[1]))
s = sum(sum(p["weights"]) for p in d["profiles"])
assert s == int(sys.argv[2]), (s, sys.argv[2])
assert all(len(p["samples"]) == len(p["weights"]) for p in d["profiles"])
f = d["shared"]["frames"][0]
assert "name" in f
PY
grep -q '"file":"app/' "$T/ss.json" && grep -q '"line":[0-9]' "$T/ss.json" && ok "frames carry file and line" || fail "frames lack file/line"

# --- thread roots become one profile each
printf 'thread (0x1);main (a.py:1) 3\nthread (0x2);main (a.py:1);f (a.py:4) 2\n' >"$T/thr.txt"
"$P" render --format speedscope "$T/thr.txt" >"$T/thr.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [p["name"] for p in d["profiles"]] == ["thread (0x1)", "thread (0x2)"], d["profiles"]' "$T/thr.json" &&
    ok "one profile per thread" || fail "thread profiles"

# --- ajv schema validation
SCHEMA=$SHARED/testdata/speedscope/file-format-schema.json
if ! command -v node >/dev/null; then
    skip_part_provided "node not installed, speedscope schema not validated"
elif [ ! -f "$SCHEMA" ]; then
    skip_part_provided "$SCHEMA absent, speedscope schema not validated"
elif [ ! -d "$SRC/tests/node/node_modules/ajv" ]; then
    skip_part_provided "ajv not installed in tests/node (npm ci there)"
else
    cat >"$T/validate.cjs" <<'JS'
const path = require('path'), fs = require('fs');
const Ajv = require(path.join(process.env.PROFD_SOURCE_DIR, 'tests/node/node_modules/ajv'));
const schema = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const ajv = new Ajv({ strict: false });
const validate = ajv.compile({ ...schema, $ref: '#/definitions/FileFormat.File' });
let bad = 0;
for (const f of process.argv.slice(3)) {
  if (!validate(JSON.parse(fs.readFileSync(f, 'utf8')))) { bad++; console.log(f, JSON.stringify(validate.errors).slice(0, 500)); }
}
process.exit(bad ? 1 : 0);
JS
    "$P" render --format speedscope "$T/bad.txt" >"$T/ss2.json" 2>/dev/null
    node "$T/validate.cjs" "$SCHEMA" "$T/ss.json" "$T/thr.json" "$T/ss2.json" && ok "speedscope output valid against the schema (ajv)" ||
        fail "speedscope schema validation"
    echo '{"shared":{"frames":[]},"profiles":[{"type":"sampled"}]}' >"$T/invalid.json"
    node "$T/validate.cjs" "$SCHEMA" "$T/invalid.json" >/dev/null && fail "ajv accepted an invalid file" || ok "ajv rejects an invalid file"
fi

# --- pprof: decode with python3's stdlib
"$P" render --format pprof -o "$T/p.pb.gz" "$T/in.txt" || fail "pprof render"
python3 - "$T/p.pb.gz" "$total" <<'PY' && ok "pprof decodes to the input total" || fail "pprof decode"
import gzip, sys
raw = gzip.open(sys.argv[1]).read()
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7F) << s; s += 7
        if c < 0x80: return v, i
def fields(b):
    i = 0
    while i < len(b):
        k, i = varint(b, i)
        if k & 7 == 2:
            n, i = varint(b, i); yield k >> 3, b[i:i + n]; i += n
        else:
            v, i = varint(b, i); yield k >> 3, v
strings, total, funcs, locs = [], 0, {}, set()
for num, v in fields(raw):
    if num == 6: strings.append(v.decode())
    elif num == 2:
        for n2, v2 in fields(v):
            if n2 == 2:
                j = 0
                while j < len(v2): x, j = varint(v2, j); total += x
            if n2 == 1:
                j = 0
                while j < len(v2): x, j = varint(v2, j); locs.add(x)
    elif num == 5:
        f = dict(fields(v)); funcs[f[1]] = f
assert strings[0] == "" and "samples" in strings and "count" in strings
assert total == int(sys.argv[2]), (total, sys.argv[2])
assert any(strings[f.get(4, 0)].startswith("app/") for f in funcs.values())
assert all(l >= 1 for l in locs)
PY

# --- svg is well-formed XML with flamegraph.pl's structure
python3 - "$T/x.svg" <<'PY' && ok "svg well-formed, <g> per frame with title/rect/text" || fail "svg structure"
import sys, xml.dom.minidom as m
d = m.parse(sys.argv[1])
frames = [g for g in d.getElementsByTagName("g") if g.getAttribute("id") == "frames"][0]
gs = frames.getElementsByTagName("g")
assert len(gs) > 100
for g in gs[:50]:
    assert g.getElementsByTagName("title") and g.getElementsByTagName("rect") and g.getElementsByTagName("text")
PY

# --- html: self-contained, hostile names escaped
grep -Eq '(src|href)=|https?://' "$T/x.html" && fail "html references something external" || ok "html has no external references"
printf 'main (m.py:1);</script><img src=x onerror=alert(1)> 5\nmain (m.py:1);caf\xc3\xa9 \xe2\x80\xa8 3\n' >"$T/evil.txt"
"$P" render --title '<b>x</b>' "$T/evil.txt" >"$T/evil.html"
"$P" render --format svg "$T/evil.txt" >"$T/evil.svg"
[ "$(grep -o '<script' "$T/evil.html" | wc -l)" = 2 ] && ! grep -q '<img\|<b>x' "$T/evil.html" && grep -q $'caf\xc3\xa9' "$T/evil.html" && grep -q '\\u2028' "$T/evil.html" &&
    ok "hostile names escaped in html" || fail "html escaping"
! grep -q '<img' "$T/evil.svg" && grep -q '&lt;/script&gt;&lt;img' "$T/evil.svg" && ok "hostile names escaped in svg" || fail "svg escaping"

# --- size stays small with the default min width
size=$(stat -c %s "$T/x.html")
[ "$size" -lt 3000000 ] && ok "html size $size bytes" || fail "html too big: $size"

# --- diff
head -n 1500 "$T/in.txt" >"$T/before.txt"
expect_rc 0 "diff" "$P" diff -o "$T/d.html" "$T/before.txt" "$T/in.txt"
grep -q '"b":\[' "$T/d.html" && grep -q '"btotal":' "$T/d.html" && ok "diff page carries both profiles" || fail "diff page"
expect_rc 1 "diff of a missing file" "$P" diff "$T/nope" "$T/in.txt"

[ "$fails" = 0 ] && echo "all render CLI checks passed" || { echo "$fails check(s) failed"; exit 1; }
