/* test_kafka_parts.c - the Kafka transport's pieces on their own: in-order
 * offset tracking, per-client lines of PROFD_KAFKA_CONFIG, and the log
 * rate limiter. No cluster needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_internal.h"
#include "profd/log.h"

static void test_offsets_in_order(void **state)
{
    (void)state;
    kafka_offsets o;
    bus__kafka_offsets_init(&o);
    for (int i = 0; i < 6; i++)
        bus__kafka_offsets_delivered(&o, 0, i);
    bus__kafka_offsets_delivered(&o, 1, 100);
    assert_int_equal(bus__kafka_offsets_done(&o, 0, 0, 0), 1);
    assert_int_equal(bus__kafka_offsets_done(&o, 0, 1, 0), 2);
    assert_int_equal(bus__kafka_offsets_done(&o, 0, 3, 0), -1); /* 2 still held */
    assert_int_equal(bus__kafka_offsets_done(&o, 0, 2, 1), -1); /* released: stays at 2 */
    assert_int_equal(bus__kafka_offsets_done(&o, 0, 4, 0), -1);
    assert_int_equal(bus__kafka_offsets_done(&o, 0, 5, 0), -1);
    assert_int_equal(bus__kafka_offsets_done(&o, 0, 5, 0), -1);    /* twice: ignored */
    assert_int_equal(bus__kafka_offsets_done(&o, 1, 100, 0), 101); /* partitions are separate */

    bus__kafka_offsets_forget(&o, 0);                           /* reassigned: a fresh start */
    assert_int_equal(bus__kafka_offsets_done(&o, 0, 2, 0), -1); /* from before: ignored */
    bus__kafka_offsets_delivered(&o, 0, 2);
    bus__kafka_offsets_delivered(&o, 0, 3);
    assert_int_equal(bus__kafka_offsets_done(&o, 0, 3, 0), 2); /* first store: position 2 */
    assert_int_equal(bus__kafka_offsets_done(&o, 0, 2, 0), 4);
    bus__kafka_offsets_free(&o);
}

static void test_offsets_many_held(void **state)
{
    (void)state;
    kafka_offsets o;
    bus__kafka_offsets_init(&o);
    for (int i = 0; i < 1000; i++)
        bus__kafka_offsets_delivered(&o, 7, i);
    /* finished newest first: the position stays at 0 (stored once) */
    assert_int_equal(bus__kafka_offsets_done(&o, 7, 999, 0), 0);
    for (int i = 998; i >= 1; i--)
        assert_int_equal(bus__kafka_offsets_done(&o, 7, i, 0), -1);
    assert_int_equal(bus__kafka_offsets_done(&o, 7, 0, 0), 1000);
    bus__kafka_offsets_free(&o);
}

static char *conf_get(rd_kafka_conf_t *c, const char *key)
{
    static char v[256];
    size_t n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(c, key, v, &n), RD_KAFKA_CONF_OK);
    return v;
}

static void test_conf_role_prefixes(void **state)
{
    (void)state;
    char path[] = "/tmp/profd-kconf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "  # comment\n"
                       "client.id = shared-id  \n"
                       "consumer.session.timeout.ms=7000\n"
                       "producer.linger.ms=42\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    profd_error err = {0};
    rd_kafka_conf_t *c = rd_kafka_conf_new(), *p = rd_kafka_conf_new();
    assert_int_equal(bus__kafka_conf_file(c, path, KAFKA_CONSUMER, &err), 0);
    assert_int_equal(bus__kafka_conf_file(p, path, KAFKA_PRODUCER, &err), 0);
    assert_string_equal(conf_get(c, "client.id"), "shared-id");
    assert_string_equal(conf_get(p, "client.id"), "shared-id");
    assert_string_equal(conf_get(c, "session.timeout.ms"), "7000");
    assert_string_equal(conf_get(p, "session.timeout.ms"), "45000"); /* librdkafka's default */
    assert_string_equal(conf_get(p, "linger.ms"), "42");
    assert_string_not_equal(conf_get(c, "linger.ms"), "42");
    assert_int_equal(bus__kafka_conf_file(c, "", KAFKA_CONSUMER, &err), 0); /* no file: nothing */
    rd_kafka_conf_destroy(c);
    rd_kafka_conf_destroy(p);
    unlink(path);
}

/* Repeats of one complaint (details in parentheses aside) print once; a
 * different complaint still gets through. */
static void test_log_repeats_limited(void **state)
{
    (void)state;
    char path[] = "/tmp/profd-klog-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(2);
    dup2(fd, 2);
    setenv("PROFD_LOG_FORMAT", "text", 1);
    profd_log_init();
    for (int i = 0; i < 5; i++)
        bus__kafka_log_limited(PROFD_LOG_WARN, "kafka.test", "broker 1 down (after %d ms)", i);
    bus__kafka_log_limited(PROFD_LOG_WARN, "kafka.test", "broker 2 down (after 0 ms)");
    bus__kafka_log_limited(PROFD_LOG_WARN, "kafka.test", "broker 1 down (after 9 ms)");
    dup2(saved, 2);
    close(saved);
    size_t len = 0;
    char *out = profd_read_file(path, 1 << 20, &len);
    assert_non_null(out);
    int lines = 0, one = 0, two = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        lines++;
        one += strstr(l, "broker 1 down") != NULL;
        two += strstr(l, "broker 2 down") != NULL;
    }
    assert_int_equal(lines, 2);
    assert_int_equal(one, 1);
    assert_int_equal(two, 1);
    free(out);
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_in_order),
        cmocka_unit_test(test_offsets_many_held),
        cmocka_unit_test(test_conf_role_prefixes),
        cmocka_unit_test(test_log_repeats_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
