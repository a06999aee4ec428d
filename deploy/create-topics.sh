#!/bin/bash
# Creates profd's three Kafka topics in the compose stack's broker, then exits 0.
# Run by the kafka-init service (apache/kafka image); idempotent (--if-not-exists).
#   profiling.requests      6 partitions: every worker host reads all of them in
#                           its own group; partitions bound how many workers of
#                           one host share the load
#   profiling.events        3 partitions, keyed by session id
#   profiling.requests.dlq  1 partition, rejected requests (kept 14 days)
set -euo pipefail
BOOTSTRAP=${KAFKA_BOOTSTRAP:-kafka:9092}
TOPICS=/opt/kafka/bin/kafka-topics.sh

for _ in $(seq 1 60); do
  "$TOPICS" --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1 && break
  sleep 1
done

create() { # name partitions retention-ms
  "$TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$1" --partitions "$2" --replication-factor 1 \
    --config "retention.ms=$3"
}
create "${PROFD_REQUEST_TOPIC:-profiling.requests}" 6 86400000
create "${PROFD_EVENT_TOPIC:-profiling.events}" 3 604800000
create "${PROFD_DLQ_TOPIC:-profiling.requests.dlq}" 1 1209600000
"$TOPICS" --bootstrap-server "$BOOTSTRAP" --describe
