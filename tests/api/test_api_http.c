/* test_api_http.c - the REST API over real HTTP (libcurl), with a real
 * redis-server as the session store, the memory bus (read back to check what
 * was published) and the file blob store in a temporary directory.
 *
 * Covers every endpoint and its error paths, the auth matrix through HTTP,
 * rate limiting, list filters / ordering / limit bounds, idempotency keys,
 * signed file links, body and connection limits, metrics, and 50 concurrent
 * clients.
 *
 * The cases are split in three binaries over one fixture (api_http_fixture.c).
 * This one has the way in: health, readiness and metrics, the auth matrix and
 * public-key auth, starting sessions (validation, the body cap, no sampler)
 * and rate limiting. test_metrics_after reads the counters that those tests
 * move (started, unauthorized, rate_limited, target_busy), so they share its
 * process. Reading, listing and cancelling sessions and their file links are
 * in test_api_http_sessions.c; idempotency keys, concurrent and slow clients
 * in test_api_http_clients.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_http_fixture.h"

/* ---- tests ---------------------------------------------------------------- */

static void test_health_ready_metrics(void **state)
{
    (void)state;
    resp r = http("GET", "/healthz", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "ok"));
    free(r.body);
    r = http("GET", "/readyz", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    free(r.body);
    r = http("GET", "/metrics", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "text/plain; version=0.0.4"));
    assert_non_null(strstr(r.body, "# TYPE profd_http_request_duration_seconds histogram"));
    assert_non_null(strstr(r.body, "route=\"/healthz\",code=\"200\""));
    free(r.body);
    expect_detail(http("GET", "/nope", NULL, NULL, NULL), 404, "Not Found");
    r = http("POST", "/healthz", NULL, "", NULL);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.headers, "Allow: GET, HEAD"));
    free(r.body);
}

static char *raw_token(const char *header, const char *payload, const char *sig)
{
    char h[512], p[512];
    profd_b64_encode((const unsigned char *)header, strlen(header), true, h);
    profd_b64_encode((const unsigned char *)payload, strlen(payload), true, p);
    char *t = malloc(strlen(h) + strlen(p) + strlen(sig) + 3);
    sprintf(t, "%s.%s.%s", h, p, sig);
    return t;
}

static void test_auth_matrix(void **state)
{
    (void)state;
    resp r = http("GET", P, NULL, NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.headers, "WWW-Authenticate: Bearer realm=\"profd\""));
    free(r.body);
    r = http("GET", P, NULL, NULL, "Authorization: Basic YWRtaW46YWRtaW4=");
    assert_int_equal(r.status, 401);
    free(r.body);
    char *viewer = token_for("bob", "[\"viewer\"]");
    resp vr = http("GET", P, viewer, NULL, NULL); /* viewers read (test_api_console) */
    assert_int_equal(vr.status, 200);
    free(vr.body);
    expect_detail(http("POST", P "/start", viewer, "{\"service_name\":\"a\"}", NULL), 403, NULL);
    free(viewer);
    char claims[256];
    snprintf(claims, sizeof claims, "{\"sub\":\"a\",\"roles\":[\"admin\"],\"exp\":%lld}",
             (long long)(profd_now_ms() / 1000 - 3600));
    char *expired = profd_jwt_sign_hs256(SECRET, claims);
    r = http("GET", P, expired, NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.headers, "error=\"invalid_token\""));
    assert_non_null(strstr(r.body, "expired"));
    assert_null(strstr(r.body, expired)); /* never echoed */
    free(r.body);
    free(expired);
    char *forged = profd_jwt_sign_hs256("not-the-secret", "{\"sub\":\"a\",\"role\":\"admin\"}");
    expect_detail(http("GET", P, forged, NULL, NULL), 401, NULL);
    free(forged);
    char *none = raw_token("{\"alg\":\"none\"}", "{\"sub\":\"a\",\"role\":\"admin\"}", "");
    expect_detail(http("GET", P, none, NULL, NULL), 401, NULL);
    free(none);
    char *rs = raw_token("{\"alg\":\"RS256\"}", "{\"sub\":\"a\",\"role\":\"admin\"}", "AAAA");
    expect_detail(http("GET", P, rs, NULL, NULL), 401, NULL);
    free(rs);
    expect_detail(http("GET", P, "garbage", NULL, NULL), 401, NULL);
    r = http("GET", P, admin, NULL, NULL);
    assert_int_equal(r.status, 200);
    free(r.body);
    /* Every profiling route is guarded. */
    const char *paths[] = {P "/00000000-0000-4000-8000-000000000000",
                           P "/00000000-0000-4000-8000-000000000000/flamegraph",
                           P "/00000000-0000-4000-8000-000000000000/raw"};
    for (int i = 0; i < 3; i++)
        expect_detail(http("GET", paths[i], NULL, NULL, NULL), 401, NULL);
    expect_detail(http("DELETE", paths[0], NULL, NULL, NULL), 401, NULL);
}

/* ES256 with a PEM public key through the server: the right token passes,
 * an HS256 token keyed with the PEM bytes (algorithm confusion) does not. */
static char *es256_token(EVP_PKEY *key, const char *payload)
{
    const char *header = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
    char h[256], p[512], in[800], sig64[128];
    profd_b64_encode((const unsigned char *)header, strlen(header), true, h);
    profd_b64_encode((const unsigned char *)payload, strlen(payload), true, p);
    snprintf(in, sizeof in, "%s.%s", h, p);
    unsigned char der[128], raw[64];
    size_t derlen = sizeof der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(ctx, der, &derlen, (unsigned char *)in, strlen(in)), 1);
    EVP_MD_CTX_free(ctx);
    const unsigned char *d = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &d, (long)derlen);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    BN_bn2binpad(r, raw, 32);
    BN_bn2binpad(s, raw + 32, 32);
    ECDSA_SIG_free(es);
    profd_b64_encode(raw, 64, true, sig64);
    char *t = malloc(strlen(in) + strlen(sig64) + 2);
    sprintf(t, "%s.%s", in, sig64);
    return t;
}

static void test_public_key_auth(void **state)
{
    (void)state;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    char pem[300];
    snprintf(pem, sizeof pem, "%s/jwt-ec.pem", dir);
    FILE *f = fopen(pem, "w");
    PEM_write_PUBKEY(f, key);
    fclose(f);
    profd_config c2 = cfg;
    c2.jwt_secret[0] = '\0';
    snprintf(c2.jwt_public_key, sizeof c2.jwt_public_key, "%s", pem);
    snprintf(c2.jwt_issuer, sizeof c2.jwt_issuer, "https://idp.example");
    snprintf(c2.jwt_audience, sizeof c2.jwt_audience, "profd");
    profd_api_opts o = {.cfg = &c2, .store = store, .bus = bus, .blob = blob};
    profd_error err;
    profd_api *a2 = profd_api_start(&o, &err);
    assert_non_null(a2);
    char b2[64], claims[256];
    snprintf(b2, sizeof b2, "http://127.0.0.1:%d", profd_api_port(a2));
    long long exp = (long long)(profd_now_ms() / 1000 + 300);
    snprintf(claims, sizeof claims,
             "{\"sub\":\"idp-user\",\"roles\":[\"admin\"],\"iss\":\"https://idp.example\","
             "\"aud\":[\"other\",\"profd\"],\"exp\":%lld}",
             exp);
    char *good = es256_token(key, claims);
    resp r = http_on(b2, "GET", P "?limit=1", good, NULL, NULL);
    assert_int_equal(r.status, 200);
    free(r.body);
    /* The admin HS256 token of the main API means nothing here. */
    expect_detail(http_on(b2, "GET", P, admin, NULL, NULL), 401, NULL);
    /* HS256 "signed" with the public key file's bytes. */
    size_t plen = 0;
    char *pembytes = profd_read_file(pem, 8192, &plen);
    assert_non_null(pembytes);
    char *confused = profd_jwt_sign_hs256(pembytes, claims);
    expect_detail(http_on(b2, "GET", P, confused, NULL, NULL), 401, NULL);
    /* Wrong audience. */
    snprintf(claims, sizeof claims,
             "{\"sub\":\"idp-user\",\"roles\":[\"admin\"],\"iss\":\"https://idp.example\","
             "\"aud\":\"someone-else\",\"exp\":%lld}",
             exp);
    char *wrong_aud = es256_token(key, claims);
    expect_detail(http_on(b2, "GET", P, wrong_aud, NULL, NULL), 401, NULL);
    free(good), free(confused), free(wrong_aud), free(pembytes);
    profd_api_stop(a2);
    EVP_PKEY_free(key);
    unlink(pem);
}

static void test_start_records_and_publishes(void **state)
{
    (void)state;
    int nreq = profd_bus_memory_count(PROFD_TOPIC_REQUESTS);
    int nev = profd_bus_memory_count(PROFD_TOPIC_EVENTS);
    resp r = http("POST", P "/start", admin,
                  "{\"service_name\":\"web-api\",\"duration_seconds\":30,\"trigger\":\"alert\","
                  "\"requested_by\":\"mallory\",\"labels\":{\"team\":\"core\"}}",
                  NULL);
    assert_int_equal(r.status, 201);
    json_object *o = body_json(&r);
    char id[PROFD_UUID_LEN + 1];
    snprintf(id, sizeof id, "%s", jget(o, "session_id"));
    assert_true(profd_uuid_valid(id));
    assert_string_equal(jget(o, "status"), "queued");
    assert_string_equal(jget(o, "service_name"), "web-api");
    assert_string_equal(jget(o, "duration_seconds"), "30");
    assert_string_equal(jget(o, "trigger"), "api");        /* the API's, not the body's */
    assert_string_equal(jget(o, "requested_by"), "alice"); /* the token's subject */
    char loc[128];
    snprintf(loc, sizeof loc, "Location: " P "/%s", id);
    assert_non_null(strstr(r.headers, loc));
    /* Recorded in Redis. */
    profd_session s;
    profd_error err;
    assert_int_equal(store->ops->get(store, id, &s, &err), 1);
    assert_int_equal(s.status, PROFD_QUEUED);
    assert_int_equal(s.duration_seconds, 30);
    profd_session_free(&s);
    /* Published: the request (keyed by session) and session.queued. */
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), nreq + 1);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_EVENTS), nev + 1);
    char *req = profd_bus_memory_get(PROFD_TOPIC_REQUESTS, nreq);
    profd_request q;
    profd_limits lim = {10, 300};
    assert_int_equal(profd_request_parse(req, strlen(req), &lim, &q, &err), 0);
    assert_string_equal(q.session_id, id);
    assert_string_equal(q.requested_by, "alice");
    assert_int_equal(q.type, PROFD_REQ_PROFILE);
    profd_request_free(&q);
    free(req);
    char *ev = profd_bus_memory_get(PROFD_TOPIC_EVENTS, nev);
    assert_non_null(strstr(ev, "session.queued"));
    assert_non_null(strstr(ev, id));
    free(ev);
    json_object_put(o);
    free(r.body);
    /* Readable, and a second start of the same target is busy. */
    char path[128];
    snprintf(path, sizeof path, P "/%s", id);
    r = http("GET", path, admin, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, id));
    free(r.body);
    expect_detail(http("POST", P "/start", admin, "{\"service_name\":\"web-api\"}", NULL), 409,
                  NULL);
}

static void test_start_validation(void **state)
{
    (void)state;
    expect_detail(http("POST", P "/start", admin, "{\"service_name\":", NULL), 400, NULL);
    expect_detail(http("POST", P "/start", admin, "", NULL), 400, NULL);
    expect_detail(http("POST", P "/start", admin, "{} x", NULL), 400, NULL);
    expect_detail(http("POST", P "/start", admin, "[1,2]", NULL), 422, NULL);
    expect_detail(
        http("POST", P "/start", admin, "{\"service_name\":\"v1\",\"duration_seconds\":5}", NULL),
        422, "Duration must be between 10 and 300 seconds");
    expect_detail(
        http("POST", P "/start", admin, "{\"service_name\":\"v1\",\"duration_seconds\":301}", NULL),
        422, "Duration must be between 10 and 300 seconds");
    expect_detail(http("POST", P "/start", admin,
                       "{\"service_name\":\"v1\",\"duration_seconds\":\"ten\"}", NULL),
                  422, "Duration must be between 10 and 300 seconds");
    expect_detail(http("POST", P "/start", admin, "{\"service_name\":\"Bad Name\"}", NULL), 422,
                  NULL);
    expect_detail(http("POST", P "/start", admin, "{\"duration_seconds\":60}", NULL), 422, NULL);
    /* A pid without a host means nothing to `profd api` (serve fills its host in). */
    expect_detail(http("POST", P "/start", admin, "{\"service_name\":\"v1\",\"pid\":42}", NULL),
                  422, NULL);
    expect_detail(http("POST", P "/start", admin, "{\"service_name\":\"v1\",\"pid\":-1}", NULL),
                  422, NULL);
    /* 64 KiB body cap. */
    size_t n = 70 * 1024;
    char *big = malloc(n + 64);
    snprintf(big, 64, "{\"service_name\":\"v1\",\"labels\":{\"x\":\"");
    memset(big + strlen(big), 'a', n);
    strcpy(big + n, "\"}}");
    expect_detail(http("POST", P "/start", admin, big, NULL), 413, NULL);
    free(big);
    /* Nothing was queued for v1. */
    resp r = http("GET", P "?service_name=v1", admin, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "[]");
    free(r.body);
}

static void test_sampler_unavailable(void **state)
{
    (void)state;
    profd_config c2 = cfg;
    snprintf(c2.sampler, sizeof c2.sampler, "py-spy");
    snprintf(c2.pyspy, sizeof c2.pyspy, "/nonexistent/py-spy");
    profd_api_opts o = {.cfg = &c2, .store = store, .bus = bus, .blob = blob};
    profd_error err;
    profd_api *a2 = profd_api_start(&o, &err);
    assert_non_null(a2);
    char b2[64];
    snprintf(b2, sizeof b2, "http://127.0.0.1:%d", profd_api_port(a2));
    resp r = http_on(b2, "POST", P "/start", admin, "{\"service_name\":\"needs-pyspy\"}", NULL);
    expect_detail(r, 503, "py-spy is not installed. Install with: pip install py-spy");
    profd_api_stop(a2);
}

static void test_rate_limit(void **state)
{
    (void)state;
    profd_config c2 = cfg;
    c2.rate_limit = 3;
    profd_api_opts o = {.cfg = &c2, .store = store, .bus = bus, .blob = blob};
    profd_error err;
    profd_api *a2 = profd_api_start(&o, &err);
    assert_non_null(a2);
    char b2[64], body[128];
    snprintf(b2, sizeof b2, "http://127.0.0.1:%d", profd_api_port(a2));
    char *dave = token_for("dave", "[\"admin\"]");
    /* Align with the minute window so four requests land in one. */
    while (profd_now_ms() / 1000 % 60 > 55)
        usleep(200 * 1000);
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body, "{\"service_name\":\"rl-%d\"}", i);
        resp r = http_on(b2, "POST", P "/start", dave, body, NULL);
        assert_int_equal(r.status, 201);
        free(r.body);
    }
    resp r = http_on(b2, "POST", P "/start", dave, "{\"service_name\":\"rl-9\"}", NULL);
    assert_int_equal(r.status, 429);
    char *ra = strstr(r.headers, "Retry-After: ");
    assert_non_null(ra);
    int secs = atoi(ra + 13);
    assert_true(secs >= 1 && secs <= 60);
    free(r.body);
    /* Other subjects are not affected; reads are not limited. */
    char *erin = token_for("erin", "[\"admin\"]");
    r = http_on(b2, "POST", P "/start", erin, "{\"service_name\":\"rl-erin\"}", NULL);
    assert_int_equal(r.status, 201);
    free(r.body);
    r = http_on(b2, "GET", P "?limit=1", dave, NULL, NULL);
    assert_int_equal(r.status, 200);
    free(r.body);
    free(dave);
    free(erin);
    profd_api_stop(a2);
}

static void test_metrics_after(void **state)
{
    (void)state;
    resp r = http("GET", "/metrics", NULL, NULL, NULL);
    assert_non_null(
        strstr(r.body, "profd_sessions_started_total{service=\"web-api\",trigger=\"api\"} 1"));
    assert_non_null(strstr(r.body, "route=\"" P "/start\",code=\"201\""));
    assert_non_null(strstr(r.body, "profd_requests_rejected_total{reason=\"unauthorized\"}"));
    assert_non_null(strstr(r.body, "profd_requests_rejected_total{reason=\"rate_limited\"} 1"));
    assert_non_null(strstr(r.body, "profd_requests_rejected_total{reason=\"target_busy\"}"));
    free(r.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_ready_metrics),
        cmocka_unit_test(test_auth_matrix),
        cmocka_unit_test(test_public_key_auth),
        cmocka_unit_test(test_start_records_and_publishes),
        cmocka_unit_test(test_start_validation),
        cmocka_unit_test(test_sampler_unavailable),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_metrics_after),
    };
    if (api_http_skip())
        return 0;
    return cmocka_run_group_tests(tests, setup, teardown);
}
