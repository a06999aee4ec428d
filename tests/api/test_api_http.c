/* test_api_http.c - the REST API over real HTTP (libcurl), with a real
 * redis-server as the session store, the memory bus (read back to check what
 * was published) and the file blob store in a temporary directory.
 *
 * Covers every endpoint and its error paths, the auth matrix through HTTP,
 * rate limiting, list filters / ordering / limit bounds, idempotency keys,
 * signed file links, body and connection limits, metrics, and 50 concurrent
 * clients. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profd/api.h"
#include "profd/blob.h"
#include "profd/bus.h"
#include "profd/log.h"
#include "profd/store.h"
#include "support/http_client.h"
#include "support/redis_server.h"

#define P "/api/v1/monitoring/profile"
#define SECRET "http-test-secret"

static profd_test_redis redis;
static profd_config cfg;
static profd_store *store;
static profd_bus *bus;
static profd_blob *blob;
static profd_api *api;
static char base[128], dir[] = "/tmp/profd-apitest-XXXXXX", admin[1024];
static const char *link_key = "0123456789abcdef0123456789abcdef";

typedef test_resp resp;

/* One request; extra is one more header line or NULL. */
static resp http_on(const char *url_base, const char *method, const char *path, const char *token,
                    const char *body, const char *extra)
{
    char url[4096], auth[2048];
    const char *headers[3] = {NULL, NULL, NULL};
    int n = 0;
    snprintf(url, sizeof url, "%s%s", url_base, path);
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers[n++] = auth;
    }
    if (extra)
        headers[n++] = extra;
    return test_http(method, url, headers, NULL, NULL, body);
}

static resp http(const char *method, const char *path, const char *token, const char *body,
                 const char *extra)
{
    return http_on(base, method, path, token, body, extra);
}

static const char *jget(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : NULL;
}

/* The body parsed (caller puts). */
static json_object *body_json(const resp *r)
{
    json_object *o = json_tokener_parse(r->body);
    assert_non_null(o);
    return o;
}

static void expect_detail(resp r, long status, const char *detail)
{
    if (r.status != status)
        fprintf(stderr, "expected %ld, got %ld: %s\n", status, r.status, r.body);
    assert_int_equal(r.status, status);
    json_object *o = body_json(&r);
    const char *d = jget(o, "detail");
    assert_non_null(d);
    if (detail && strcmp(d, detail) != 0)
        fail_msg("detail '%s' != '%s'", d, detail);
    json_object_put(o);
    free(r.body);
}

static char *token_for(const char *sub, const char *roles_json)
{
    char claims[512];
    snprintf(claims, sizeof claims, "{\"sub\":\"%s\",\"roles\":%s,\"exp\":%lld}", sub, roles_json,
             (long long)(profd_now_ms() / 1000 + 600));
    return profd_jwt_sign_hs256(SECRET, claims);
}

static int setup(void **state)
{
    (void)state;
    if (!profd_test_redis_binary()) {
        fprintf(stderr, "SKIP: redis-server is not installed\n");
        return -1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setenv("PROFD_LOG_LEVEL", "error", 1);
    profd_log_init();
    assert_int_equal(profd_test_redis_start(&redis, false), 0);
    profd_error err;
    assert_int_equal(profd_config_load(&cfg, &err), 0);
    snprintf(cfg.redis_url, sizeof cfg.redis_url, "%s", redis.url);
    snprintf(cfg.jwt_secret, sizeof cfg.jwt_secret, SECRET);
    cfg.jwt_public_key[0] = cfg.jwt_issuer[0] = cfg.jwt_audience[0] = '\0';
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
    snprintf(cfg.bus, sizeof cfg.bus, "memory");
    snprintf(cfg.sampler, sizeof cfg.sampler, "builtin");
    snprintf(cfg.admin_role, sizeof cfg.admin_role, "admin");
    cfg.rate_limit = 100000;
    cfg.duration_min = 10;
    cfg.duration_max = 300;
    assert_non_null(mkdtemp(dir));
    store = profd_store_redis_open(redis.url, 3600, &err);
    assert_non_null(store);
    bus = profd_bus_memory_open(&cfg, PROFD_BUS_PRODUCE, &err);
    assert_non_null(bus);
    blob = profd_blob_file_open(dir, &err);
    assert_non_null(blob);
    profd_api_opts o = {.cfg = &cfg,
                        .store = store,
                        .bus = bus,
                        .blob = blob,
                        .link_key = link_key,
                        .timeout_s = 2};
    api = profd_api_start(&o, &err);
    if (!api)
        fail_msg("api: %s", err.msg);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", profd_api_port(api));
    profd_blob_file_set_link_base(blob, base, link_key);
    char *t = token_for("alice", "[\"admin\"]");
    snprintf(admin, sizeof admin, "%s", t);
    free(t);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    profd_api_stop(api);
    bus->ops->close(bus);
    blob->ops->close(blob);
    store->ops->close(store);
    profd_test_redis_stop(&redis);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "%s", dir);
    /* remove the blob dir tree */
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", cmd, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
    curl_global_cleanup();
    return 0;
}

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
    profd_b64url_encode((const unsigned char *)header, strlen(header), h);
    profd_b64url_encode((const unsigned char *)payload, strlen(payload), p);
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
    expect_detail(http("GET", P, viewer, NULL, NULL), 403, NULL);
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
    profd_b64url_encode((const unsigned char *)header, strlen(header), h);
    profd_b64url_encode((const unsigned char *)payload, strlen(payload), p);
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
    profd_b64url_encode(raw, 64, sig64);
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

static void test_idempotency(void **state)
{
    (void)state;
    const char *body = "{\"service_name\":\"idem-svc\",\"duration_seconds\":20}";
    resp a = http("POST", P "/start", admin, body, "Idempotency-Key: order-77");
    assert_int_equal(a.status, 201);
    json_object *oa = body_json(&a);
    resp b = http("POST", P "/start", admin, body, "Idempotency-Key: order-77");
    assert_int_equal(b.status, 201); /* the same session, not a 409 for the busy target */
    assert_non_null(strstr(b.headers, "Idempotent-Replayed: true"));
    json_object *ob = body_json(&b);
    assert_string_equal(jget(oa, "session_id"), jget(ob, "session_id"));
    /* Another subject with the same key gets its own session (and a busy target). */
    char *other = token_for("carol", "[\"admin\"]");
    expect_detail(http("POST", P "/start", other, body, "Idempotency-Key: order-77"), 409, NULL);
    free(other);
    resp c = http("POST", P "/start", admin, "{\"service_name\":\"idem-svc2\"}",
                  "Idempotency-Key: order-78");
    assert_int_equal(c.status, 201);
    json_object *oc = body_json(&c);
    assert_string_not_equal(jget(oa, "session_id"), jget(oc, "session_id"));
    expect_detail(http("POST", P "/start", admin, body, "Idempotency-Key: \x01"), 422, NULL);
    json_object_put(oa), json_object_put(ob), json_object_put(oc);
    free(a.body), free(b.body), free(c.body);
}

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

typedef struct client {
    int n;
    int errors;
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    char sub[32], body[128], path[128], id[64] = "";
    snprintf(sub, sizeof sub, "client-%d", c->n);
    char *tok = token_for(sub, "[\"admin\"]");
    snprintf(body, sizeof body, "{\"service_name\":\"conc-%d\",\"duration_seconds\":10}", c->n);
    resp r = http("POST", P "/start", tok, body, NULL);
    if (r.status != 201) {
        c->errors++;
    } else {
        json_object *o = json_tokener_parse(r.body);
        snprintf(id, sizeof id, "%s", jget(o, "session_id"));
        json_object_put(o);
    }
    free(r.body);
    snprintf(path, sizeof path, P "/%s", id);
    for (int i = 0; i < 10; i++) {
        r = http("GET", path, tok, NULL, NULL);
        c->errors += r.status != 200 || !strstr(r.body, id);
        free(r.body);
    }
    r = http("GET", P "?limit=20", tok, NULL, NULL);
    c->errors += r.status != 200;
    free(r.body);
    free(tok);
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    (void)state;
    pthread_t th[50];
    client cl[50];
    for (int i = 0; i < 50; i++) {
        cl[i] = (client){i, 0};
        pthread_create(&th[i], NULL, client_main, &cl[i]);
    }
    int errors = 0;
    for (int i = 0; i < 50; i++) {
        pthread_join(th[i], NULL);
        errors += cl[i].errors;
    }
    assert_int_equal(errors, 0);
}

static void test_slow_client_dropped(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)profd_api_port(api))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char *partial = "GET /healthz HTTP/1.1\r\nHost: x\r\n"; /* never finished */
    assert_true(write(fd, partial, strlen(partial)) > 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int64_t t0 = profd_mono_ms();
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    int64_t waited = profd_mono_ms() - t0;
    close(fd);
    assert_true(n <= 0); /* closed by the server, not answered */
    assert_true(waited < 8000);
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
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_get_not_found),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_artifacts_and_links),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_concurrent_clients),
        cmocka_unit_test(test_slow_client_dropped),
        cmocka_unit_test(test_metrics_after),
    };
    if (!profd_test_redis_binary()) {
        printf("SKIP: redis-server is not installed\n");
        return 0;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
