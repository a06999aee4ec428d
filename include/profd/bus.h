/* bus.h - the message bus: consume requests, publish events and rejects.
 *
 * Transports (kafka, pubsub, memory) sit behind one small vtable. The worker
 * owns the message from poll() until it calls done(): with Kafka, done(ACK)
 * stores the offset (auto-commit then commits it), which the worker does only
 * after the session is durably recorded; with Pub/Sub it acks. NACK hands the
 * message to another worker (Pub/Sub deadline 0; Kafka simply moves on, since
 * every worker reads every request through its own group). A held message is
 * kept alive with extend() while the worker retries a transient failure. */
#ifndef PROFD_BUS_H
#define PROFD_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

typedef enum { PROFD_TOPIC_REQUESTS, PROFD_TOPIC_EVENTS, PROFD_TOPIC_DLQ } profd_topic;
/* ACK: processed (Kafka stores the offset, Pub/Sub acks). NACK: not for this
 * worker (Kafka stores the offset too, Pub/Sub sets the deadline to 0, memory
 * requeues). RELEASE: forget it unprocessed (Kafka stores nothing, so it is
 * redelivered after a restart; Pub/Sub lets the deadline lapse; memory requeues). */
typedef enum { PROFD_ACK, PROFD_NACK, PROFD_RELEASE } profd_disposition;

enum { PROFD_BUS_CONSUME = 1, PROFD_BUS_PRODUCE = 2 };

typedef struct profd_header {
    const char *name;
    const char *value;
} profd_header;

typedef struct profd_msg {
    const char *data;
    size_t len;
    const char *topic; /* topic or subscription name */
    int partition;     /* -1 when the transport has none */
    int64_t offset;    /* -1 when the transport has none */
    int64_t timestamp_ms;
    char id[128]; /* stable id of the delivery: "topic/partition/offset" or Pub/Sub messageId */
    /* The message key as sent (Kafka key; memory key; Pub/Sub attribute
     * session_id), so a DLQ copy can keep it. has_key false: no key, or one
     * that is not text of at most 255 bytes without NUL. */
    char key[256];
    bool has_key;
    void *handle; /* transport-private */
} profd_msg;

typedef struct profd_bus profd_bus;

typedef struct profd_bus_ops {
    /* Wait up to timeout_ms; *out is NULL when nothing arrived. 0 ok, -1 error. */
    int (*poll)(profd_bus *b, int timeout_ms, profd_msg **out, profd_error *err);
    void (*done)(profd_bus *b, profd_msg *m, profd_disposition d);
    int (*extend)(profd_bus *b, profd_msg *m, int seconds);
    void (*pause)(profd_bus *b); /* stop delivering; held/in-flight messages stay valid */
    void (*resume)(profd_bus *b);
    int (*publish)(profd_bus *b, profd_topic t, const char *key, const char *data, size_t len,
                   const profd_header *hdrs, size_t nhdrs, profd_error *err);
    int (*flush)(profd_bus *b, int timeout_ms);  /* wait for published messages; 0 all sent */
    int (*ping)(profd_bus *b, profd_error *err); /* readiness */
    void (*close)(profd_bus *b);
} profd_bus_ops;

struct profd_bus {
    const profd_bus_ops *ops;
    const profd_config *cfg;
};

/* roles: PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE. Chooses the transport from cfg->bus. */
profd_bus *profd_bus_open(const profd_config *cfg, int roles, profd_error *err);

profd_bus *profd_bus_kafka_open(const profd_config *cfg, int roles, profd_error *err);
profd_bus *profd_bus_memory_open(const profd_config *cfg, int roles, profd_error *err);
profd_bus *profd_bus_pubsub_open(const profd_config *cfg, int roles, profd_error *err);

/* Memory transport, for tests and `profd serve`: every memory bus in one
 * process shares one set of queues. These read what was published. */
int profd_bus_memory_count(profd_topic t);
/* Copy of the i-th message published on t (malloc'd), NULL past the end. */
char *profd_bus_memory_get(profd_topic t, int i);
/* Key, or value of the first header called name, of the i-th message published
 * on t (malloc'd); NULL when absent. */
char *profd_bus_memory_key(profd_topic t, int i);
char *profd_bus_memory_header(profd_topic t, int i, const char *name);
/* Requests published (or NACKed) and not yet taken by a poll. */
int profd_bus_memory_pending(void);
/* Forget every published and pending message (held messages stay valid; a
 * NACK or RELEASE of one taken before the reset drops it). */
void profd_bus_memory_reset(void);

#endif
