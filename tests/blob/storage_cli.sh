#!/bin/bash
# `profd storage put/get/sign` against tests/blob/gcs_server.py: small
# (multipart) and large (resumable, with a 503 injected mid-way) round
# trips, no-clobber, usage errors, and a signed URL for an emulator host.
set -u
. "$(dirname "$0")/../support/skip.sh"
need_cmd python3
need_cmd curl
dir=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

python3 "$PROFD_SOURCE_DIR/tests/blob/gcs_server.py" >"$dir/port" &
server=$!
for _ in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
port=$(cat "$dir/port")
[ -n "$port" ] || fail "gcs_server.py did not start"
export STORAGE_EMULATOR_HOST="127.0.0.1:$port" PROFD_LOG_LEVEL=warn
ctl() { curl -sf -X POST "http://127.0.0.1:$port/_control/$1" -d "$2" >/dev/null || fail "control $1"; }

printf 'hello profd\n' >"$dir/small"
# Past the 8 MiB resumable threshold: an 8 MiB chunk, then a 1 MiB one (docs/storage.md).
head -c 9437184 /dev/urandom >"$dir/big"
out=$("$PROFD_BIN" storage put "$dir/small" gs://bkt/a/small.txt) || fail "put small"
[[ "$out" == "gs://bkt/a/small.txt generation "* ]] || fail "put output: $out"
"$PROFD_BIN" storage get gs://bkt/a/small.txt "$dir/small.out" || fail "get small"
cmp -s "$dir/small" "$dir/small.out" || fail "small round trip differs"

ctl faults '{"faults": [{"kind": "slow", "match": "chunk", "delay": 0}, {"kind": "503", "match": "chunk"}]}'
"$PROFD_BIN" storage put "$dir/big" gs://bkt/a/big.bin >/dev/null || fail "put big"
"$PROFD_BIN" storage get gs://bkt/a/big.bin "$dir/big.out" || fail "get big"
cmp -s "$dir/big" "$dir/big.out" || fail "big round trip differs"
stats=$(curl -sf "http://127.0.0.1:$port/_control/stats")
grep -q '"kind": "status"' <<<"$stats" || fail "no status query after the injected 503"

# Overwrite replaces by generation; --no-clobber refuses different bytes.
"$PROFD_BIN" storage put "$dir/big" gs://bkt/a/small.txt >/dev/null || fail "overwrite"
if "$PROFD_BIN" storage put --no-clobber "$dir/small" gs://bkt/a/small.txt 2>"$dir/err"; then
    fail "--no-clobber replaced an object"
fi
grep -q "already exists" "$dir/err" || fail "no-clobber message: $(cat "$dir/err")"

# Errors: one line, exit 1 for failures and 2 for usage.
"$PROFD_BIN" storage get gs://bkt/none "$dir/x" 2>"$dir/err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$dir/err")" -eq 1 ] && grep -q "not found" "$dir/err" || fail "missing object: rc=$rc $(cat "$dir/err")"
"$PROFD_BIN" storage put "$dir/small" s3://bkt/x 2>/dev/null; [ $? -eq 1 ] || fail "s3:// accepted"
"$PROFD_BIN" storage put "$dir/small" gs://bkt/../etc 2>/dev/null; [ $? -eq 1 ] || fail "'..' accepted"
"$PROFD_BIN" storage sign --bucket b --expires 10 2>/dev/null; [ $? -eq 2 ] || fail "sign without --method"
"$PROFD_BIN" storage frob 2>/dev/null; [ $? -eq 2 ] || fail "unknown subcommand"

key="$PROFD_SOURCE_DIR/../shared/testdata/gcs/test_service_account.not-a-test.json"
if [ -f "$key" ]; then
    url=$("$PROFD_BIN" storage sign --key "$key" --method GET --bucket bkt --object a/small.txt \
        --expires 60 --emulator-host "http://127.0.0.1:$port") || fail "sign"
    [[ "$url" == "http://127.0.0.1:$port/bkt/a/small.txt?X-Goog-Algorithm=GOOG4-RSA-SHA256&"* ]] || fail "sign url: $url"
fi
echo "storage CLI: ok"
