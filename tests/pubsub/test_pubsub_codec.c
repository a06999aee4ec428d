/* test_pubsub_codec.c - Pub/Sub resource names and base64, no emulator needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pubsub_internal.h"

static void test_names(void **state)
{
    (void)state;
    char out[PS_NAME_MAX];
    profd_error err = {0};
    assert_int_equal(bus__ps_resource_name(out, sizeof out, "my-proj", "topics",
                                           "profiling.requests", "V", &err),
                     0);
    assert_string_equal(out, "projects/my-proj/topics/profiling.requests");
    assert_int_equal(bus__ps_resource_name(out, sizeof out, "", "subscriptions",
                                           "projects/other/subscriptions/workers", "V", &err),
                     0);
    assert_string_equal(out, "projects/other/subscriptions/workers");
    assert_int_equal(
        bus__ps_resource_name(out, sizeof out, "example.com:proj", "topics", "events", "V", &err),
        0);
    assert_string_equal(out, "projects/example.com:proj/topics/events");
    assert_int_equal(
        bus__ps_resource_name(out, sizeof out, "My/Proj", "topics", "events", "V", &err), -1);
    assert_non_null(strstr(err.msg, "GOOGLE_CLOUD_PROJECT"));
    /* A full name of the wrong kind, a bad short name, no project. */
    assert_int_equal(bus__ps_resource_name(out, sizeof out, "p", "subscriptions",
                                           "projects/other/topics/workers", "PROFD_X", &err),
                     -1);
    assert_non_null(strstr(err.msg, "PROFD_X"));
    const char *bad[] = {"ab", "1abc", "goog-topic", "has space", "a/b/c", "../../x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(bus__ps_resource_name(out, sizeof out, "p", "topics", bad[i], "V", &err),
                         -1);
    assert_int_equal(
        bus__ps_resource_name(out, sizeof out, "", "topics", "events", "PROFD_Y", &err), -1);
    assert_non_null(strstr(err.msg, "GOOGLE_CLOUD_PROJECT"));
    assert_non_null(strstr(err.msg, "PROFD_Y"));
}

/* Message data is base64 in the REST API's JSON; the transport uses core's
 * codec (profd_b64, profd_b64_decode), checked here as the transport uses it. */
static unsigned char *decode(const char *e, size_t *n)
{
    unsigned char *d = malloc(strlen(e) / 4 * 3 + 4);
    assert_non_null(d);
    if (profd_b64_decode(e, d, n) == 0)
        return d;
    free(d);
    return NULL;
}

static void test_base64(void **state)
{
    (void)state;
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = profd_b64((const unsigned char *)plain[i], strlen(plain[i]), false);
        assert_string_equal(e, enc[i]);
        size_t n = 99;
        unsigned char *d = decode(e, &n);
        assert_non_null(d);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        free(e);
        free(d);
    }
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char *e = profd_b64(all, sizeof all, false);
    size_t n = 0;
    unsigned char *d = decode(e, &n);
    assert_non_null(d);
    assert_int_equal(n, 256);
    assert_memory_equal(d, all, 256);
    free(e);
    free(d);
    assert_null(decode("Zm9v!", &n));
    assert_null(decode("Z", &n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_names), cmocka_unit_test(test_base64)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
