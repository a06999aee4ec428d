# SIGTERM: a capture that ends within PROFD_SHUTDOWN_GRACE completes; one that
# would not is stopped and recorded as failed (shutdown); the worker exits 0.
. "$(dirname "$0")/lib.sh"
setup_services
start_target short; PID_S=$TARGET_PID; start_target long; PID_L=$TARGET_PID
start_worker w1 PROFD_HOST=node-1 PROFD_SHUTDOWN_GRACE=3
ids=$(uuid); idl=$(uuid)
produce "$(request "$ids" short 2)" "$ids"
produce "$(request "$idl" long 30)" "$idl"
wait_until 30 status_is "$ids" running || fail "short never ran"
wait_until 30 status_is "$idl" running || fail "long never ran"
kill -TERM "$WORKER_w1"
rc=0; wait "$WORKER_w1" || rc=$?
[ $rc -eq 0 ] || fail "worker exited $rc"
[ "$(field "$ids" status)" = completed ] || fail "short is $(field "$ids" status)"
[ "$(field "$idl" status)" = failed ] || fail "long is $(field "$idl" status)"
[ "$(field "$idl" error_code)" = shutdown ] || fail "long failed with $(field "$idl" error_code)"
pgrep -f -- "--pid ($PID_S|$PID_L) " >/dev/null && fail "a sampler outlived the worker"
note "short capture finished inside the grace; long one failed with shutdown"
echo "1 passed, 0 failed"
