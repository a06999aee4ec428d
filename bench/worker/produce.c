/* produce.c - the load side of bench/worker/latency.sh: produce N profiling
 * requests at R per second with librdkafka, each for one of T services, and
 * print "session_id monotonic_seconds wall_seconds" for every message as it is handed to
 * the producer. Pacing uses absolute deadlines so the rate holds.
 *
 * Before the clock starts, one message is delivered to a side topic and the
 * requests topic's metadata is fetched: the producer's own start-up (the
 * connection to the partition leader, which librdkafka opens only once it has
 * something to send, and the topic's leaders) held the first messages for up
 * to a second, and is not the worker's latency. The mock cluster has a single
 * broker, so the side topic warms the very connection the requests use. On
 * stderr: the slowest broker acknowledgement, to tell a slow producer from a
 * slow worker. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profd/util.h"

static double now(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double slowest_ack;
static int failed;

/* Each request carries its hand-over time (a heap double) as its opaque. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        failed++;
    if (m->_private) {
        double took = now(CLOCK_MONOTONIC) - *(double *)m->_private;
        if (took > slowest_ack)
            slowest_ack = took;
        free(m->_private);
    }
}

static int warm_up(rd_kafka_t *rk, const char *requests)
{
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("bench.warmup"), RD_KAFKA_V_VALUE("warm-up", 7),
                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (rd_kafka_flush(rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || failed) {
        fprintf(stderr, "produce: the warm-up message was not delivered\n");
        return -1;
    }
    rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, requests, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, topic, &md, 10000);
    rd_kafka_topic_destroy(topic);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "produce: no metadata for %s: %s\n", requests, rd_kafka_err2str(e));
        return -1;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: produce BROKERS TOPIC COUNT RATE SERVICES\n");
        return 2;
    }
    int count = atoi(argv[3]), rate = atoi(argv[4]), services = atoi(argv[5]);
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "linger.ms", "0", errstr, sizeof errstr)) {
        fprintf(stderr, "produce: %s\n", errstr);
        return 1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "produce: %s\n", errstr);
        return 1;
    }
    if (warm_up(rk, argv[2]) != 0)
        return 1;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long step_ns = 1000000000L / rate;
    for (int i = 0; i < count; i++) {
        char id[PROFD_UUID_LEN + 1], msg[512];
        profd_uuid4(id);
        snprintf(msg, sizeof msg,
                 "{\"session_id\":\"%s\",\"service_name\":\"bench-%d\",\"duration_seconds\":1,"
                 "\"trigger\":\"cli\"}",
                 id, i % services);
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        double *handed = malloc(sizeof *handed);
        *handed = now(CLOCK_MONOTONIC);
        printf("%s %.6f %.6f\n", id, *handed, now(CLOCK_REALTIME));
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_KEY(id, strlen(id)),
                          RD_KAFKA_V_VALUE(msg, strlen(msg)),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(handed),
                          RD_KAFKA_V_END);
        rd_kafka_poll(rk, 0);
        next.tv_nsec += step_ns;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
    }
    rd_kafka_flush(rk, 10000);
    fprintf(stderr, "slowest broker acknowledgement %.2f ms, %d not delivered\n",
            slowest_ack * 1000, failed);
    rd_kafka_destroy(rk);
    return 0;
}
