/* test_kafka.c - the Kafka transport against librdkafka's mock cluster.
 *
 * Each test gets a fresh mock cluster in this process (rdkafka_mock.h),
 * reached over TCP by profd's bus, by plain librdkafka clients and by kcat.
 * PROFD_KAFKA_CONFIG lowers the consumer's session timeout and heartbeat so a
 * group joins quickly (see docs/bus.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/skip.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profd/bus.h"

#define JOIN_TIMEOUT_MS 20000

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static char brokers[256];
static char conf_path[] = "/tmp/profd-kafka-test-XXXXXX";

static const char *fast_settings = "# test settings: join and commit quickly\n"
                                   "consumer.session.timeout.ms = 4500\n"
                                   "consumer.heartbeat.interval.ms=300\n"
                                   "consumer.auto.commit.interval.ms=200\n"
                                   "consumer.max.poll.interval.ms=5000\n"
                                   "\n"
                                   "topic.metadata.refresh.interval.ms=1000\n";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    int fd = mkstemp(conf_path);
    if (fd < 0)
        return -1;
    close(fd);
    write_file(conf_path, fast_settings);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(conf_path);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    char why[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", why, sizeof why);
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    mock = rd_kafka_mock_cluster_new(mock_rk, 1);
    if (!mock)
        return -1;
    rd_kafka_mock_topic_create(mock, "profiling.requests", 3, 1);
    rd_kafka_mock_topic_create(mock, "profiling.events", 1, 1);
    rd_kafka_mock_topic_create(mock, "profiling.requests.dlq", 1, 1);
    rd_kafka_mock_topic_create(mock, "single", 1, 1);
    snprintf(brokers, sizeof brokers, "%s", rd_kafka_mock_cluster_bootstraps(mock));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(mock_rk);
    return 0;
}

static void make_cfg(profd_config *c, const char *host, const char *request_topic)
{
    memset(c, 0, sizeof *c);
    strcpy(c->bus, "kafka");
    snprintf(c->kafka_brokers, sizeof c->kafka_brokers, "%s", brokers);
    strcpy(c->kafka_group, "profd-test");
    snprintf(c->kafka_config, sizeof c->kafka_config, "%s", conf_path);
    snprintf(c->host, sizeof c->host, "%s", host);
    snprintf(c->request_topic, sizeof c->request_topic, "%s", request_topic);
    strcpy(c->event_topic, "profiling.events");
    strcpy(c->dlq_topic, "profiling.requests.dlq");
}

static profd_bus *open_bus(const profd_config *c, int roles)
{
    profd_error err = {0};
    profd_bus *b = profd_bus_open(c, roles, &err);
    if (!b)
        fail_msg("profd_bus_open: %s", err.msg);
    return b;
}

/* Produce with a plain librdkafka producer, as any client would. */
static void produce(const char *topic, int n, const char *prefix)
{
    char why[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers, why, sizeof why);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    assert_non_null(p);
    for (int i = 0; i < n; i++) {
        char v[64];
        snprintf(v, sizeof v, "%s%d", prefix, i);
        assert_int_equal(
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(v, strlen(v)),
                              RD_KAFKA_V_KEY(v, strlen(v)),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            0);
    }
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
}

/* Run argv with input on stdin; capture stdout into out. Returns the exit status. */
static int run(char *const argv[], const char *input, char *out, size_t outsz)
{
    int in[2], o[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(o), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(o[1], 1);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        close(in[1]);
        close(o[0]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    if (input && write(in[1], input, strlen(input)) < 0)
        fail_msg("writing to %s failed", argv[0]);
    close(in[1]);
    size_t used = 0;
    ssize_t n;
    while (used + 1 < outsz && (n = read(o[0], out + used, outsz - 1 - used)) > 0)
        used += (size_t)n;
    out[used] = '\0';
    close(o[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int have_kcat(void)
{
    return access("/usr/bin/kcat", X_OK) == 0;
}

/* Poll until n messages arrived or timeout; returns how many. */
static int poll_n(profd_bus *b, profd_msg **got, int n, int timeout_ms)
{
    int k = 0;
    int64_t end = profd_mono_ms() + timeout_ms;
    while (k < n && profd_mono_ms() < end) {
        profd_msg *m = NULL;
        profd_error err = {0};
        assert_int_equal(b->ops->poll(b, 100, &m, &err), 0);
        if (m)
            got[k++] = m;
    }
    return k;
}

static int data_is(const profd_msg *m, const char *s)
{
    return m->len == strlen(s) && memcmp(m->data, s, m->len) == 0;
}

static int find(profd_msg **got, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (data_is(got[i], s))
            return i;
    return -1;
}

static void done_all(profd_bus *b, profd_msg **got, int n, profd_disposition d)
{
    for (int i = 0; i < n; i++)
        b->ops->done(b, got[i], d);
}

/* Requests from librdkafka and from kcat both arrive, with their fields. */
static void test_consume_from_librdkafka_and_kcat(void **state)
{
    (void)state;
    if (!have_kcat())
        PROFD_SKIP("kcat");
    produce("profiling.requests", 3, "lib-");
    char out[256];
    char *argv[] = {"kcat", "-b", brokers, "-P", "-t", "profiling.requests", "-k", "key", NULL};
    assert_int_equal(run(argv, "kcat-0\nkcat-1\n", out, sizeof out), 0);

    profd_config c;
    make_cfg(&c, "h1", "profiling.requests");
    profd_bus *b = open_bus(&c, PROFD_BUS_CONSUME);
    profd_msg *got[8];
    int64_t t0 = profd_mono_ms();
    int n = poll_n(b, got, 5, JOIN_TIMEOUT_MS);
    print_message("5 requests consumed %lld ms after open (group join included)\n",
                  (long long)(profd_mono_ms() - t0));
    assert_int_equal(n, 5);
    const char *want[] = {"lib-0", "lib-1", "lib-2", "kcat-0", "kcat-1"};
    for (int i = 0; i < 5; i++)
        assert_true(find(got, n, want[i]) >= 0);
    for (int i = 0; i < n; i++) {
        char id[128];
        snprintf(id, sizeof id, "profiling.requests/%d/%lld", got[i]->partition,
                 (long long)got[i]->offset);
        assert_string_equal(got[i]->id, id);
        assert_string_equal(got[i]->topic, "profiling.requests");
        assert_true(got[i]->partition >= 0 && got[i]->partition < 3);
        assert_true(got[i]->timestamp_ms > 1700000000000LL);
    }
    done_all(b, got, n, PROFD_ACK);
    b->ops->close(b);
}

/* Offsets are stored on done() only, in order: a later consumer of the same
 * group resumes at the first message not finished, so nothing is skipped;
 * NACKed messages count as finished. */
static void test_offsets_stored_on_done_only(void **state)
{
    (void)state;
    produce("single", 6, "m");
    profd_config c;
    make_cfg(&c, "h1", "single");
    profd_bus *b = open_bus(&c, PROFD_BUS_CONSUME);
    profd_msg *got[8];
    assert_int_equal(poll_n(b, got, 6, JOIN_TIMEOUT_MS), 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(got[i]->offset, i);
    b->ops->done(b, got[0], PROFD_ACK);
    b->ops->done(b, got[1], PROFD_ACK);
    b->ops->done(b, got[3], PROFD_ACK);     /* out of order: m2 is still held */
    b->ops->done(b, got[2], PROFD_RELEASE); /* not handled: must come back */
    b->ops->done(b, got[4], PROFD_RELEASE);
    b->ops->done(b, got[5], PROFD_RELEASE);
    b->ops->close(b);

    b = open_bus(&c, PROFD_BUS_CONSUME);
    assert_int_equal(poll_n(b, got, 4, JOIN_TIMEOUT_MS), 4);
    assert_true(data_is(got[0], "m2")); /* after the last ACK in order */
    assert_true(data_is(got[3], "m5"));
    b->ops->done(b, got[0], PROFD_ACK);
    for (int i = 1; i < 4; i++)
        b->ops->done(b, got[i], PROFD_NACK); /* not for this worker: skipped for good */
    assert_int_equal(poll_n(b, got, 1, 300), 0);
    b->ops->close(b);

    produce("single", 1, "later");
    b = open_bus(&c, PROFD_BUS_CONSUME);
    assert_int_equal(poll_n(b, got, 1, JOIN_TIMEOUT_MS), 1);
    assert_true(data_is(got[0], "later0"));
    assert_int_equal(got[0]->offset, 6);
    b->ops->done(b, got[0], PROFD_ACK);
    b->ops->close(b);
}

/* Paused: nothing is delivered, even what was already fetched. Resumed: the
 * rest arrives in order, none lost, none twice. Partitions assigned while
 * paused are paused as they arrive. A long pause does not cost the group
 * membership as long as poll() goes on being called. */
static void test_pause_resume(void **state)
{
    (void)state;
    produce("single", 10, "p");
    profd_config c;
    make_cfg(&c, "h1", "single");
    profd_bus *b = open_bus(&c, PROFD_BUS_CONSUME);
    b->ops->pause(b); /* before the group assigned anything */
    profd_msg *got[16];
    int64_t t0 = profd_mono_ms();
    assert_int_equal(poll_n(b, got, 1, 4500), 0); /* the mock assigns after 3 s */
    b->ops->resume(b);
    assert_int_equal(poll_n(b, got, 2, JOIN_TIMEOUT_MS), 2);
    print_message("first message %lld ms after open\n", (long long)(profd_mono_ms() - t0));
    assert_true(data_is(got[0], "p0") && data_is(got[1], "p1"));
    b->ops->done(b, got[0], PROFD_ACK);
    profd_msg *held = got[1]; /* a long capture holds p1 */

    /* Paused for longer than max.poll.interval.ms (5 s here) while polling, as
     * the worker does: no delivery, and the group membership survives, which
     * the end of the test checks (a lapsed member would get p1 again). */
    b->ops->pause(b);
    assert_int_equal(poll_n(b, got, 1, 5500), 0);
    b->ops->resume(b);
    b->ops->done(b, held, PROFD_ACK);
    int n = poll_n(b, got, 8, 5000);
    assert_int_equal(n, 8);
    for (int i = 0; i < n; i++) {
        char want[8];
        snprintf(want, sizeof want, "p%d", i + 2);
        assert_true(data_is(got[i], want));
    }
    done_all(b, got, n, PROFD_ACK);
    assert_int_equal(poll_n(b, got, 1, 300), 0); /* none twice */
    b->ops->close(b);
}

/* Workers on different hosts are different groups: each sees every request. */
static void test_two_hosts_each_receive_all(void **state)
{
    (void)state;
    produce("profiling.requests", 6, "r");
    profd_config ca, cb;
    make_cfg(&ca, "host-a", "profiling.requests");
    make_cfg(&cb, "host-b", "profiling.requests");
    profd_bus *a = open_bus(&ca, PROFD_BUS_CONSUME), *b = open_bus(&cb, PROFD_BUS_CONSUME);
    profd_msg *ga[8], *gb[8];
    /* poll both in turns so neither one's group session lapses */
    int na = 0, nb = 0;
    int64_t end = profd_mono_ms() + JOIN_TIMEOUT_MS;
    while ((na < 6 || nb < 6) && profd_mono_ms() < end) {
        na += poll_n(a, ga + na, na < 6 ? 1 : 0, 50);
        nb += poll_n(b, gb + nb, nb < 6 ? 1 : 0, 50);
    }
    assert_int_equal(na, 6);
    assert_int_equal(nb, 6);
    for (int i = 0; i < 6; i++) {
        char want[8];
        snprintf(want, sizeof want, "r%d", i);
        assert_true(find(ga, na, want) >= 0);
        assert_true(find(gb, nb, want) >= 0);
    }
    done_all(a, ga, na, PROFD_ACK);
    done_all(b, gb, nb, PROFD_ACK);
    a->ops->close(a);
    b->ops->close(b);
}

/* Events keep their key and headers, as kcat shows them. */
static void test_events_readable_with_kcat(void **state)
{
    (void)state;
    if (!have_kcat())
        PROFD_SKIP("kcat");
    profd_config c;
    make_cfg(&c, "h1", "profiling.requests");
    profd_bus *b = open_bus(&c, PROFD_BUS_PRODUCE);
    profd_header h[] = {{"type", "session.started"}, {"source", "profd"}};
    profd_error err = {0};
    assert_int_equal(b->ops->publish(b, PROFD_TOPIC_EVENTS, "sess-1", "{\"n\":1}", 7, h, 2, &err),
                     0);
    assert_int_equal(b->ops->publish(b, PROFD_TOPIC_EVENTS, "sess-2", "{\"n\":2}", 7, h, 1, &err),
                     0);
    assert_int_equal(b->ops->publish(b, PROFD_TOPIC_DLQ, "bad", "junk", 4, NULL, 0, &err), 0);
    assert_int_equal(b->ops->flush(b, 10000), 0);
    assert_int_equal(b->ops->ping(b, &err), 0);
    b->ops->close(b);

    char out[1024];
    char *argv[] = {"kcat", "-b", brokers,      "-C", "-t", "profiling.events",
                    "-e",   "-f", "%k %h %s\n", NULL};
    assert_int_equal(run(argv, NULL, out, sizeof out), 0);
    assert_string_equal(out, "sess-1 type=session.started,source=profd {\"n\":1}\n"
                             "sess-2 type=session.started {\"n\":2}\n");
    char *argv2[] = {"kcat", "-b", brokers,   "-C", "-t", "profiling.requests.dlq",
                     "-e",   "-f", "%k %s\n", NULL};
    assert_int_equal(run(argv2, NULL, out, sizeof out), 0);
    assert_string_equal(out, "bad junk\n");
}

static void expect_open_error(const char *conf_text, const char *want_fmt)
{
    char path[] = "/tmp/profd-kafka-bad-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, conf_text);
    profd_config c;
    make_cfg(&c, "h1", "profiling.requests");
    snprintf(c.kafka_config, sizeof c.kafka_config, "%s", path);
    char want[512];
    snprintf(want, sizeof want, want_fmt, path);
    for (int roles = PROFD_BUS_CONSUME; roles <= PROFD_BUS_PRODUCE; roles++) {
        profd_error err = {0};
        assert_null(profd_bus_open(&c, roles, &err));
        assert_string_equal(err.msg, want);
    }
    unlink(path);
}

static void test_bad_kafka_config(void **state)
{
    (void)state;
    expect_open_error("# ok\n\nlinger.ms=5\nthis line has no equals sign\n",
                      "PROFD_KAFKA_CONFIG %s:4: expected key=value, got 'this line has no "
                      "equals sign'");
    expect_open_error("linger.ms=5\nno.such.property = 1\n",
                      "PROFD_KAFKA_CONFIG %s:2: No such configuration property: "
                      "\"no.such.property\"");
    expect_open_error(" = 1\n", "PROFD_KAFKA_CONFIG %s:1: the key before '=' is empty");
    expect_open_error("session.timeout.ms=abc\n",
                      "PROFD_KAFKA_CONFIG %s:1: Invalid value for configuration property "
                      "\"session.timeout.ms\"");

    profd_config c;
    make_cfg(&c, "h1", "profiling.requests");
    strcpy(c.kafka_config, "/nonexistent/kafka.conf");
    profd_error err = {0};
    assert_null(profd_bus_open(&c, PROFD_BUS_PRODUCE, &err));
    assert_string_equal(err.msg,
                        "PROFD_KAFKA_CONFIG /nonexistent/kafka.conf: cannot open: No such file or "
                        "directory");
}

static void test_ping(void **state)
{
    (void)state;
    profd_config c;
    make_cfg(&c, "h1", "profiling.requests");
    profd_bus *b = open_bus(&c, PROFD_BUS_CONSUME);
    profd_error err = {0};
    assert_int_equal(b->ops->ping(b, &err), 0);
    b->ops->close(b);

    strcpy(c.kafka_brokers, "127.0.0.1:1");
    b = open_bus(&c, PROFD_BUS_PRODUCE);
    int64_t t0 = profd_mono_ms();
    assert_int_equal(b->ops->ping(b, &err), -1);
    assert_true(profd_mono_ms() - t0 < 4000);
    assert_non_null(strstr(err.msg, "Kafka at 127.0.0.1:1 did not answer within 2000 ms"));
    b->ops->close(b);
}

/* A broker outage is not an error for the application: poll keeps returning
 * nothing, publish queues, and both carry on when the broker is back. */
static void test_broker_outage_is_not_fatal(void **state)
{
    (void)state;
    profd_config c;
    make_cfg(&c, "h1", "single");
    profd_bus *b = open_bus(&c, PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE);
    profd_error err = {0};
    assert_int_equal(b->ops->publish(b, PROFD_TOPIC_REQUESTS, "k", "before", 6, NULL, 0, &err), 0);
    profd_msg *got[2];
    assert_int_equal(poll_n(b, got, 1, JOIN_TIMEOUT_MS), 1);
    assert_true(data_is(got[0], "before"));
    b->ops->done(b, got[0], PROFD_ACK);
    usleep(600 * 1000); /* let auto-commit (every 200 ms here) commit it */

    assert_int_equal(rd_kafka_mock_broker_set_down(mock, 1), 0);
    assert_int_equal(b->ops->publish(b, PROFD_TOPIC_REQUESTS, "k", "during", 6, NULL, 0, &err), 0);
    assert_int_equal(poll_n(b, got, 1, 800), 0); /* every poll returned 0 */
    assert_int_equal(b->ops->flush(b, 200), -1); /* not delivered yet */
    assert_int_equal(rd_kafka_mock_broker_set_up(mock, 1), 0);

    /* The outage may outlast the session timeout: the group then forgets
     * this member and an offset commit can fail, so "before" may come again
     * (at least once, never lost). "during" must arrive. */
    int during = 0;
    int64_t end = profd_mono_ms() + JOIN_TIMEOUT_MS;
    while (!during && profd_mono_ms() < end) {
        if (poll_n(b, got, 1, 500) == 0)
            continue;
        during = data_is(got[0], "during");
        assert_true(during || data_is(got[0], "before"));
        b->ops->done(b, got[0], PROFD_ACK);
    }
    assert_true(during);
    assert_int_equal(b->ops->flush(b, 5000), 0);
    assert_int_equal(b->ops->ping(b, &err), 0);
    b->ops->close(b);
}

/* Arguments, if any, are substrings of test names: only those tests run.
 * CMake registers a few such subsets as separate CTest tests, so they run in
 * parallel (most of the time here is spent waiting for group joins). */
int main(int argc, char **argv)
{
    const struct CMUnitTest all[] = {
        cmocka_unit_test_setup_teardown(test_consume_from_librdkafka_and_kcat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offsets_stored_on_done_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_hosts_each_receive_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_readable_with_kcat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_kafka_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_outage_is_not_fatal, setup, teardown),
    };
    size_t n = sizeof all / sizeof all[0], k = 0;
    struct CMUnitTest chosen[sizeof all / sizeof all[0]];
    for (size_t i = 0; i < n; i++) {
        int want = argc < 2;
        for (int j = 1; j < argc && !want; j++)
            want = strstr(all[i].name, argv[j]) != NULL;
        if (want)
            chosen[k++] = all[i];
    }
    if (k == 0) {
        fprintf(stderr, "no test matches\n");
        return 1;
    }
    return _cmocka_run_group_tests("test_bus_kafka", chosen, k, group_setup, group_teardown);
}
