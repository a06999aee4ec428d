/* test_gcp_retry.c - the one retry rule and the one call (src/gcp/call.c).
 *
 * Every case of Google's retry conformance matrix for Cloud Storage
 * (../shared/testdata/gcs/retry_tests.json) is played through the real
 * profd_gcp_call() over a scripted transport: each instruction of a case is
 * the answer to one attempt, and after them the server succeeds. The method
 * classes come from the matrix's own grouping (id 1: always idempotent; 2:
 * idempotent with a precondition; 4: never), so a case's request is
 * idempotent when its method is always so, or conditionally so and
 * "preconditionProvided". The matrix is run as Google runs it, against an
 * emulator: no credentials, so a 401 is final. With credentials, a 401 is
 * re-authenticated exactly once (a fresh token, counted at the scripted
 * metadata server) and never otherwise retried. Skips the matrix when the
 * shared test data is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/skip.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcp_internal.h"
#include "profd/gcp.h"

#define MAX_SCRIPT 8

/* The scripted server: answers attempts from the script, then 200; token
 * requests get a new token each. */
typedef struct script {
    long status[MAX_SCRIPT];
    int n, next;
    const char *retry_after;
    int requests, token_requests;
    char auth[MAX_SCRIPT + 1][64]; /* Authorization of each API request ("" none) */
} script;

static int play(void *arg, const profd_gcp_req *r, profd_gcp_resp *resp)
{
    script *s = arg;
    if (strstr(r->url, "/service-accounts/default/token")) {
        s->token_requests++;
        char body[128];
        snprintf(body, sizeof body, "{\"access_token\":\"tok-%d\",\"expires_in\":3600}",
                 s->token_requests);
        resp->status = 200;
        resp->body = strdup(body);
        resp->body_len = strlen(body);
        return 0;
    }
    int i = s->requests++;
    if (i <= MAX_SCRIPT) {
        s->auth[i][0] = '\0';
        for (int h = 0; h < r->nheaders; h++)
            if (strncmp(r->headers[h], "Authorization: ", 15) == 0)
                snprintf(s->auth[i], sizeof s->auth[i], "%s", r->headers[h] + 15);
    }
    resp->status = s->next < s->n ? s->status[s->next++] : 200;
    if (resp->status == 0)
        snprintf(resp->error, sizeof resp->error, "Connection reset by peer");
    if (s->retry_after)
        snprintf(resp->retry_after, sizeof resp->retry_after, "%s", s->retry_after);
    return 0;
}

static const profd_gcp_policy FAST = {
    .max_attempts = 6, .deadline_ms = 10000, .base_ms = 1, .timeout_ms = 1000};

static profd_gcp *client(bool with_credentials, script *s)
{
    profd_gcp_opts o = {.no_auth = !with_credentials, .metadata_host = "metadata.test"};
    profd_error err = {0};
    profd_gcp *g = profd_gcp_new(&o, &err);
    assert_non_null(g);
    gcp__set_transport(g, play, s);
    return g;
}

static profd_gcp_result run(profd_gcp *g, bool idempotent, const profd_gcp_policy *p,
                            profd_gcp_resp *resp)
{
    profd_gcp_req req = {.method = "GET", .url = "http://storage.test/storage/v1/b/b/o/x"};
    profd_gcp_add_header(&req, "Accept: application/json");
    profd_error err = {0};
    profd_gcp_result rc = profd_gcp_call(g, &req, idempotent, p, resp, &err);
    assert_int_equal(req.nheaders, 1); /* the caller's headers, as given */
    return rc;
}

/* One instruction of the matrix as the status of one attempt (0: no response). */
static long instruction_status(const char *ins)
{
    static const struct {
        const char *prefix;
        long status;
    } map[] = {{"return-reset-connection", 0},
               {"return-broken-stream", 0},
               {"return-503", 503},
               {"return-408", 408},
               {"return-400", 400},
               {"return-401", 401}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(ins, map[i].prefix, strlen(map[i].prefix)) == 0)
            return map[i].status;
    fail_msg("unknown instruction %s", ins);
    return -1;
}

enum method_class { UNKNOWN, ALWAYS, CONDITIONAL, NEVER };

static json_object *load_matrix(void)
{
    const char *src = getenv("PROFD_SOURCE_DIR");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/../shared/testdata/gcs/retry_tests.json", src ? src : ".");
    json_object *o = json_object_from_file(path);
    if (!o) {
        PROFD_SKIP(path);
    }
    return o;
}

/* name -> class, from the matrix's groups 1, 2 and 4. */
static enum method_class class_of(json_object *tests, const char *name)
{
    for (size_t t = 0; t < json_object_array_length(tests); t++) {
        json_object *test = json_object_array_get_idx(tests, t), *id, *methods;
        json_object_object_get_ex(test, "id", &id);
        int n = json_object_get_int(id);
        if (n != 1 && n != 2 && n != 4)
            continue;
        json_object_object_get_ex(test, "methods", &methods);
        for (size_t m = 0; m < json_object_array_length(methods); m++) {
            json_object *mn;
            json_object_object_get_ex(json_object_array_get_idx(methods, m), "name", &mn);
            if (strcmp(json_object_get_string(mn), name) == 0)
                return n == 1 ? ALWAYS : n == 2 ? CONDITIONAL : NEVER;
        }
    }
    return UNKNOWN;
}

static void test_matrix(void **state)
{
    (void)state;
    json_object *root = load_matrix(), *tests;
    assert_true(json_object_object_get_ex(root, "retryTests", &tests));
    int played = 0;
    for (size_t t = 0; t < json_object_array_length(tests); t++) {
        json_object *test = json_object_array_get_idx(tests, t), *v, *cases, *methods;
        assert_true(json_object_object_get_ex(test, "preconditionProvided", &v));
        bool precondition = json_object_get_boolean(v);
        assert_true(json_object_object_get_ex(test, "expectSuccess", &v));
        bool expect_success = json_object_get_boolean(v);
        assert_true(json_object_object_get_ex(test, "cases", &cases));
        assert_true(json_object_object_get_ex(test, "methods", &methods));
        for (size_t m = 0; m < json_object_array_length(methods); m++) {
            json_object *mn;
            json_object_object_get_ex(json_object_array_get_idx(methods, m), "name", &mn);
            enum method_class c = class_of(tests, json_object_get_string(mn));
            assert_int_not_equal(c, UNKNOWN);
            bool idempotent = c == ALWAYS || (c == CONDITIONAL && precondition);
            for (size_t k = 0; k < json_object_array_length(cases); k++) {
                json_object *ins;
                json_object_object_get_ex(json_object_array_get_idx(cases, k), "instructions",
                                          &ins);
                script s = {0};
                s.n = (int)json_object_array_length(ins);
                assert_true(s.n <= MAX_SCRIPT);
                for (int i = 0; i < s.n; i++)
                    s.status[i] = instruction_status(
                        json_object_get_string(json_object_array_get_idx(ins, (size_t)i)));
                profd_gcp *g = client(false, &s);
                profd_gcp_resp resp;
                profd_gcp_result rc = run(g, idempotent, &FAST, &resp);
                bool ok = rc == PROFD_GCP_OK && resp.status == 200;
                if (ok != expect_success)
                    fail_msg("retry test %zu, %s, case %zu: %s, want %s", t + 1,
                             json_object_get_string(mn), k + 1, ok ? "success" : "failure",
                             expect_success ? "success" : "failure");
                /* Success takes one attempt per instruction and one more; a
                 * failure stops at the first answer not retried. */
                assert_int_equal(resp.attempts, ok ? s.n + 1 : s.next);
                assert_int_equal(s.requests, resp.attempts);
                assert_int_equal(s.token_requests, 0);
                profd_gcp_resp_free(&resp);
                profd_gcp_free(g);
                played++;
            }
        }
    }
    assert_true(played > 200);
    json_object_put(root);
}

/* The rule itself, status by status. */
static void test_next(void **state)
{
    (void)state;
    long transient[] = {0, 408, 429, 500, 502, 503, 504, 599};
    for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++) {
        assert_true(profd_gcp_retryable(transient[i]));
        assert_int_equal(profd_gcp_next(transient[i], true, true, false), PROFD_GCP_BACKOFF);
        assert_int_equal(profd_gcp_next(transient[i], false, true, false), PROFD_GCP_DONE);
    }
    long final[] = {200, 201, 204, 206, 308, 400, 403, 404, 409, 410, 412};
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++) {
        assert_false(profd_gcp_retryable(final[i]));
        assert_int_equal(profd_gcp_next(final[i], true, true, false), PROFD_GCP_DONE);
    }
    assert_int_equal(profd_gcp_next(401, true, true, false), PROFD_GCP_REAUTH);
    assert_int_equal(profd_gcp_next(401, false, true, false), PROFD_GCP_REAUTH);
    assert_int_equal(profd_gcp_next(401, true, true, true), PROFD_GCP_DONE);   /* once */
    assert_int_equal(profd_gcp_next(401, true, false, false), PROFD_GCP_DONE); /* no token */
}

/* With credentials: a 401 drops the token and the request goes again at
 * once with a new one, once per call; for any request, as the server did
 * not act on it. */
static void test_reauth_once(void **state)
{
    (void)state;
    profd_gcp_resp resp;
    script s = {.status = {401}, .n = 1};
    profd_gcp *g = client(true, &s);
    assert_int_equal(run(g, false, &FAST, &resp), PROFD_GCP_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.attempts, 2);
    assert_int_equal(s.token_requests, 2);
    assert_string_equal(s.auth[0], "Bearer tok-1");
    assert_string_equal(s.auth[1], "Bearer tok-2");
    profd_gcp_resp_free(&resp);
    /* The new token is cached for the next call. */
    s = (script){0};
    assert_int_equal(run(g, true, &FAST, &resp), PROFD_GCP_OK);
    assert_int_equal(s.token_requests, 0);
    assert_string_equal(s.auth[0], "Bearer tok-2");
    profd_gcp_resp_free(&resp);
    profd_gcp_free(g);

    /* A second 401 is final: one re-authentication per call. */
    s = (script){.status = {401, 401}, .n = 2};
    g = client(true, &s);
    assert_int_equal(run(g, true, &FAST, &resp), PROFD_GCP_OK);
    assert_int_equal(resp.status, 401);
    assert_int_equal(resp.attempts, 2);
    assert_int_equal(s.token_requests, 2);
    profd_gcp_resp_free(&resp);
    profd_gcp_free(g);

    /* After a transient failure, and with one attempt left. */
    s = (script){.status = {503, 401}, .n = 2};
    g = client(true, &s);
    profd_gcp_policy two = FAST;
    two.max_attempts = 2;
    assert_int_equal(run(g, true, &two, &resp), PROFD_GCP_OK);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.attempts, 3);
    assert_int_equal(s.token_requests, 2);
    profd_gcp_resp_free(&resp);
    profd_gcp_free(g);

    /* Without credentials (an emulator) a 401 is final at once (matrix case 5). */
    s = (script){.status = {401}, .n = 1};
    g = client(false, &s);
    assert_int_equal(run(g, true, &FAST, &resp), PROFD_GCP_OK);
    assert_int_equal(resp.status, 401);
    assert_int_equal(resp.attempts, 1);
    assert_string_equal(s.auth[0], "");
    profd_gcp_resp_free(&resp);
    profd_gcp_free(g);
}

/* The bounds: attempts, the deadline against Retry-After, and no retry of
 * a request that is not idempotent. */
static void test_bounds(void **state)
{
    (void)state;
    profd_gcp_resp resp;
    script s = {.status = {503, 503, 503, 503, 503, 503, 503, 503}, .n = 8};
    profd_gcp *g = client(false, &s);
    profd_gcp_policy three = FAST;
    three.max_attempts = 3;
    assert_int_equal(run(g, true, &three, &resp), PROFD_GCP_TRANSIENT);
    assert_int_equal(resp.status, 503);
    assert_int_equal(resp.attempts, 3);
    profd_gcp_resp_free(&resp);
    profd_gcp_free(g);

    s = (script){.status = {429}, .n = 1, .retry_after = "30"};
    g = client(false, &s);
    int64_t t0 = profd_mono_ms();
    assert_int_equal(run(g, true, &FAST, &resp), PROFD_GCP_TRANSIENT); /* 30 s > 10 s deadline */
    assert_true(profd_mono_ms() - t0 < 1000);
    assert_int_equal(resp.attempts, 1);
    profd_gcp_resp_free(&resp);
    profd_gcp_free(g);

    s = (script){.status = {429}, .n = 1, .retry_after = "1"};
    g = client(false, &s);
    t0 = profd_mono_ms();
    assert_int_equal(run(g, true, &FAST, &resp), PROFD_GCP_OK); /* waited at least 1 s */
    assert_true(profd_mono_ms() - t0 >= 1000);
    assert_int_equal(resp.attempts, 2);
    profd_gcp_resp_free(&resp);
    profd_gcp_free(g);

    s = (script){.status = {0}, .n = 1};
    g = client(false, &s);
    assert_int_equal(run(g, false, &FAST, &resp), PROFD_GCP_TRANSIENT);
    assert_int_equal(resp.attempts, 1);
    assert_string_equal(resp.error, "Connection reset by peer");
    profd_gcp_resp_free(&resp);
    profd_gcp_free(g);

    /* Each exchange's timeout is the policy's, cut to the deadline, >= 1 s. */
    profd_gcp_backoff b;
    profd_gcp_policy p = {.max_attempts = 1, .deadline_ms = 120000, .timeout_ms = 60000};
    profd_gcp_backoff_start(&b, &p);
    assert_int_equal(profd_gcp_backoff_timeout(&b), 60000);
    p.deadline_ms = 5000;
    profd_gcp_backoff_start(&b, &p);
    assert_true(profd_gcp_backoff_timeout(&b) <= 5000 && profd_gcp_backoff_timeout(&b) > 4000);
    p.deadline_ms = 10;
    profd_gcp_backoff_start(&b, &p);
    assert_int_equal(profd_gcp_backoff_timeout(&b), 1000);
}

/* Token requests themselves go through the rule: a transient failure at the
 * metadata server is retried, and a failure to get a token is NO_TOKEN with
 * no API request made. */
static int flaky_tokens(void *arg, const profd_gcp_req *r, profd_gcp_resp *resp)
{
    script *s = arg;
    if (strstr(r->url, "/token") && s->next < s->n) { /* the script is for tokens here */
        s->token_requests++;
        resp->status = s->status[s->next++];
        return 0;
    }
    return play(arg, r, resp);
}

static void test_token_requests(void **state)
{
    (void)state;
    profd_gcp_resp resp;
    script s = {.status = {503}, .n = 1};
    profd_gcp *g = client(true, &s);
    gcp__set_transport(g, flaky_tokens, &s);
    assert_int_equal(run(g, true, &FAST, &resp), PROFD_GCP_OK);
    assert_int_equal(s.token_requests, 2);
    assert_string_equal(s.auth[0], "Bearer tok-2");
    profd_gcp_resp_free(&resp);
    profd_gcp_free(g);

    s = (script){.status = {403}, .n = 1};
    g = client(true, &s);
    gcp__set_transport(g, flaky_tokens, &s);
    profd_gcp_req req = {.method = "GET", .url = "http://storage.test/x"};
    profd_error err = {0};
    assert_int_equal(profd_gcp_call(g, &req, true, &FAST, &resp, &err), PROFD_GCP_NO_TOKEN);
    assert_int_equal(s.requests, 0);
    assert_non_null(strstr(err.msg, "token request to the metadata server"));
    assert_non_null(strstr(err.msg, "failed after 1 attempt: HTTP 403"));
    profd_gcp_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next),           cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_reauth_once),    cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_token_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
