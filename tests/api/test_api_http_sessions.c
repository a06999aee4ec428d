/* test_api_http_sessions.c - sessions after they start, over real HTTP:
 * reading one (404s included), listing with filters, ordering and limit
 * bounds, cancelling queued and running sessions, and the artifacts behind
 * signed file links. Sessions are put straight into Redis in the states a
 * test needs. Fixture: api_http_fixture.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_http_fixture.h"

/* Start a session; returns its id (static buffer per call site is fine). */
static void start_ok(const char *token, const char *body, char *id_out)
{
    resp r = http("POST", P "/start", token, body, NULL);
    if (r.status != 201)
        fail_msg("start %s: %ld %s", body, r.status, r.body);
    json_object *o = body_json(&r);
    snprintf(id_out, PROFD_UUID_LEN + 1, "%s", jget(o, "session_id"));
    json_object_put(o);
    free(r.body);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_get_not_found(void **state)
{
    (void)state;
    expect_detail(http("GET", P "/3f2b8c1e-2d4a-4b6c-9e8f-0a1b2c3d4e5f", admin, NULL, NULL), 404,
                  "Profiling session 3f2b8c1e-2d4a-4b6c-9e8f-0a1b2c3d4e5f not found");
    expect_detail(http("GET", P "/not-a-uuid", admin, NULL, NULL), 404,
                  "Profiling session not-a-uuid not found");
    expect_detail(http("GET", P "/not-a-uuid/flamegraph", admin, NULL, NULL), 404, NULL);
    expect_detail(http("DELETE", P "/3f2b8c1e-2d4a-4b6c-9e8f-0a1b2c3d4e5f", admin, NULL, NULL), 404,
                  NULL);
}

static void put_session(const char *service, profd_status st, int64_t created, char *id)
{
    profd_session s;
    profd_session_init(&s);
    profd_uuid4(s.session_id);
    snprintf(s.service_name, sizeof s.service_name, "%s", service);
    s.status = st;
    s.created_at = created;
    s.duration_seconds = 10;
    s.sample_rate_hz = 100;
    snprintf(s.trigger, sizeof s.trigger, "api");
    if (st == PROFD_COMPLETED || st == PROFD_FAILED)
        s.completed_at = created + 10000;
    profd_error err;
    assert_int_equal(store->ops->create(store, &s, &err), 1);
    if (st != PROFD_QUEUED)
        assert_int_equal(store->ops->put(store, &s, &err), 0);
    if (id)
        snprintf(id, PROFD_UUID_LEN + 1, "%s", s.session_id);
}

static void test_list(void **state)
{
    (void)state;
    int64_t t0 = profd_now_ms() - 3600 * 1000;
    static const profd_status sts[] = {PROFD_COMPLETED, PROFD_FAILED, PROFD_RUNNING};
    for (int i = 0; i < 60; i++)
        put_session("list-a", sts[i % 3], t0 + i * 1000, NULL);
    for (int i = 0; i < 5; i++)
        put_session("list-b", PROFD_COMPLETED, t0 + i * 1000 + 500, NULL);
    resp r = http("GET", P "?service_name=list-a", admin, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_object *a = body_json(&r);
    assert_int_equal(json_object_array_length(a), 50); /* default limit */
    int64_t prev = INT64_MAX;
    for (size_t i = 0; i < 50; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        assert_string_equal(jget(e, "service_name"), "list-a");
        int64_t ms;
        assert_int_equal(profd_parse_rfc3339(jget(e, "created_at"), &ms), 0);
        assert_true(ms <= prev); /* newest first */
        prev = ms;
    }
    json_object_put(a);
    free(r.body);
    r = http("GET", P "?service_name=list-a&status=failed&limit=100", admin, NULL, NULL);
    a = body_json(&r);
    assert_int_equal(json_object_array_length(a), 20);
    for (size_t i = 0; i < 20; i++)
        assert_string_equal(jget(json_object_array_get_idx(a, i), "status"), "failed");
    json_object_put(a);
    free(r.body);
    r = http("GET", P "?service_name=list-b&limit=2", admin, NULL, NULL);
    a = body_json(&r);
    assert_int_equal(json_object_array_length(a), 2);
    json_object_put(a);
    free(r.body);
    r = http("GET", P "?limit=1", admin, NULL, NULL);
    a = body_json(&r);
    assert_int_equal(json_object_array_length(a), 1);
    json_object_put(a);
    free(r.body);
    r = http("GET", P "?limit=100", admin, NULL, NULL);
    a = body_json(&r);
    assert_true(json_object_array_length(a) > 60 && json_object_array_length(a) <= 100);
    json_object_put(a);
    free(r.body);
    const char *bad[] = {"?limit=0", "?limit=101",   "?limit=abc",
                         "?limit=",  "?status=done", "?service_name=NOPE!"};
    for (int i = 0; i < 6; i++) {
        char path[128];
        snprintf(path, sizeof path, P "%s", bad[i]);
        expect_detail(http("GET", path, admin, NULL, NULL), 422, NULL);
    }
}

static void test_cancel(void **state)
{
    (void)state;
    char id[40], path[128];
    /* Queued: failed/cancelled right away, event and cancel request published. */
    start_ok(admin, "{\"service_name\":\"cancel-q\"}", id);
    int nreq = profd_bus_memory_count(PROFD_TOPIC_REQUESTS);
    int nev = profd_bus_memory_count(PROFD_TOPIC_EVENTS);
    snprintf(path, sizeof path, P "/%s", id);
    resp r = http("DELETE", path, admin, NULL, NULL);
    assert_int_equal(r.status, 202);
    free(r.body);
    profd_session s;
    profd_error err;
    assert_int_equal(store->ops->get(store, id, &s, &err), 1);
    assert_int_equal(s.status, PROFD_FAILED);
    assert_string_equal(s.error_code, "cancelled");
    profd_session_free(&s);
    char *ev = profd_bus_memory_get(PROFD_TOPIC_EVENTS, nev);
    assert_non_null(strstr(ev, "session.failed"));
    free(ev);
    char *req = profd_bus_memory_get(PROFD_TOPIC_REQUESTS, nreq);
    assert_non_null(strstr(req, "\"cancel\""));
    assert_non_null(strstr(req, id));
    free(req);
    /* Finished now: 409. */
    expect_detail(http("DELETE", path, admin, NULL, NULL), 409, NULL);
    /* The target is free again. */
    start_ok(admin, "{\"service_name\":\"cancel-q\"}", id);
    /* Running: a cancel request for the worker, 202, record untouched. */
    char rid[40];
    put_session("cancel-r", PROFD_RUNNING, profd_now_ms(), rid);
    nreq = profd_bus_memory_count(PROFD_TOPIC_REQUESTS);
    snprintf(path, sizeof path, P "/%s", rid);
    r = http("DELETE", path, admin, NULL, NULL);
    assert_int_equal(r.status, 202);
    free(r.body);
    req = profd_bus_memory_get(PROFD_TOPIC_REQUESTS, nreq);
    assert_non_null(req);
    assert_non_null(strstr(req, rid));
    free(req);
    assert_int_equal(store->ops->get(store, rid, &s, &err), 1);
    assert_int_equal(s.status, PROFD_RUNNING);
    profd_session_free(&s);
    /* A running session also keeps its target busy. */
    expect_detail(http("POST", P "/start", admin, "{\"service_name\":\"cancel-r\"}", NULL), 409,
                  NULL);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_artifacts_and_links(void **state)
{
    (void)state;
    char id[40], path[256], obj[300], tmp[300];
    put_session("art", PROFD_COMPLETED, profd_now_ms(), id);
    snprintf(path, sizeof path, P "/%s/flamegraph", id);
    expect_detail(http("GET", path, admin, NULL, NULL), 404, NULL); /* nothing stored yet */
    profd_session s;
    profd_error err;
    assert_int_equal(store->ops->get(store, id, &s, &err), 1);
    snprintf(s.flame_graph_object, sizeof s.flame_graph_object, "sessions/%s/flamegraph.html", id);
    snprintf(s.raw_data_object, sizeof s.raw_data_object, "sessions/%s/profile.json", id);
    assert_int_equal(store->ops->put(store, &s, &err), 0);
    snprintf(tmp, sizeof tmp, "%s/upload.html", dir);
    write_file(tmp, "<html>flame</html>");
    assert_int_equal(blob->ops->put_file(blob, s.flame_graph_object, tmp, "text/html", NULL,
                                         PROFD_GEN_NEW, NULL, &err),
                     0);
    write_file(tmp, "{\"speedscope\":1}");
    assert_int_equal(blob->ops->put_file(blob, s.raw_data_object, tmp, "application/json", NULL,
                                         PROFD_GEN_NEW, NULL, &err),
                     0);
    snprintf(obj, sizeof obj, "%s", s.flame_graph_object);
    profd_session_free(&s);
    /* The session carries fresh links. */
    snprintf(path, sizeof path, P "/%s", id);
    resp r = http("GET", path, admin, NULL, NULL);
    json_object *o = body_json(&r);
    const char *fg = jget(o, "flame_graph_url");
    assert_non_null(fg);
    assert_true(strncmp(fg, base, strlen(base)) == 0);
    assert_non_null(strstr(jget(o, "raw_data_url"), "profile.json"));
    /* The link opens without a token. */
    resp f = http("GET", fg + strlen(base), NULL, NULL, NULL);
    assert_int_equal(f.status, 200);
    assert_string_equal(f.body, "<html>flame</html>");
    assert_non_null(strstr(f.headers, "text/html"));
    assert_non_null(strstr(f.headers, "Content-Security-Policy: sandbox"));
    free(f.body);
    /* A changed signature or object does not. */
    char bad[4096];
    snprintf(bad, sizeof bad, "%s", fg + strlen(base));
    char *sig = strstr(bad, "signature=") + 10;
    sig[0] = sig[0] == 'a' ? 'b' : 'a';
    expect_detail(http("GET", bad, NULL, NULL, NULL), 403, "Invalid link signature");
    char *q = strchr(fg, '?');
    snprintf(bad, sizeof bad, "/api/v1/files/sessions/%s/profile.json%s", id, q);
    expect_detail(http("GET", bad, NULL, NULL, NULL), 403, NULL);
    snprintf(bad, sizeof bad, "/api/v1/files/%s?expires=1&signature=00", obj);
    expect_detail(http("GET", bad, NULL, NULL, NULL), 403, NULL);
    json_object_put(o);
    free(r.body);
    /* /flamegraph and /raw redirect to the signed links. */
    snprintf(path, sizeof path, P "/%s/raw", id);
    r = http("GET", path, admin, NULL, NULL);
    assert_int_equal(r.status, 302);
    char *loc = strstr(r.headers, "Location: ");
    assert_non_null(loc);
    assert_non_null(strstr(loc, "/api/v1/files/sessions/"));
    assert_non_null(strstr(loc, "profile.json?expires="));
    free(r.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_not_found),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_artifacts_and_links),
    };
    if (api_http_skip())
        return 0;
    return cmocka_run_group_tests(tests, setup, teardown);
}
