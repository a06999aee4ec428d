/* test_api_live.c - the live stream's events (src/api/live.c) without a
 * server: a memory store and a file blob store hold a session as a worker
 * leaves it while capturing (running, sample_count, sessions/{id}/live.txt),
 * and each poll must append exactly the events that are due: progress on a
 * change, stacks when the count moved (id s<count>, one data line per stack),
 * nothing when nothing changed, resume after Last-Event-ID, one final event
 * with links when it finishes, and `gone` for a session that disappeared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

static profd_store *store;
static profd_blob *blob;
static char dir[] = "/tmp/profd-livetest-XXXXXX";

static void put_live(const char *id, const char *text)
{
    char path[300], object[256];
    snprintf(path, sizeof path, "%s/up.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(profd_session_object(id, "live.txt", object, sizeof object), 0);
    profd_error err;
    assert_int_equal(
        blob->ops->put_file(blob, object, path, "text/plain", NULL, PROFD_GEN_ANY, NULL, &err), 0);
}

static void put_state(profd_session *s, profd_status st, long count)
{
    profd_error err;
    s->status = st;
    s->sample_count = count;
    if (st == PROFD_COMPLETED) {
        s->completed_at = profd_now_ms();
        snprintf(s->flame_graph_object, sizeof s->flame_graph_object, "sessions/%s/flamegraph.html",
                 s->session_id);
    }
    assert_int_equal(store->ops->put(store, s, &err), 0);
}

static api_live_step poll(api_live *l, profd_sb *sb)
{
    sb->len = 0;
    if (sb->s)
        sb->s[0] = '\0';
    return api__live_poll(l, sb);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_live_events(void **state)
{
    (void)state;
    profd_session s;
    profd_session_init(&s);
    profd_uuid4(s.session_id);
    snprintf(s.service_name, sizeof s.service_name, "live-svc");
    s.created_at = profd_now_ms();
    s.duration_seconds = 10;
    profd_error err;
    assert_int_equal(store->ops->create(store, &s, &err), 1);
    put_state(&s, PROFD_RUNNING, -1);
    api_live l;
    profd_sb sb = {0};
    api__live_init(&l, store, blob, 60, s.session_id, NULL);
    /* running, nothing sampled yet: one progress event, no stacks */
    assert_int_equal(poll(&l, &sb), API_LIVE_MORE);
    assert_int_equal(count(sb.s, "event: progress\n"), 1);
    assert_int_equal(count(sb.s, "event: stacks"), 0);
    assert_non_null(strstr(sb.s, "\"status\":\"running\""));
    assert_int_equal(poll(&l, &sb), API_LIVE_WAIT);
    assert_int_equal(sb.len, 0);
    /* the first live upload */
    put_live(s.session_id, "main (a.py:1);f (a.py:2) 30\nmain (a.py:1);g\r(a.py:3) 12\n");
    put_state(&s, PROFD_RUNNING, 42);
    assert_int_equal(poll(&l, &sb), API_LIVE_MORE);
    assert_int_equal(count(sb.s, "event: progress\n"), 1);
    assert_non_null(strstr(sb.s, "\"sample_count\":42"));
    assert_non_null(strstr(sb.s, "event: stacks\nid: s42\ndata: main (a.py:1);f (a.py:2) 30\n"
                                 "data: main (a.py:1);g?(a.py:3) 12\n\n"));
    assert_int_equal(poll(&l, &sb), API_LIVE_WAIT);
    /* a reconnect that saw s42 gets progress, not the same stacks again */
    api_live again;
    api__live_init(&again, store, blob, 60, s.session_id, "s42");
    assert_int_equal(poll(&again, &sb), API_LIVE_MORE);
    assert_int_equal(count(sb.s, "event: stacks"), 0);
    put_live(s.session_id, "main (a.py:1);f (a.py:2) 90\n");
    put_state(&s, PROFD_RUNNING, 90);
    assert_int_equal(poll(&again, &sb), API_LIVE_MORE);
    assert_non_null(strstr(sb.s, "id: s90\ndata: main (a.py:1);f (a.py:2) 90\n\n"));
    /* finished: one final event with a link, then the end */
    put_state(&s, PROFD_COMPLETED, 95);
    assert_int_equal(poll(&l, &sb), API_LIVE_END);
    assert_int_equal(count(sb.s, "event: final\nid: final\ndata: {"), 1);
    assert_int_equal(count(sb.s, "event: stacks"), 0);
    assert_non_null(strstr(sb.s, "\"status\":\"completed\""));
    if (!strstr(sb.s, "\"flame_graph_url\":\"file://"))
        fail_msg("%s", sb.s);
    /* Last-Event-ID: final still gets the final event */
    api__live_init(&again, store, blob, 60, s.session_id, "final");
    assert_int_equal(poll(&again, &sb), API_LIVE_END);
    assert_int_equal(count(sb.s, "event: final"), 1);
    /* a session that is gone */
    api__live_init(&again, store, blob, 60, "3f2b8c1e-2d4a-4b6c-9e8f-0a1b2c3d4e5f", "junk");
    assert_int_equal(poll(&again, &sb), API_LIVE_END);
    assert_non_null(strstr(sb.s, "event: gone\n"));
    profd_sb_free(&sb);
    profd_session_free(&s);
}

static int setup(void **state)
{
    (void)state;
    profd_error err;
    assert_non_null(mkdtemp(dir));
    store = profd_store_memory_open(3600);
    blob = profd_blob_file_open(dir, &err);
    return store && blob ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    blob->ops->close(blob);
    store->ops->close(store);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_live_events)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
