#!/bin/bash
# Every signingV4Tests case of Google's conformance vectors, reproduced by
# `profd storage sign` character for character (tests/blob/v4_vectors.py).
set -u
shared="${PROFD_SOURCE_DIR:-.}/../shared/testdata/gcs"
vectors="$shared/v4_signatures.json"
key="$shared/test_service_account.not-a-test.json"
. "$(dirname "$0")/../support/skip.sh"
if [ ! -f "$vectors" ] || [ ! -f "$key" ]; then
    skip_provided "$vectors or its key is absent (shared/ beside the clone)"
fi
need_cmd python3
exec python3 "$(dirname "$0")/v4_vectors.py" "$PROFD_BIN" "$vectors" "$key"
