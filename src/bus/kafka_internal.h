/* kafka_internal.h - pieces of the Kafka transport shared by its files:
 * configuration (kafka_conf.c), logging (kafka_log.c) and in-order offset
 * tracking (kafka_offsets.c). Not part of the public interface. */
#ifndef PROFD_BUS_KAFKA_INTERNAL_H
#define PROFD_BUS_KAFKA_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdint.h>

#include "profd/config.h"
#include "profd/util.h"

typedef enum { KAFKA_CONSUMER, KAFKA_PRODUCER } kafka_role;

/* Set one property; on failure a one-line error naming it. 0 ok, -1 error. */
int bus__kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                        profd_error *err);

/* Apply PROFD_KAFKA_CONFIG (path may be empty) to a client of the given role:
 * "key=value" lines, '#' comments and blank lines; "consumer.key=value" and
 * "producer.key=value" apply to one client only. Errors name file:line. */
int bus__kafka_conf_file(rd_kafka_conf_t *conf, const char *path, kafka_role role,
                         profd_error *err);

/* Route librdkafka's logs and error events through profd_log, with repeats of
 * the same text rate-limited. */
void bus__kafka_log_setup(rd_kafka_conf_t *conf);
/* Rate-limited warning for transport errors seen by the poll loop. */
void bus__kafka_log_limited(int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Which offset of each partition may be stored: never past a message that is
 * still held or was released, so a crash can only redeliver, never skip. */
typedef struct kafka_part kafka_part;
typedef struct kafka_offsets {
    pthread_mutex_t mu;
    kafka_part *p;
    int n, cap;
} kafka_offsets;

void bus__kafka_offsets_init(kafka_offsets *o);
void bus__kafka_offsets_free(kafka_offsets *o);
/* A message was handed to the application. */
void bus__kafka_offsets_delivered(kafka_offsets *o, int32_t partition, int64_t offset);
/* The application is done with it (release: processed nothing, keep the
 * position at or below it). Returns the offset to store now, or -1. */
int64_t bus__kafka_offsets_done(kafka_offsets *o, int32_t partition, int64_t offset, int release);
/* The partition was (re)assigned or revoked: forget what we knew. */
void bus__kafka_offsets_forget(kafka_offsets *o, int32_t partition);

#endif
