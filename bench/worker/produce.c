/* produce.c - the load side of bench/worker/latency.sh: produce N profiling
 * requests at R per second with librdkafka, each for one of T services, and
 * print "session_id monotonic_seconds wall_seconds" for every message as it is handed to
 * the producer. Pacing uses absolute deadlines so the rate holds. */
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
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "produce: %s\n", errstr);
        return 1;
    }
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
        printf("%s %.6f %.6f\n", id, now(CLOCK_MONOTONIC), now(CLOCK_REALTIME));
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_KEY(id, strlen(id)),
                          RD_KAFKA_V_VALUE(msg, strlen(msg)),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        rd_kafka_poll(rk, 0);
        next.tv_nsec += step_ns;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
    }
    rd_kafka_flush(rk, 10000);
    rd_kafka_destroy(rk);
    return 0;
}
