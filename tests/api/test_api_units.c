/* test_api_units.c - routing, list-query parsing and the metrics registry:
 * the API's pure parts, including a crude fuzz pass over random inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profd/api.h"

#define ID "3f2b8c1e-2d4a-4b6c-9e8f-0a1b2c3d4e5f"
#define ID2 "6a1e7c52-93b0-4d8f-a2c4-1f0e9d8c7b6a"
#define P "/api/v1/monitoring/profile"

static profd_route route(const char *m, const char *p)
{
    profd_route r;
    profd_route_match(m, p, &r);
    return r;
}

static void test_routes(void **state)
{
    (void)state;
    profd_route r = route("POST", P "/start");
    assert_int_equal(r.id, PROFD_ROUTE_START);
    assert_true(r.method_ok);
    r = route("GET", P "/start");
    assert_int_equal(r.id, PROFD_ROUTE_START);
    assert_false(r.method_ok);
    assert_string_equal(r.allow, "POST");
    r = route("GET", P);
    assert_int_equal(r.id, PROFD_ROUTE_LIST);
    r = route("GET", P "/");
    assert_int_equal(r.id, PROFD_ROUTE_LIST);
    r = route("GET", P "/" ID);
    assert_int_equal(r.id, PROFD_ROUTE_GET);
    assert_string_equal(r.param, ID);
    assert_string_equal(r.name, P "/{id}");
    r = route("DELETE", P "/" ID);
    assert_int_equal(r.id, PROFD_ROUTE_CANCEL);
    assert_true(r.method_ok);
    r = route("PUT", P "/" ID);
    assert_false(r.method_ok);
    assert_string_equal(r.allow, "GET, HEAD, DELETE");
    r = route("GET", P "/" ID "/flamegraph");
    assert_int_equal(r.id, PROFD_ROUTE_FLAMEGRAPH);
    assert_string_equal(r.param, ID);
    r = route("GET", P "/" ID "/raw");
    assert_int_equal(r.id, PROFD_ROUTE_RAW);
    assert_int_equal(route("GET", P "/" ID "/other").id, PROFD_ROUTE_NONE);
    assert_int_equal(route("GET", P "//raw").id, PROFD_ROUTE_NONE);
    assert_int_equal(route("GET", "/api/v1/monitoring/profiles").id, PROFD_ROUTE_NONE);
    r = route("GET", "/api/v1/files/sessions/" ID "/flamegraph.html");
    assert_int_equal(r.id, PROFD_ROUTE_FILE);
    assert_string_equal(r.param, "sessions/" ID "/flamegraph.html");
    assert_int_equal(route("GET", "/api/v1/files/").id, PROFD_ROUTE_NONE);
    assert_int_equal(route("GET", "/healthz").id, PROFD_ROUTE_HEALTHZ);
    assert_int_equal(route("HEAD", "/readyz").id, PROFD_ROUTE_READYZ);
    assert_true(route("HEAD", "/readyz").method_ok);
    assert_int_equal(route("GET", "/metrics").id, PROFD_ROUTE_METRICS);
    assert_false(route("POST", "/metrics").method_ok);
    assert_int_equal(route("GET", "/").id, PROFD_ROUTE_CONSOLE);
    assert_false(route("POST", "/").method_ok);
    r = route("GET", "/console/app.js");
    assert_int_equal(r.id, PROFD_ROUTE_CONSOLE_ASSET);
    assert_string_equal(r.param, "app.js");
    assert_int_equal(route("GET", "/console/").id, PROFD_ROUTE_NONE);
    assert_int_equal(route("GET", "/console/a/b").id, PROFD_ROUTE_NONE);
    r = route("GET", P "/" ID "/diff/" ID2);
    assert_int_equal(r.id, PROFD_ROUTE_DIFF);
    assert_true(r.method_ok);
    assert_string_equal(r.param, ID);
    assert_string_equal(r.param2, ID2);
    assert_string_equal(r.name, P "/{id}/diff/{other}");
    assert_int_equal(route("GET", P "/" ID "/diff/").id, PROFD_ROUTE_NONE);
    assert_int_equal(route("GET", P "/" ID "/diff/" ID2 "/x").id, PROFD_ROUTE_NONE);
    r = route("DELETE", P "/" ID "/diff/" ID2);
    assert_false(r.method_ok);
    assert_string_equal(r.allow, "GET, HEAD");
    r = route("GET", P "/" ID "/live");
    assert_int_equal(r.id, PROFD_ROUTE_LIVE);
    assert_string_equal(r.param2, "");
    assert_int_equal(route("GET", "/api/v1/openapi.json").id, PROFD_ROUTE_OPENAPI);
    r = route("POST", "/api/v1/console/signin");
    assert_int_equal(r.id, PROFD_ROUTE_SIGNIN);
    assert_true(r.method_ok);
    assert_int_equal(route(NULL, NULL).id, PROFD_ROUTE_NONE);
    char longp[3000];
    memset(longp, 'a', sizeof longp);
    memcpy(longp, P "/", strlen(P "/"));
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(route("GET", longp).id, PROFD_ROUTE_NONE);
}

static void test_list_query(void **state)
{
    (void)state;
    profd_list_filter f;
    char d[256];
    assert_int_equal(profd_list_query_parse(NULL, NULL, NULL, &f, d, sizeof d), 0);
    assert_int_equal(f.limit, 50);
    assert_int_equal(f.status, -1);
    assert_null(f.service);
    assert_int_equal(profd_list_query_parse("web-api", "running", "100", &f, d, sizeof d), 0);
    assert_string_equal(f.service, "web-api");
    assert_int_equal(f.status, PROFD_RUNNING);
    assert_int_equal(f.limit, 100);
    assert_int_equal(profd_list_query_parse(NULL, NULL, "1", &f, d, sizeof d), 0);
    assert_int_equal(f.limit, 1);
    const char *bad_limits[] = {"0", "101", "-1", "", "abc", "5x", "99999999999999999999", " 5"};
    for (size_t i = 0; i < sizeof bad_limits / sizeof *bad_limits; i++) {
        assert_int_equal(profd_list_query_parse(NULL, NULL, bad_limits[i], &f, d, sizeof d), -1);
        assert_non_null(strstr(d, "limit"));
    }
    assert_int_equal(profd_list_query_parse(NULL, "done", NULL, &f, d, sizeof d), -1);
    assert_non_null(strstr(d, "status"));
    assert_int_equal(profd_list_query_parse("Web API", NULL, NULL, &f, d, sizeof d), -1);
    assert_non_null(strstr(d, "service_name"));
    assert_int_equal(profd_list_query_parse("../etc", NULL, NULL, &f, d, sizeof d), -1);
}

static void test_fuzz_routes(void **state)
{
    (void)state;
    const char *methods[] = {"GET", "POST", "DELETE", "PUT", "", "HEAD"};
    const char alphabet[] = "/apiv1monitrgfleshz.-%?&=\xff\x01";
    srand(42);
    char path[512];
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)rand() % sizeof path;
        size_t k = 0;
        if (rand() % 2) {
            const char *pre = P "/";
            k = strlen(pre) < n ? strlen(pre) : n;
            memcpy(path, pre, k);
        }
        for (; k < n; k++)
            path[k] = alphabet[rand() % (sizeof alphabet - 1)];
        path[n ? n - 1 : 0] = '\0';
        profd_route r = route(methods[rand() % 6], path);
        assert_true(strlen(r.param) < sizeof r.param);
        profd_list_filter f;
        char d[128];
        profd_list_query_parse(path, path, path, &f, d, sizeof d);
    }
}

static void test_metrics_format(void **state)
{
    (void)state;
    profd_metrics_reset();
    profd_metrics_session_started("web-api", "api");
    profd_metrics_session_started("web-api", "api");
    profd_metrics_session_started("jobs", "alert");
    profd_metrics_session_finished("completed");
    profd_metrics_capture_duration(12.5);
    profd_metrics_capture_overhead(1.5);
    profd_metrics_capture_overhead(7);
    profd_metrics_bytes_stored(1000);
    profd_metrics_bytes_stored(24);
    profd_metrics_http_request(P "/{id}", 200, 0.003);
    profd_metrics_http_request(P "/{id}", 200, 0.2);
    profd_metrics_rejected("rate_limited");
    profd_metrics_rejected("we\"ird\\\nreason");
    char *t = profd_metrics_render();
    assert_non_null(t);
    assert_non_null(strstr(t, "# TYPE profd_sessions_started_total counter\n"));
    assert_non_null(
        strstr(t, "profd_sessions_started_total{service=\"web-api\",trigger=\"api\"} 2\n"));
    assert_non_null(
        strstr(t, "profd_sessions_started_total{service=\"jobs\",trigger=\"alert\"} 1\n"));
    assert_non_null(strstr(t, "profd_sessions_finished_total{status=\"completed\"} 1\n"));
    assert_non_null(strstr(t, "# TYPE profd_capture_duration_seconds histogram\n"));
    assert_non_null(strstr(t, "profd_capture_duration_seconds_bucket{le=\"10\"} 0\n"));
    assert_non_null(strstr(t, "profd_capture_duration_seconds_bucket{le=\"30\"} 1\n"));
    assert_non_null(strstr(t, "profd_capture_duration_seconds_bucket{le=\"+Inf\"} 1\n"));
    assert_non_null(strstr(t, "profd_capture_duration_seconds_sum 12.5\n"));
    assert_non_null(strstr(t, "profd_capture_duration_seconds_count 1\n"));
    assert_non_null(strstr(t, "# TYPE profd_capture_overhead_percent histogram\n"));
    assert_non_null(strstr(t, "profd_capture_overhead_percent_bucket{le=\"1\"} 0\n"));
    assert_non_null(strstr(t, "profd_capture_overhead_percent_bucket{le=\"2\"} 1\n"));
    assert_non_null(strstr(t, "profd_capture_overhead_percent_bucket{le=\"5\"} 1\n"));
    assert_non_null(strstr(t, "profd_capture_overhead_percent_bucket{le=\"10\"} 2\n"));
    assert_non_null(strstr(t, "profd_capture_overhead_percent_sum 8.5\n"));
    assert_non_null(strstr(t, "profd_bytes_stored_total 1024\n"));
    assert_non_null(strstr(t, "profd_http_request_duration_seconds_bucket{route=\"" P
                              "/{id}\",code=\"200\",le=\"0.005\"} 1\n"));
    assert_non_null(strstr(t, "profd_http_request_duration_seconds_bucket{route=\"" P
                              "/{id}\",code=\"200\",le=\"0.25\"} 2\n"));
    assert_non_null(strstr(t, "profd_http_request_duration_seconds_count{route=\"" P
                              "/{id}\",code=\"200\"} 2\n"));
    assert_non_null(strstr(t, "profd_requests_rejected_total{reason=\"rate_limited\"} 1\n"));
    assert_non_null(strstr(t, "reason=\"we\\\"ird\\\\\\nreason\"} 1\n"));
    /* Every line is a comment or "name[{labels}] value". */
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n"))
        assert_true(line[0] == '#' || strncmp(line, "profd_", 6) == 0);
    free(t);
}

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10000; i++) {
        profd_metrics_session_finished("failed");
        profd_metrics_http_request("/healthz", 200, 0.0001);
    }
    return NULL;
}

static void test_metrics_threads(void **state)
{
    (void)state;
    profd_metrics_reset();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *t = profd_metrics_render();
    assert_non_null(strstr(t, "profd_sessions_finished_total{status=\"failed\"} 40000\n"));
    assert_non_null(strstr(
        t, "profd_http_request_duration_seconds_count{route=\"/healthz\",code=\"200\"} 40000\n"));
    free(t);
}

static void test_metrics_cardinality_cap(void **state)
{
    (void)state;
    profd_metrics_reset();
    char name[32];
    for (int i = 0; i < 1500; i++) {
        snprintf(name, sizeof name, "svc-%d", i);
        profd_metrics_session_started(name, "api");
    }
    char *t = profd_metrics_render();
    assert_non_null(strstr(t, "{service=\"svc-999\",trigger=\"api\"} 1\n"));
    assert_null(strstr(t, "svc-1200"));
    assert_non_null(strstr(t, "{service=\"other\",trigger=\"other\"} 500\n"));
    free(t);
}

/* The route table and src/api/openapi.json name the same operations: every
 * row is documented (method and template), and every documented operation is
 * a row. HEAD is implied by GET on both sides. */
static void test_openapi_matches_routes(void **state)
{
    (void)state;
    const char *src = getenv("PROFD_SOURCE_DIR");
    if (!src)
        skip();
    char path[4096];
    snprintf(path, sizeof path, "%s/src/api/openapi.json", src);
    json_object *doc = json_object_from_file(path);
    assert_non_null(doc);
    json_object *paths;
    assert_true(json_object_object_get_ex(doc, "paths", &paths));
    size_t rows = 0;
    for (const profd_route_def *d = profd_routes; d->path; d++, rows++) {
        json_object *item, *op;
        char m[16];
        size_t i = 0;
        for (; d->method[i] && i < sizeof m - 1; i++)
            m[i] = (char)(d->method[i] | 0x20);
        m[i] = '\0';
        if (!json_object_object_get_ex(paths, d->path, &item))
            fail_msg("route %s %s is not in openapi.json", d->method, d->path);
        if (!json_object_object_get_ex(item, m, &op))
            fail_msg("route %s %s: openapi.json has the path, not the method", d->method, d->path);
    }
    size_t ops = 0;
    json_object_object_foreach(paths, p, item)
    {
        json_object_object_foreach(item, m, op)
        {
            (void)op;
            if (strcmp(m, "parameters") == 0 || strcmp(m, "summary") == 0 ||
                strcmp(m, "description") == 0)
                continue;
            ops++;
            bool found = false;
            for (const profd_route_def *d = profd_routes; d->path && !found; d++)
                found = strcmp(d->path, p) == 0 && strcasecmp(d->method, m) == 0;
            if (!found)
                fail_msg("openapi.json documents %s %s, which no route serves", m, p);
        }
    }
    assert_int_equal(ops, rows);
    json_object_put(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_openapi_matches_routes),
        cmocka_unit_test(test_list_query),
        cmocka_unit_test(test_fuzz_routes),
        cmocka_unit_test(test_metrics_format),
        cmocka_unit_test(test_metrics_threads),
        cmocka_unit_test(test_metrics_cardinality_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
