/* kafka.c - the Kafka transport over librdkafka.
 *
 * Consumer. Each worker reads every request through its own consumer group,
 * "{PROFD_KAFKA_GROUP}.{PROFD_HOST}" (docs/routing.md), so routing is decided by
 * the worker, not by partition assignment. The group uses cooperative-sticky
 * assignment, so a worker joining or leaving never stops the others.
 * Offsets are stored by hand (enable.auto.offset.store=false) when the worker
 * calls done(), and only up to the lowest message still held
 * (kafka_offsets.c); auto-commit then commits what was stored. A crash
 * therefore redelivers, it never skips.
 *
 * Flow control is pause/resume of the assigned partitions: the worker pauses
 * when its capture slots are full and keeps calling poll(), which keeps the
 * consumer inside max.poll.interval.ms however long a capture runs. Partitions
 * assigned while paused are paused as they arrive. librdkafka resumes a
 * partition from the last message it delivered + 1, so pausing loses nothing.
 *
 * Producer. Idempotent (enable.idempotence=true, acks=all), linger 5 ms, every
 * message with its key and headers. Delivery reports are served from
 * publish(), poll() and flush(); failures are counted and logged, and make the
 * next flush() report failure.
 *
 * Nothing on the poll path blocks beyond the poll timeout: storing an offset
 * and pausing are local operations. */
#include "kafka_internal.h"

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/bus.h"
#include "profd/log.h"

#define PING_TIMEOUT_MS 2000
#define CLOSE_FLUSH_MS 10000
#define QUEUE_FULL_WAIT_MS 2000

typedef struct kbus {
    profd_bus base;
    rd_kafka_t *consumer, *producer;
    char group[512];
    pthread_mutex_t pause_mu; /* paused flag + pausing, against the rebalance callback */
    int paused;
    atomic_long failed;       /* delivery failures since the last flush() */
    atomic_long failed_total; /* since open */
    kafka_offsets off;
} kbus;

typedef struct kmsg {
    profd_msg m;
    rd_kafka_message_t *rkm;
} kmsg;

/* ---- configuration ---- */

static rd_kafka_conf_t *base_conf(const profd_config *cfg, kafka_role role, const char *client_id,
                                  profd_error *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bus__kafka_log_setup(conf);
    if (bus__kafka_conf_set(conf, "bootstrap.servers", cfg->kafka_brokers, err) != 0 ||
        bus__kafka_conf_set(conf, "client.id", client_id, err) != 0 ||
        bus__kafka_conf_set(conf, "log.connection.close", "false", err) != 0)
        goto fail;
    if (role == KAFKA_CONSUMER &&
        (bus__kafka_conf_set(conf, "partition.assignment.strategy", "cooperative-sticky", err) !=
             0 ||
         bus__kafka_conf_set(conf, "auto.offset.reset", "earliest", err) != 0 ||
         bus__kafka_conf_set(conf, "enable.auto.commit", "true", err) != 0))
        goto fail;
    if (role == KAFKA_PRODUCER && bus__kafka_conf_set(conf, "linger.ms", "5", err) != 0)
        goto fail;
    if (bus__kafka_conf_file(conf, cfg->kafka_config, role, err) != 0)
        goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Settings the file may not override: they are what makes the contract hold. */
static int fixed_conf(rd_kafka_conf_t *conf, kafka_role role, const char *group, profd_error *err)
{
    if (role == KAFKA_CONSUMER)
        return bus__kafka_conf_set(conf, "group.id", group, err) ||
                       bus__kafka_conf_set(conf, "enable.auto.offset.store", "false", err)
                   ? -1
                   : 0;
    return bus__kafka_conf_set(conf, "enable.idempotence", "true", err) ||
                   bus__kafka_conf_set(conf, "acks", "all", err)
               ? -1
               : 0;
}

/* ---- consumer ---- */

static void assign(kbus *k, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, int coop)
{
    for (int i = 0; i < parts->cnt; i++)
        bus__kafka_offsets_forget(&k->off, parts->elems[i].partition);
    pthread_mutex_lock(&k->pause_mu);
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t r = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (coop)
        e = rd_kafka_incremental_assign(rk, parts);
    else
        r = rd_kafka_assign(rk, parts);
    if (k->paused)
        rd_kafka_pause_partitions(rk, parts);
    int paused = k->paused;
    pthread_mutex_unlock(&k->pause_mu);
    if (e || r)
        LOG_E(NULL, "kafka.assign", "assigning %d partitions failed: %s", parts->cnt,
              e ? rd_kafka_error_string(e) : rd_kafka_err2str(r));
    else
        LOG_I(NULL, "kafka.assigned", "group %s: %d partitions assigned%s", k->group, parts->cnt,
              paused ? " (paused)" : "");
    if (e)
        rd_kafka_error_destroy(e);
}

static void revoke(kbus *k, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, int coop)
{
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t r = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (coop)
        e = rd_kafka_incremental_unassign(rk, parts);
    else
        r = rd_kafka_assign(rk, NULL);
    for (int i = 0; i < parts->cnt; i++)
        bus__kafka_offsets_forget(&k->off, parts->elems[i].partition);
    if (e || r)
        LOG_E(NULL, "kafka.revoke", "revoking %d partitions failed: %s", parts->cnt,
              e ? rd_kafka_error_string(e) : rd_kafka_err2str(r));
    else
        LOG_I(NULL, "kafka.revoked", "group %s: %d partitions revoked", k->group, parts->cnt);
    if (e)
        rd_kafka_error_destroy(e);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kbus *k = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        assign(k, rk, parts, coop);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        revoke(k, rk, parts, coop);
    } else {
        LOG_E(NULL, "kafka.rebalance", "rebalance failed: %s", rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
    }
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque);

/* A consumer (in k->group) or a producer, with the shared and role settings. */
static rd_kafka_t *new_client(kbus *k, const profd_config *cfg, kafka_role role, profd_error *err)
{
    const char *what = role == KAFKA_CONSUMER ? "consumer" : "producer";
    char cid[400];
    snprintf(cid, sizeof cid, "profd-%s", cfg->host);
    rd_kafka_conf_t *conf = base_conf(cfg, role, cid, err);
    if (!conf || fixed_conf(conf, role, role == KAFKA_CONSUMER ? k->group : NULL, err) != 0) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_opaque(conf, k);
    if (role == KAFKA_CONSUMER)
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    else
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(role == KAFKA_CONSUMER ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER,
                                  conf, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        profd_error_set(err, NULL, "cannot create the Kafka %s: %s", what, why);
    }
    return rk;
}

static int open_consumer(kbus *k, const profd_config *cfg, profd_error *err)
{
    snprintf(k->group, sizeof k->group, "%s.%s", cfg->kafka_group, cfg->host);
    if (!(k->consumer = new_client(k, cfg, KAFKA_CONSUMER, err)))
        return -1;
    rd_kafka_poll_set_consumer(k->consumer);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, cfg->request_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t r = rd_kafka_subscribe(k->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (r) {
        profd_error_set(err, NULL, "cannot subscribe to Kafka topic %s: %s", cfg->request_topic,
                        rd_kafka_err2str(r));
        return -1;
    }
    return 0;
}

static int k_poll(profd_bus *b, int timeout_ms, profd_msg **out, profd_error *err)
{
    kbus *k = (kbus *)b;
    *out = NULL;
    if (k->producer)
        rd_kafka_poll(k->producer, 0);
    if (!k->consumer) {
        profd_error_set(err, NULL, "this Kafka bus was opened without the consume role");
        return -1;
    }
    char why[256];
    if (rd_kafka_fatal_error(k->consumer, why, sizeof why)) {
        profd_error_set(err, NULL, "the Kafka consumer hit a fatal error: %s; restart profd", why);
        return -1;
    }
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(k->consumer, timeout_ms);
    if (!rkm)
        return 0;
    if (rkm->err) {
        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            bus__kafka_log_limited(PROFD_LOG_WARN, "kafka.consume", "consuming %s: %s (retrying)",
                                   b->cfg->request_topic, rd_kafka_message_errstr(rkm));
        rd_kafka_message_destroy(rkm);
        return 0;
    }
    kmsg *km = calloc(1, sizeof *km);
    if (!km) {
        rd_kafka_message_destroy(rkm);
        profd_error_set(err, NULL, "out of memory while receiving a message");
        return -1;
    }
    km->rkm = rkm;
    km->m.data = rkm->payload ? rkm->payload : "";
    km->m.len = rkm->len;
    km->m.topic = rd_kafka_topic_name(rkm->rkt);
    km->m.partition = rkm->partition;
    km->m.offset = rkm->offset;
    km->m.timestamp_ms = rd_kafka_message_timestamp(rkm, NULL);
    snprintf(km->m.id, sizeof km->m.id, "%s/%d/%lld", km->m.topic, (int)rkm->partition,
             (long long)rkm->offset);
    if (rkm->key && rkm->key_len < sizeof km->m.key && !memchr(rkm->key, 0, rkm->key_len)) {
        memcpy(km->m.key, rkm->key, rkm->key_len);
        km->m.key[rkm->key_len] = '\0';
        km->m.has_key = true;
    }
    km->m.handle = rkm;
    bus__kafka_offsets_delivered(&k->off, rkm->partition, rkm->offset);
    *out = &km->m;
    return 0;
}

static void store(kbus *k, rd_kafka_message_t *rkm, int64_t pos)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(rkm->rkt), rkm->partition)->offset =
        pos;
    rd_kafka_resp_err_t r = rd_kafka_offsets_store(k->consumer, l);
    if (!r)
        r = l->elems[0].err;
    if (r) /* typically: the partition was revoked meanwhile; its new owner redelivers */
        LOG_D(NULL, "kafka.store", "storing offset %lld of %s/%d: %s", (long long)pos,
              rd_kafka_topic_name(rkm->rkt), (int)rkm->partition, rd_kafka_err2str(r));
    rd_kafka_topic_partition_list_destroy(l);
}

static void k_done(profd_bus *b, profd_msg *m, profd_disposition d)
{
    kbus *k = (kbus *)b;
    if (!m)
        return;
    kmsg *km = (kmsg *)m;
    rd_kafka_message_t *rkm = km->rkm;
    int64_t pos = bus__kafka_offsets_done(&k->off, rkm->partition, rkm->offset, d == PROFD_RELEASE);
    if (pos >= 0)
        store(k, rkm, pos);
    rd_kafka_message_destroy(rkm);
    free(km);
}

static int k_extend(profd_bus *b, profd_msg *m, int seconds)
{
    (void)b, (void)m, (void)seconds;
    return 0; /* Kafka has no per-message deadline; poll() keeps the member alive */
}

static void pause_resume(kbus *k, int pause)
{
    if (!k->consumer)
        return;
    pthread_mutex_lock(&k->pause_mu);
    k->paused = pause;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(k->consumer, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
        if (pause)
            rd_kafka_pause_partitions(k->consumer, parts);
        else
            rd_kafka_resume_partitions(k->consumer, parts);
    }
    pthread_mutex_unlock(&k->pause_mu);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
}

static void k_pause(profd_bus *b)
{
    pause_resume((kbus *)b, 1);
}

static void k_resume(profd_bus *b)
{
    pause_resume((kbus *)b, 0);
}

/* ---- producer ---- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    kbus *owner = opaque;
    if (!rkm->err)
        return;
    atomic_fetch_add(&owner->failed, 1);
    atomic_fetch_add(&owner->failed_total, 1);
    bus__kafka_log_limited(PROFD_LOG_ERROR, "kafka.delivery", "message to %s not delivered: %s",
                           rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
}

static const char *topic_name(const profd_config *cfg, profd_topic t)
{
    switch (t) {
    case PROFD_TOPIC_REQUESTS:
        return cfg->request_topic;
    case PROFD_TOPIC_EVENTS:
        return cfg->event_topic;
    case PROFD_TOPIC_DLQ:
        return cfg->dlq_topic;
    }
    return NULL;
}

static rd_kafka_resp_err_t produce(kbus *k, const char *topic, const char *key, const char *data,
                                   size_t len, const profd_header *hdrs, size_t nhdrs)
{
    rd_kafka_headers_t *h = rd_kafka_headers_new(nhdrs);
    for (size_t i = 0; i < nhdrs; i++)
        rd_kafka_header_add(h, hdrs[i].name, -1, hdrs[i].value, hdrs[i].value ? -1 : 0);
    rd_kafka_resp_err_t r = rd_kafka_producev(
        k->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_VALUE((void *)data, len),
        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
    if (r)
        rd_kafka_headers_destroy(h); /* ownership passes to librdkafka only on success */
    return r;
}

static int k_publish(profd_bus *b, profd_topic t, const char *key, const char *data, size_t len,
                     const profd_header *hdrs, size_t nhdrs, profd_error *err)
{
    kbus *k = (kbus *)b;
    const char *topic = topic_name(b->cfg, t);
    if (!k->producer || !topic) {
        profd_error_set(err, NULL, "this Kafka bus was opened without the produce role");
        return -1;
    }
    int64_t give_up = profd_mono_ms() + QUEUE_FULL_WAIT_MS;
    rd_kafka_resp_err_t r;
    while ((r = produce(k, topic, key, data, len, hdrs, nhdrs)) == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
           profd_mono_ms() < give_up)
        rd_kafka_poll(k->producer, 100);
    rd_kafka_poll(k->producer, 0);
    if (r) {
        profd_error_set(err, NULL, "cannot publish to Kafka topic %s: %s%s", topic,
                        rd_kafka_err2str(r),
                        r == RD_KAFKA_RESP_ERR__QUEUE_FULL ? " (are the brokers reachable?)" : "");
        return -1;
    }
    return 0;
}

static int k_flush(profd_bus *b, int timeout_ms)
{
    kbus *k = (kbus *)b;
    if (!k->producer)
        return 0;
    rd_kafka_resp_err_t r = rd_kafka_flush(k->producer, timeout_ms);
    long failed = atomic_exchange(&k->failed, 0);
    if (r)
        LOG_W(NULL, "kafka.flush", "%d messages still unsent after %d ms",
              rd_kafka_outq_len(k->producer), timeout_ms);
    return r || failed ? -1 : 0;
}

/* ---- both ---- */

static int k_ping(profd_bus *b, profd_error *err)
{
    kbus *k = (kbus *)b;
    rd_kafka_t *rk = k->consumer ? k->consumer : k->producer;
    if (!rk) {
        profd_error_set(err, NULL, "this Kafka bus was opened with no role");
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t r = rd_kafka_metadata(rk, 0, NULL, &md, PING_TIMEOUT_MS);
    if (r) {
        profd_error_set(err, NULL, "Kafka at %s did not answer within %d ms: %s",
                        b->cfg->kafka_brokers, PING_TIMEOUT_MS, rd_kafka_err2str(r));
        return -1;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

static void k_close(profd_bus *b)
{
    kbus *k = (kbus *)b;
    if (k->consumer) {
        rd_kafka_resp_err_t r = rd_kafka_consumer_close(k->consumer);
        if (r)
            LOG_W(NULL, "kafka.close", "closing the consumer: %s", rd_kafka_err2str(r));
        rd_kafka_destroy(k->consumer);
    }
    if (k->producer) {
        if (rd_kafka_flush(k->producer, CLOSE_FLUSH_MS))
            LOG_E(NULL, "kafka.close", "%d messages were never delivered",
                  rd_kafka_outq_len(k->producer));
        rd_kafka_destroy(k->producer);
    }
    bus__kafka_offsets_free(&k->off);
    pthread_mutex_destroy(&k->pause_mu);
    free(k);
}

static const profd_bus_ops kafka_ops = {k_poll,    k_done,  k_extend, k_pause, k_resume,
                                        k_publish, k_flush, k_ping,   k_close};

profd_bus *profd_bus_kafka_open(const profd_config *cfg, int roles, profd_error *err)
{
    kbus *k = calloc(1, sizeof *k);
    if (!k) {
        profd_error_set(err, NULL, "out of memory while opening the Kafka bus");
        return NULL;
    }
    k->base.ops = &kafka_ops;
    k->base.cfg = cfg;
    pthread_mutex_init(&k->pause_mu, NULL);
    bus__kafka_offsets_init(&k->off);
    if (((roles & PROFD_BUS_CONSUME) && open_consumer(k, cfg, err) != 0) ||
        ((roles & PROFD_BUS_PRODUCE) && !(k->producer = new_client(k, cfg, KAFKA_PRODUCER, err)))) {
        if (k->consumer)
            rd_kafka_destroy(k->consumer);
        if (k->producer)
            rd_kafka_destroy(k->producer);
        bus__kafka_offsets_free(&k->off);
        pthread_mutex_destroy(&k->pause_mu);
        free(k);
        return NULL;
    }
    return &k->base;
}
