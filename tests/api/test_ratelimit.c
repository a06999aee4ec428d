/* test_ratelimit.c - per-subject fixed-window limits over the real memory
 * store and a real redis-server (the counter is store->ops->incr). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "profd/api.h"
#include "support/redis_server.h"

static void exercise(profd_store *st)
{
    profd_error err;
    int retry = -1;
    int64_t now = 1699999980 + 10; /* 1699999980 is a multiple of 60 */
    for (int i = 0; i < 3; i++)
        assert_int_equal(profd_ratelimit_check(st, "alice", 3, now + i, &retry, &err), 1);
    assert_int_equal(profd_ratelimit_check(st, "alice", 3, now + 5, &retry, &err), 0);
    assert_int_equal(retry, 45); /* the rest of the window */
    /* Still limited later in the window; another subject is not. */
    assert_int_equal(profd_ratelimit_check(st, "alice", 3, now + 49, &retry, &err), 0);
    assert_int_equal(retry, 1);
    assert_int_equal(profd_ratelimit_check(st, "bob", 3, now, &retry, &err), 1);
    /* The next window starts afresh. */
    assert_int_equal(profd_ratelimit_check(st, "alice", 3, now + 60, &retry, &err), 1);
}

static void test_memory_store(void **state)
{
    (void)state;
    profd_store *st = profd_store_memory_open(3600);
    exercise(st);
    st->ops->close(st);
}

static void test_redis_store(void **state)
{
    (void)state;
    if (!profd_test_redis_binary())
        skip();
    profd_test_redis r;
    assert_int_equal(profd_test_redis_start(&r, false), 0);
    profd_error err;
    profd_store *st = profd_store_redis_open(r.url, 3600, &err);
    assert_non_null(st);
    exercise(st);
    st->ops->close(st);
    profd_test_redis_stop(&r);
}

static void test_key_hides_subject(void **state)
{
    (void)state;
    char a[128], b[128];
    profd_ratelimit_key("evil:key\r\n*", 1699999990, a, sizeof a);
    profd_ratelimit_key("evil:key\r\n*", 1700000039, b, sizeof b);
    assert_string_equal(a, b);
    assert_null(strstr(a, "evil"));
    assert_null(strchr(a, '\n'));
    assert_int_equal(strncmp(a, "ratelimit:", 10), 0);
    profd_ratelimit_key("evil:key\r\n*", 1700000040, b, sizeof b);
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_store),
        cmocka_unit_test(test_redis_store),
        cmocka_unit_test(test_key_hides_subject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
