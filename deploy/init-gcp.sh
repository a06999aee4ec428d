#!/bin/sh
# Prepares the compose stack's Google Cloud emulators, then exits 0:
#   * the bucket GCS_BUCKET in fake-gcs-server (GCS JSON API);
#   * on the Pub/Sub emulator: the request topic, the dead-letter topic, the
#     event topic, the workers' shared subscription with a dead-letter policy
#     (falls back to a plain subscription if the emulator refuses it), and a
#     subscription that holds dead letters.
# Run by the gcp-init service (curlimages/curl, POSIX sh); idempotent: 409
# "already exists" counts as success.
#   init-gcp.sh [gcs] [pubsub]     (no argument: both)
set -eu
GCS=${GCS_URL:-http://gcs:4443}
PUBSUB=${PUBSUB_URL:-http://pubsub:8085}
PROJECT=${GOOGLE_CLOUD_PROJECT:-profd-dev}
BUCKET=${GCS_BUCKET:-profd}
# profd's own defaults (profd help env): with PROFD_BUS=pubsub the request and
# DLQ topics are PROFD_REQUEST_TOPIC and PROFD_DLQ_TOPIC.
REQUESTS=${PROFD_REQUEST_TOPIC:-profiling.requests}
DLQ=${PROFD_DLQ_TOPIC:-profiling.requests.dlq}
SUB=${PROFD_PUBSUB_SUBSCRIPTION:-profiling-requests-workers}
EVENTS=${PROFD_PUBSUB_EVENT_TOPIC:-profiling-events}
P=projects/$PROJECT

wait_for() { # url
  i=0
  until curl -s -o /dev/null "$1"; do
    i=$((i + 1))
    [ "$i" -lt 60 ] || { echo "init-gcp: $1 did not answer within 60 s" >&2; exit 1; }
    sleep 1
  done
}

# call METHOD URL [BODY]: succeeds on 2xx and 409 (exists)
call() {
  code=$(curl -s -o /tmp/out -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "$2")
  case "$code" in
    2??|409) echo "init-gcp: $1 $2 -> $code" ;;
    *) echo "init-gcp: $1 $2 -> $code: $(cat /tmp/out)" >&2; return 1 ;;
  esac
}

gcs() {
  wait_for "$GCS/storage/v1/b"
  call POST "$GCS/storage/v1/b?project=$PROJECT" "{\"name\": \"$BUCKET\"}"
}

pubsub() {
  wait_for "$PUBSUB/v1/$P/topics"
  call PUT "$PUBSUB/v1/$P/topics/$REQUESTS"
  call PUT "$PUBSUB/v1/$P/topics/$DLQ"
  call PUT "$PUBSUB/v1/$P/topics/$EVENTS"
  # A subscription nobody reads keeps dead letters for inspection (a topic
  # without subscriptions drops what is published to it).
  call PUT "$PUBSUB/v1/$P/subscriptions/$SUB-dlq-hold" "{\"topic\": \"$P/topics/$DLQ\"}"
  # Pub/Sub's own dead-lettering moves a request that was nacked 10 times to
  # the same topic profd publishes rejected requests to.
  call PUT "$PUBSUB/v1/$P/subscriptions/$SUB" \
    "{\"topic\": \"$P/topics/$REQUESTS\", \"ackDeadlineSeconds\": 60,
      \"deadLetterPolicy\": {\"deadLetterTopic\": \"$P/topics/$DLQ\", \"maxDeliveryAttempts\": 10}}" ||
    call PUT "$PUBSUB/v1/$P/subscriptions/$SUB" \
      "{\"topic\": \"$P/topics/$REQUESTS\", \"ackDeadlineSeconds\": 60}"
}

[ $# -gt 0 ] || set -- gcs pubsub
for step in "$@"; do
  case "$step" in
    gcs) gcs ;;
    pubsub) pubsub ;;
    *) echo "init-gcp: unknown step '$step' (use gcs, pubsub)" >&2; exit 2 ;;
  esac
done
echo "init-gcp: done"
