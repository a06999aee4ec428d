# skip.sh - how a script test says that it, or a part of it, did not run.
# Source it (it only defines functions):
#
#   . "$(dirname "${BASH_SOURCE[0]}")/../support/skip.sh"
#
# A whole test that cannot run exits 77, which profd_script_test (CMakeLists.txt)
# declares as the test's SKIP_RETURN_CODE: CTest then reports it as "Not Run"
# with the SKIP line in its output, never as "Passed".
#
# Two kinds of missing things:
#   provided  CI has it: scripts/install-deps.sh installs it (redis-server, kcat,
#             curl, python3, python3-yaml, node, docker-compose, yamllint,
#             valgrind, the npm tools in tests/node), the build makes it
#             (kafka_mock, the py-spy stand-in, the cmocka test binaries), or
#             .ci/run's environment has it (../shared, root). Under CI=true its
#             absence is a failure: the line says what was missing, exit 1.
#   optional  nothing in the project provides it (helm, kubeconform, Chromium,
#             Java and the Pub/Sub emulator, extra CPython versions): always a
#             plain skip.
#
#   skip_optional REASON       whole test: "SKIP: REASON", exit 77
#   skip_provided REASON       whole test: exit 77, or under CI=true
#                              "FAIL: ... (CI=true)", exit 1
#   need_cmd CMD [PACKAGE]     skip_provided unless CMD is on PATH
#   skip_part_optional REASON  one part not run, the rest goes on: "SKIP: REASON"
#   skip_part_provided REASON  the same, or under CI=true "FAIL: ...", exit 1

PROFD_SKIP_RC=77

_profd_ci() { [ "${CI:-}" = true ]; }

skip_optional() {
    echo "SKIP: $*"
    exit "$PROFD_SKIP_RC"
}

skip_provided() {
    if _profd_ci; then
        echo "FAIL: missing under CI=true, where it is provided: $*" >&2
        exit 1
    fi
    echo "SKIP: $*"
    exit "$PROFD_SKIP_RC"
}

need_cmd() {
    command -v "$1" >/dev/null 2>&1 ||
        skip_provided "$1 is not installed (apt-get install ${2:-$1}; make deps installs it)"
}

skip_part_optional() {
    echo "SKIP: $*"
}

skip_part_provided() {
    if _profd_ci; then
        echo "FAIL: missing under CI=true, where it is provided: $*" >&2
        exit 1
    fi
    echo "SKIP: $*"
}
