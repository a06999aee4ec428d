#!/bin/bash
# Every signingV4Tests case of Google's conformance vectors, reproduced by
# `profd storage sign` character for character (tests/blob/v4_vectors.py).
set -u
shared="${PROFD_SOURCE_DIR:-.}/../shared/testdata/gcs"
vectors="$shared/v4_signatures.json"
key="$shared/test_service_account.not-a-test.json"
if [ ! -f "$vectors" ] || [ ! -f "$key" ]; then
    echo "SKIP: $vectors or its key is absent"
    exit 0
fi
if ! command -v python3 >/dev/null; then
    echo "SKIP: python3 not found"
    exit 0
fi
exec python3 "$(dirname "$0")/v4_vectors.py" "$PROFD_BIN" "$vectors" "$key"
