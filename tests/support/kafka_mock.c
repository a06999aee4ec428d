/* kafka_mock.c - a Kafka cluster for tests, from librdkafka's mock cluster.
 *
 * librdkafka ships an in-process Kafka broker implementation (rdkafka_mock.h)
 * that speaks the real protocol over TCP, so profd, kcat and any other client
 * can talk to it. This program owns one: it creates the brokers and topics,
 * prints one line "BOOTSTRAP=host:port,..." on stdout, and then waits.
 *
 *   kafka_mock [--brokers N] [--topic NAME:PARTITIONS]... [--stdin-control]
 *
 * Without --topic it creates profiling.requests:3, profiling.events:1 and
 * profiling.requests.dlq:1. With --stdin-control it reads commands, one a
 * line, and answers each with "ok" or "error: ...":
 *   down BROKERID | up BROKERID | rtt BROKERID MS | quit
 * and exits at end of input; without it, stdin is ignored (so </dev/null is
 * fine). SIGTERM, SIGINT and SIGHUP always end it cleanly, and so does the
 * death of its parent, so a crashed test never leaves a cluster behind. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define MAX_TOPICS 32

typedef struct topic {
    char name[256];
    int partitions;
} topic;

typedef struct options {
    int brokers;
    int stdin_control;
    int ntopics;
    topic topics[MAX_TOPICS];
} options;

static void usage(void)
{
    fprintf(stderr, "usage: kafka_mock [--brokers N] [--topic NAME:PARTITIONS]... "
                    "[--stdin-control]\n");
    exit(2);
}

static void add_topic(options *o, const char *name, int partitions)
{
    if (o->ntopics == MAX_TOPICS) {
        fprintf(stderr, "kafka_mock: at most %d topics\n", MAX_TOPICS);
        exit(2);
    }
    topic *t = &o->topics[o->ntopics++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->partitions = partitions;
}

static void parse_topic(options *o, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    char name[256];
    int n = colon ? atoi(colon + 1) : 0;
    if (!colon || colon == arg || n < 1 || (size_t)(colon - arg) >= sizeof name) {
        fprintf(stderr, "kafka_mock: --topic wants NAME:PARTITIONS, not '%s'\n", arg);
        exit(2);
    }
    memcpy(name, arg, (size_t)(colon - arg));
    name[colon - arg] = '\0';
    add_topic(o, name, n);
}

static void parse(options *o, int argc, char **argv)
{
    o->brokers = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
            o->brokers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc)
            parse_topic(o, argv[++i]);
        else if (strcmp(argv[i], "--stdin-control") == 0)
            o->stdin_control = 1;
        else
            usage();
    }
    if (o->brokers < 1 || o->brokers > 16) {
        fprintf(stderr, "kafka_mock: --brokers must be 1 to 16\n");
        exit(2);
    }
    if (o->ntopics == 0) {
        add_topic(o, "profiling.requests", 3);
        add_topic(o, "profiling.events", 1);
        add_topic(o, "profiling.requests.dlq", 1);
    }
}

/* Runs one command line; returns 1 on "quit". */
static int command(rd_kafka_mock_cluster_t *mc, char *line)
{
    char verb[16] = "";
    int id = 0, ms = 0;
    int n = sscanf(line, "%15s %d %d", verb, &id, &ms);
    rd_kafka_resp_err_t r = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (n >= 1 && strcmp(verb, "quit") == 0)
        return 1;
    if (n == 2 && strcmp(verb, "down") == 0)
        r = rd_kafka_mock_broker_set_down(mc, id);
    else if (n == 2 && strcmp(verb, "up") == 0)
        r = rd_kafka_mock_broker_set_up(mc, id);
    else if (n == 3 && strcmp(verb, "rtt") == 0)
        r = rd_kafka_mock_broker_set_rtt(mc, id, ms);
    else if (n < 1)
        return 0;
    else {
        printf("error: unknown command (down ID | up ID | rtt ID MS | quit)\n");
        fflush(stdout);
        return 0;
    }
    if (r)
        printf("error: %s\n", rd_kafka_err2str(r));
    else
        printf("ok\n");
    fflush(stdout);
    return 0;
}

/* Feeds complete lines from stdin to command(). Returns 1 at EOF or quit. */
static int read_commands(rd_kafka_mock_cluster_t *mc, char *buf, size_t *used, size_t size)
{
    ssize_t n = read(STDIN_FILENO, buf + *used, size - 1 - *used);
    if (n < 0)
        return errno == EINTR ? 0 : 1;
    if (n == 0)
        return 1;
    *used += (size_t)n;
    buf[*used] = '\0';
    char *nl;
    while ((nl = strchr(buf, '\n'))) {
        *nl = '\0';
        if (command(mc, buf))
            return 1;
        size_t rest = *used - (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, rest + 1);
        *used = rest;
    }
    if (*used == size - 1)
        *used = 0; /* an absurdly long line: drop it */
    return 0;
}

static void wait_until_done(rd_kafka_mock_cluster_t *mc, int sfd, int control)
{
    char buf[1024];
    size_t used = 0;
    struct pollfd p[2] = {{sfd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    for (;;) {
        if (poll(p, control ? 2 : 1, -1) < 0 && errno != EINTR)
            return;
        if (p[0].revents)
            return;
        if (control && p[1].revents && read_commands(mc, buf, &used, sizeof buf))
            return;
    }
}

int main(int argc, char **argv)
{
    options o = {0};
    parse(&o, argc, argv);
    /* Block the stop signals before librdkafka starts threads, so only the
     * signalfd sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop, NULL);
    int sfd = signalfd(-1, &stop, SFD_CLOEXEC);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (sfd < 0) {
        perror("kafka_mock: signalfd");
        return 1;
    }

    char why[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "client.id", "kafka_mock", why, sizeof why);
    rd_kafka_conf_set(conf, "log_level", "4", why,
                      sizeof why); /* no "no bootstrap.servers" notice */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", why);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, o.brokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
        return 1;
    }
    for (int i = 0; i < o.ntopics; i++) {
        rd_kafka_resp_err_t r =
            rd_kafka_mock_topic_create(mc, o.topics[i].name, o.topics[i].partitions, 1);
        if (r) {
            fprintf(stderr, "kafka_mock: topic %s: %s\n", o.topics[i].name, rd_kafka_err2str(r));
            return 1;
        }
    }
    printf("BOOTSTRAP=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    wait_until_done(mc, sfd, o.stdin_control);

    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
