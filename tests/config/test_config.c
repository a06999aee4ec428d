/* test_config.c - defaults, the environment, and one-line errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "profd/config.h"

static void test_defaults(void **state)
{
    (void)state;
    profd_config c;
    profd_error err = {0};
    unsetenv("PROFD_DURATION_MIN");
    unsetenv("PROFD_BUS");
    setenv("PROFD_HOST", "node-7", 1);
    assert_int_equal(profd_config_load(&c, &err), 0);
    assert_string_equal(c.bus, "kafka");
    assert_int_equal(c.duration_min, 10);
    assert_int_equal(c.duration_max, 300);
    assert_int_equal(c.max_concurrent, 4);
    assert_int_equal(c.lease_seconds, 30);
    assert_string_equal(c.request_topic, "profiling.requests");
    assert_string_equal(c.host, "node-7");
}

static void test_environment_errors(void **state)
{
    (void)state;
    profd_config c;
    profd_error err = {0};
    setenv("PROFD_MAX_CONCURRENT", "zero", 1);
    assert_int_equal(profd_config_load(&c, &err), -1);
    assert_string_equal(err.msg,
                        "PROFD_MAX_CONCURRENT must be an integer from 1 to 1024, not 'zero'");
    unsetenv("PROFD_MAX_CONCURRENT");
    setenv("PROFD_BUS", "carrier-pigeon", 1);
    assert_int_equal(profd_config_load(&c, &err), -1);
    assert_non_null(strstr(err.msg, "PROFD_BUS must be kafka, pubsub or memory"));
    unsetenv("PROFD_BUS");
    setenv("PROFD_DURATION_MIN", "400", 1);
    assert_int_equal(profd_config_load(&c, &err), -1);
    assert_non_null(strstr(err.msg, "PROFD_DURATION_MIN (400) is above PROFD_DURATION_MAX (300)"));
    unsetenv("PROFD_DURATION_MIN");
    setenv("PROFD_SAMPLER", "perf", 1);
    assert_int_equal(profd_config_load(&c, &err), -1);
    assert_non_null(strstr(err.msg, "PROFD_SAMPLER must be auto, py-spy or builtin"));
    unsetenv("PROFD_SAMPLER");
    assert_int_equal(profd_config_load(&c, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_defaults),
                                       cmocka_unit_test(test_environment_errors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
