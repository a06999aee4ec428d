/* test_api_console.c - the API pieces of the console (docs/console.md) over
 * real HTTP, a real redis-server and the file blob store: the diff of two
 * sessions (HTML page and the JSON table of what changed), the CSP and nosniff
 * headers, and the viewer role (reads yes, start and cancel no). Sessions are
 * completed records whose stacks.txt is stored in the blob store, as the
 * worker leaves them; the expected shares are computed here from the same
 * stacks the test stores. Fixture: api_http_fixture.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_http_fixture.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A completed session of service with stacks (collapsed text), or without
 * stored stacks when stacks is NULL. */
static void put_completed(const char *service, const char *stacks, char *id)
{
    profd_session s;
    profd_session_init(&s);
    profd_uuid4(s.session_id);
    snprintf(s.service_name, sizeof s.service_name, "%s", service);
    s.status = stacks ? PROFD_COMPLETED : PROFD_RUNNING;
    s.created_at = profd_now_ms();
    s.duration_seconds = 10;
    s.sample_rate_hz = 100;
    snprintf(s.trigger, sizeof s.trigger, "api");
    profd_error err;
    assert_int_equal(store->ops->create(store, &s, &err), 1);
    if (stacks) {
        char tmp[300];
        s.completed_at = s.created_at + 10000;
        snprintf(s.stacks_object, sizeof s.stacks_object, "sessions/%s/stacks.txt", s.session_id);
        snprintf(tmp, sizeof tmp, "%s/stacks-upload.txt", dir);
        write_file(tmp, stacks);
        assert_int_equal(blob->ops->put_file(blob, s.stacks_object, tmp, "text/plain", NULL,
                                             PROFD_GEN_NEW, NULL, &err),
                         0);
    }
    assert_int_equal(store->ops->put(store, &s, &err), 0);
    snprintf(id, PROFD_UUID_LEN + 1, "%s", s.session_id);
    profd_session_free(&s);
}

/* before: a 30 (two lines of a, one recursive), b 70; after: a 80, b 20. */
#define BEFORE                                                                                     \
    "main (app.py:1);a (app.py:5) 20\n"                                                            \
    "main (app.py:1);a (app.py:6);a (app.py:5) 10\n"                                               \
    "main (app.py:1);b (lib/b.py:9) 70\n"
#define AFTER                                                                                      \
    "main (app.py:1);a (app.py:5) 60\n"                                                            \
    "main (app.py:1);a (app.py:7) 20\n"                                                            \
    "main (app.py:1);b (lib/b.py:9) 15\n"                                                          \
    "main (app.py:1);c (app.py:30) 5\n"

static json_object *row(json_object *changes, const char *fn)
{
    for (size_t i = 0; i < json_object_array_length(changes); i++) {
        json_object *e = json_object_array_get_idx(changes, i);
        if (strcmp(jget(e, "function"), fn) == 0)
            return e;
    }
    fail_msg("no row for %s", fn);
    return NULL;
}

static double num(json_object *o, const char *k)
{
    json_object *v;
    assert_true(json_object_object_get_ex(o, k, &v));
    return json_object_get_double(v);
}

static void test_diff_json(void **state)
{
    (void)state;
    char a[40], b[40], path[256];
    put_completed("diff-svc", BEFORE, a);
    put_completed("diff-svc", AFTER, b);
    snprintf(path, sizeof path, P "/%s/diff/%s", a, b);
    resp r = http("GET", path, admin, NULL, "Accept: application/json");
    assert_int_equal(r.status, 200);
    json_object *o = body_json(&r);
    assert_string_equal(jget(o, "before"), a);
    assert_string_equal(jget(o, "after"), b);
    assert_int_equal((int)num(o, "before_samples"), 100);
    assert_int_equal((int)num(o, "after_samples"), 100);
    json_object *ch;
    assert_true(json_object_object_get_ex(o, "changes", &ch));
    /* main, a, b, c: main did not change, so it is last */
    assert_int_equal(json_object_array_length(ch), 4);
    json_object *ra = row(ch, "a"), *rb = row(ch, "b"), *rc = row(ch, "c");
    assert_string_equal(jget(ra, "file"), "app.py");
    assert_string_equal(jget(rb, "file"), "lib/b.py");
    assert_true(fabs(num(ra, "share_before") - 30.0) < 1e-9); /* recursion counted once */
    assert_true(fabs(num(ra, "share_after") - 80.0) < 1e-9);  /* lines merged */
    assert_true(fabs(num(ra, "delta_points") - 50.0) < 1e-9);
    assert_true(fabs(num(rb, "delta_points") + 55.0) < 1e-9);
    assert_true(fabs(num(rc, "share_before")) < 1e-9);
    assert_true(fabs(num(rc, "delta_points") - 5.0) < 1e-9);
    /* largest |delta| first */
    assert_string_equal(jget(json_object_array_get_idx(ch, 0), "function"), "b");
    assert_string_equal(jget(json_object_array_get_idx(ch, 1), "function"), "a");
    assert_string_equal(jget(json_object_array_get_idx(ch, 3), "function"), "main");
    json_object_put(o);
    free(r.body);
    /* limit */
    snprintf(path, sizeof path, P "/%s/diff/%s?limit=1", a, b);
    r = http("GET", path, admin, NULL, "Accept: application/json");
    o = body_json(&r);
    assert_true(json_object_object_get_ex(o, "changes", &ch));
    assert_int_equal(json_object_array_length(ch), 1);
    json_object_put(o);
    free(r.body);
    snprintf(path, sizeof path, P "/%s/diff/%s?limit=0", a, b);
    expect_detail(http("GET", path, admin, NULL, "Accept: application/json"), 422,
                  "limit must be an integer between 1 and 100");
}

static void test_diff_page(void **state)
{
    (void)state;
    char a[40], b[40], path[256];
    put_completed("diff-page", BEFORE, a);
    put_completed("diff-page", AFTER, b);
    snprintf(path, sizeof path, P "/%s/diff/%s", a, b);
    resp r = http("GET", path, admin, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "text/html"));
    assert_non_null(strstr(r.headers, "X-Content-Type-Options: nosniff"));
    const char *csp = strstr(r.headers, "Content-Security-Policy: default-src 'self'; ");
    assert_non_null(csp);
    assert_non_null(strstr(csp, "frame-ancestors 'self'"));
    assert_non_null(strstr(csp, "script-src 'sha256-"));
    assert_null(strstr(csp, "unsafe-inline"));
    /* the renderer's diff page: both totals and the before counts */
    assert_non_null(strstr(r.body, "\"btotal\":100"));
    assert_non_null(strstr(r.body, "Differential flame graph: diff-page"));
    free(r.body);
}

static void test_diff_errors(void **state)
{
    (void)state;
    char a[40], running[40], path[256];
    put_completed("diff-err", BEFORE, a);
    put_completed("diff-err", NULL, running);
    snprintf(path, sizeof path, P "/%s/diff/%s", a, running);
    char want[200];
    snprintf(want, sizeof want, "Profiling session %s has no stored stacks (status running)",
             running);
    expect_detail(http("GET", path, admin, NULL, NULL), 409, want);
    snprintf(path, sizeof path, P "/%s/diff/not-a-uuid", a);
    expect_detail(http("GET", path, admin, NULL, NULL), 404,
                  "Profiling session not-a-uuid not found");
    snprintf(path, sizeof path, P "/%s/diff/%s", a, a);
    expect_detail(http("GET", path, NULL, NULL, NULL), 401, NULL);
    expect_detail(http("POST", path, admin, "{}", NULL), 405, NULL);
}

static void test_viewer_reads_only(void **state)
{
    (void)state;
    char a[40], b[40], path[256];
    put_completed("viewer-svc", BEFORE, a);
    put_completed("viewer-svc", AFTER, b);
    char *viewer = token_for("vera", "[\"viewer\"]");
    char *nobody = token_for("nobody", "[\"guest\"]");
    snprintf(path, sizeof path, P "/%s", a);
    resp r = http("GET", path, viewer, NULL, NULL);
    assert_int_equal(r.status, 200);
    free(r.body);
    r = http("GET", P "?service_name=viewer-svc", viewer, NULL, NULL);
    assert_int_equal(r.status, 200);
    free(r.body);
    snprintf(path, sizeof path, P "/%s/diff/%s", a, b);
    r = http("GET", path, viewer, NULL, "Accept: application/json");
    assert_int_equal(r.status, 200);
    free(r.body);
    expect_detail(http("POST", P "/start", viewer, "{\"service_name\":\"viewer-svc\"}", NULL), 403,
                  "Forbidden: token lacks the required role 'admin'");
    snprintf(path, sizeof path, P "/%s", a);
    expect_detail(http("DELETE", path, viewer, NULL, NULL), 403, NULL);
    expect_detail(http("GET", path, nobody, NULL, NULL), 403, NULL);
    free(viewer);
    free(nobody);
}

static resp signin(const char *code)
{
    char body[200];
    snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
    return http("POST", "/api/v1/console/signin", NULL, body, NULL);
}

/* The one-time code: exchanged once for a working admin token; a second use,
 * an older code replaced by a newer one, and an expired code are all 401. */
static void test_signin_code(void **state)
{
    (void)state;
    char c1[64], c2[64], c3[64];
    profd_error err;
    assert_int_equal(profd_api_signin_code(api, 600, c1, sizeof c1, &err), 0);
    assert_int_equal(strlen(c1), 32);
    assert_int_equal(profd_api_signin_code(api, 600, c2, sizeof c2, &err), 0);
    assert_string_not_equal(c1, c2);
    expect_detail(signin(c1), 401, "Sign-in code is invalid, used or expired"); /* replaced */
    resp r = signin(c2);
    assert_int_equal(r.status, 200);
    json_object *o = body_json(&r);
    const char *tok = jget(o, "token");
    assert_non_null(tok);
    resp who = http("GET", "/api/v1/console/whoami", tok, NULL, NULL);
    assert_int_equal(who.status, 200);
    assert_non_null(strstr(who.body, "\"sub\":\"console\",\"admin\":true"));
    free(who.body);
    json_object_put(o);
    free(r.body);
    expect_detail(signin(c2), 401, NULL); /* used */
    assert_int_equal(profd_api_signin_code(api, 1, c3, sizeof c3, &err), 0);
    usleep(1100 * 1000);
    expect_detail(signin(c3), 401, NULL); /* expired */
    expect_detail(http("POST", "/api/v1/console/signin", NULL, "{\"code\":7}", NULL), 400, NULL);
    expect_detail(http("POST", "/api/v1/console/signin", NULL, "not json", NULL), 400, NULL);
    /* the code is not a token anywhere else */
    assert_int_equal(profd_api_signin_code(api, 600, c1, sizeof c1, &err), 0);
    expect_detail(http("GET", P "?limit=1", c1, NULL, NULL), 401, NULL);
    char path[200];
    snprintf(path, sizeof path, P "?limit=1&code=%s", c1);
    expect_detail(http("GET", path, NULL, NULL, NULL), 401, NULL);
    r = signin(c1); /* and was not used up by those */
    assert_int_equal(r.status, 200);
    free(r.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_json),   cmocka_unit_test(test_diff_page),
        cmocka_unit_test(test_diff_errors), cmocka_unit_test(test_viewer_reads_only),
        cmocka_unit_test(test_signin_code),
    };
    if (api_http_skip())
        return 0;
    return cmocka_run_group_tests(tests, setup, teardown);
}
