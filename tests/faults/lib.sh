# lib.sh - fault-injection cases: the integration helpers plus the three
# invariants every case asserts, and a one-line report per case.
#
#   FAULT_ROUNDS   rounds of the fault (make test: 1; make soak: more)
#   FAULT_REPORT   file to append the case's result row to (TSV), if set
. "$PROFD_SOURCE_DIR/tests/integration/lib.sh"
ROUNDS=${FAULT_ROUNDS:-1}
IDS=()

# new_request SERVICE DURATION [HOST]: produce a request, remember its id.
new_request() {
    local id
    id=$(uuid)
    IDS+=("$id")
    produce "$(request "$id" "$@")" "$id"
}

all_finished() {
    local id
    for id in "${IDS[@]}"; do finished "$id" || return 1; done
}

# invariants CASE EXTRA: every request ended (completed, or failed with a
# reason), none is left running, at most one completed event per session.
invariants() {
    local case=$1 extra=${2:-} id st completed=0 failed=0 reasons="" events
    wait_until "${FAULT_WAIT:-120}" all_finished || true
    events=$(consume_all "${PROFD_EVENT_TOPIC:-profiling.events}")
    for id in "${IDS[@]}"; do
        st=$(field "$id" status)
        case $st in
        completed) completed=$((completed + 1)) ;;
        failed)
            failed=$((failed + 1))
            local code
            code=$(field "$id" error_code)
            [ -n "$code" ] || fail "$case: session $id failed without an error code"
            reasons="$reasons $code"
            ;;
        "") fail "$case: request $id was lost (no session)" ;;
        *) fail "$case: session $id is still $st" ;;
        esac
        local n
        n=$(grep "$id" <<<"$events" | grep -c '"session.completed"' || true)
        [ "$n" -le 1 ] || fail "$case: session $id has $n completed events"
    done
    reasons=$(tr ' ' '\n' <<<"$reasons" | sed '/^$/d' | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
    local row
    row=$(printf '%s\t%s\t%s\t%s\t%s\t%s' "$case" "$ROUNDS" "${#IDS[@]}" "$completed" "${reasons:-none}" "$extra")
    note "$row"
    [ -n "${FAULT_REPORT:-}" ] && echo "$row" >>"$FAULT_REPORT"
    echo "1 passed, 0 failed"
}
