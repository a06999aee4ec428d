/* test_alert_http.c - the alert webhooks over real HTTP (libcurl) with a real
 * redis-server as the session store and the memory bus (read back to see
 * what was published). Each test runs its own API on its own Redis database,
 * so guards and counts never leak between tests.
 *
 * Covers: the token as bearer / basic password / ?auth_token=, 401 and 503;
 * the fixtures (firing, resolved, grouped, missing and invalid service names,
 * GCP open and closed); cooldown; per-service and global caps; a capped alert
 * not holding the cooldown; two API replicas receiving the same notification
 * concurrently (one capture); the recorded session (trigger, labels, host,
 * pid, duration), the published request and session.queued; the metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profd/api.h"
#include "profd/blob.h"
#include "profd/bus.h"
#include "profd/log.h"
#include "profd/store.h"
#include "support/http_client.h"
#include "support/redis_server.h"

#define AM "/api/v1/monitoring/alerts/alertmanager"
#define GCP "/api/v1/monitoring/alerts/gcp"
#define TOKEN "alert-t0ken"

static profd_test_redis redis;
static char blobdir[] = "/tmp/profd-alerttest-XXXXXX";
static int next_db = 1;

typedef struct env {
    profd_config cfg;
    profd_store *store;
    profd_bus *bus;
    profd_blob *blob;
    profd_api *api;
    char base[128];
} env;

typedef enum { NONE, BEARER, BASIC, QUERY } auth_mode;

typedef test_resp resp;

static resp post(const char *base, const char *path, auth_mode mode, const char *secret,
                 const char *body)
{
    char url[1024], auth[512];
    const char *headers[2] = {NULL, NULL};
    snprintf(url, sizeof url, "%s%s%s%s", base, path, mode == QUERY ? "?auth_token=" : "",
             mode == QUERY ? secret : "");
    if (mode == BEARER) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", secret);
        headers[0] = auth;
    }
    return test_http(NULL, url, headers, mode == BASIC ? "alertmanager" : NULL, secret, body);
}

static char *read_fixture(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/alert/fixtures/%s", getenv("PROFD_SOURCE_DIR"), name);
    char *s = profd_read_file(path, 1 << 20, NULL);
    if (!s)
        fail_msg("cannot read %s", path);
    return s;
}

/* An Alertmanager body with one alert of the given status and labels (JSON). */
static char *am_one(const char *status, const char *labels)
{
    char *s = malloc(8192);
    snprintf(s, 8192,
             "{\"version\":\"4\",\"groupKey\":\"g\",\"status\":\"%s\",\"receiver\":\"profd\","
             "\"commonLabels\":{},\"alerts\":[{\"status\":\"%s\",\"labels\":%s,"
             "\"annotations\":{},\"startsAt\":\"2026-11-25T10:30:00Z\",\"fingerprint\":\"f1\"}]}",
             status, status, labels);
    return s;
}

/* ---- environment ------------------------------------------------------------ */

typedef void (*tweak_fn)(profd_config *c);

static void env_up(env *e, tweak_fn tweak, int db)
{
    profd_error err;
    memset(e, 0, sizeof *e);
    assert_int_equal(profd_config_load(&e->cfg, &err), 0);
    snprintf(e->cfg.redis_url, sizeof e->cfg.redis_url, "redis://127.0.0.1:%d/%d", redis.port, db);
    snprintf(e->cfg.listen, sizeof e->cfg.listen, "127.0.0.1:0");
    snprintf(e->cfg.bus, sizeof e->cfg.bus, "memory");
    snprintf(e->cfg.jwt_secret, sizeof e->cfg.jwt_secret, "unused-jwt-secret");
    e->cfg.jwt_public_key[0] = '\0';
    snprintf(e->cfg.alert_token, sizeof e->cfg.alert_token, TOKEN);
    snprintf(e->cfg.alert_service_labels, sizeof e->cfg.alert_service_labels, "service,job");
    e->cfg.alert_cooldown = 900;
    e->cfg.alert_max_per_service = 1;
    e->cfg.alert_max_running = 4;
    e->cfg.alert_duration = 30;
    e->cfg.duration_min = 10;
    e->cfg.duration_max = 300;
    if (tweak)
        tweak(&e->cfg);
    e->store = profd_store_redis_open(e->cfg.redis_url, 3600, &err);
    assert_non_null(e->store);
    e->bus = profd_bus_memory_open(&e->cfg, PROFD_BUS_PRODUCE, &err);
    assert_non_null(e->bus);
    e->blob = profd_blob_file_open(blobdir, &err);
    assert_non_null(e->blob);
    profd_api_opts o = {
        .cfg = &e->cfg, .store = e->store, .bus = e->bus, .blob = e->blob, .timeout_s = 5};
    e->api = profd_api_start(&o, &err);
    if (!e->api)
        fail_msg("api: %s", err.msg);
    snprintf(e->base, sizeof e->base, "http://127.0.0.1:%d", profd_api_port(e->api));
}

static void env_down(env *e)
{
    profd_api_stop(e->api);
    e->bus->ops->close(e->bus);
    e->blob->ops->close(e->blob);
    e->store->ops->close(e->store);
}

/* A fresh database and fresh process-wide state for each test. */
static int test_setup(void **state)
{
    (void)state;
    profd_bus_memory_reset();
    profd_metrics_reset();
    return next_db < 16 ? 0 : -1;
}

static void up(env *e, tweak_fn tweak)
{
    env_up(e, tweak, next_db++);
}

static int group_setup(void **state)
{
    (void)state;
    if (!profd_test_redis_binary()) {
        fprintf(stderr, "SKIP: redis-server is not installed\n");
        return -1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    setenv("PROFD_LOG_LEVEL", "error", 1);
    profd_log_init();
    assert_non_null(mkdtemp(blobdir));
    return profd_test_redis_start(&redis, false);
}

static int group_teardown(void **state)
{
    (void)state;
    profd_test_redis_stop(&redis);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", blobdir, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
    curl_global_cleanup();
    return 0;
}

/* ---- reading answers ----------------------------------------------------------- */

typedef struct answer {
    json_object *o;
    int nstarted, nskipped;
    const char *started[16];
    const char *reason[16], *service[16];
} answer;

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : NULL;
}

/* Expect 202 and read the result; free with answer_put. */
static answer accepted(resp r)
{
    if (r.status != 202)
        fail_msg("expected 202, got %ld: %s", r.status, r.body);
    answer a = {0};
    a.o = json_tokener_parse(r.body);
    assert_non_null(a.o);
    free(r.body);
    json_object *st, *sk;
    assert_true(json_object_object_get_ex(a.o, "started", &st));
    assert_true(json_object_object_get_ex(a.o, "skipped", &sk));
    a.nstarted = (int)json_object_array_length(st);
    a.nskipped = (int)json_object_array_length(sk);
    for (int i = 0; i < a.nstarted && i < 16; i++)
        a.started[i] = json_object_get_string(json_object_array_get_idx(st, (size_t)i));
    for (int i = 0; i < a.nskipped && i < 16; i++) {
        json_object *e = json_object_array_get_idx(sk, (size_t)i);
        a.reason[i] = jstr(e, "reason");
        a.service[i] = jstr(e, "service");
    }
    return a;
}

static void answer_put(answer *a)
{
    json_object_put(a->o);
}

static void expect_status(resp r, long status, const char *detail_part)
{
    if (r.status != status)
        fail_msg("expected %ld, got %ld: %s", status, r.status, r.body);
    if (detail_part && !strstr(r.body, detail_part))
        fail_msg("'%s' lacks '%s'", r.body, detail_part);
    free(r.body);
}

/* POST body with the right token; expect 202 and read the result. */
static answer post_accepted(env *e, const char *path, auth_mode mode, const char *body)
{
    return accepted(post(e->base, path, mode, TOKEN, body));
}

/* The same with the body read from tests/alert/fixtures/<fixture>. */
static answer post_fixture(env *e, const char *path, auth_mode mode, const char *fixture)
{
    char *body = read_fixture(fixture);
    answer a = post_accepted(e, path, mode, body);
    free(body);
    return a;
}

/* POST body with the right token as a bearer; expect status and detail_part. */
static void expect_rejected_body(env *e, const char *path, const char *body, long status,
                                 const char *detail_part)
{
    expect_status(post(e->base, path, BEARER, TOKEN, body), status, detail_part);
}

/* POST body with a wrong or no secret; expect a bare 401. */
static void expect_unauthorized(env *e, const char *path, auth_mode mode, const char *secret,
                                const char *body)
{
    expect_status(post(e->base, path, mode, secret, body), 401, NULL);
}

static void expect_started_and_skipped(const answer *a, int nstarted, int nskipped)
{
    assert_int_equal(a->nstarted, nstarted);
    assert_int_equal(a->nskipped, nskipped);
}

static const char *label_of(const profd_session *s, const char *k)
{
    json_object *v;
    return s->labels && json_object_object_get_ex(s->labels, k, &v) ? json_object_get_string(v)
                                                                    : NULL;
}

static profd_session get_session(env *e, const char *id)
{
    profd_session s;
    profd_error err;
    if (e->store->ops->get(e->store, id, &s, &err) != 1)
        fail_msg("session %s not recorded", id);
    return s;
}

/* The published request of a session id, parsed (caller puts). */
static json_object *published_request(const char *id)
{
    for (int i = 0; i < profd_bus_memory_count(PROFD_TOPIC_REQUESTS); i++) {
        char *key = profd_bus_memory_key(PROFD_TOPIC_REQUESTS, i);
        bool match = key && strcmp(key, id) == 0;
        free(key);
        if (match) {
            char *m = profd_bus_memory_get(PROFD_TOPIC_REQUESTS, i);
            json_object *o = json_tokener_parse(m);
            free(m);
            return o;
        }
    }
    fail_msg("no request published for %s", id);
    return NULL;
}

static double metric(env *e, const char *series)
{
    char url[256];
    snprintf(url, sizeof url, "%s/metrics", e->base);
    resp r = test_http(NULL, url, NULL, NULL, NULL, NULL);
    double v = 0;
    char *p = strstr(r.body, series);
    if (p && p[strlen(series)] == ' ')
        v = strtod(p + strlen(series) + 1, NULL);
    free(r.body);
    return v;
}

/* The metric series (truncated to int) is want; names the series if not. */
static void expect_metric(env *e, const char *series, int want)
{
    int got = (int)metric(e, series);
    if (got != want)
        print_message("metric %s\n", series);
    assert_int_equal(got, want);
}

/* ---- tests ----------------------------------------------------------------------- */

static void no_token(profd_config *c)
{
    c->alert_token[0] = '\0';
}

static void test_disabled_without_token(void **state)
{
    (void)state;
    env e;
    up(&e, no_token);
    char *body = read_fixture("am_firing.json");
    expect_status(post(e.base, AM, BEARER, "", body), 503,
                  "alert webhooks are disabled: set PROFD_ALERT_TOKEN");
    expect_status(post(e.base, GCP, QUERY, "x", body), 503, "PROFD_ALERT_TOKEN");
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), 0);
    free(body);
    env_down(&e);
}

static void open_guards(profd_config *c)
{
    c->alert_cooldown = 0;
    c->alert_max_per_service = 100;
    c->alert_max_running = 100;
}

static void test_token_places(void **state)
{
    (void)state;
    env e;
    up(&e, open_guards);
    char *body = read_fixture("am_firing.json");
    const auth_mode token_places[] = {BEARER, BASIC, QUERY};
    for (size_t i = 0; i < sizeof token_places / sizeof token_places[0]; i++) {
        answer a = post_accepted(&e, AM, token_places[i], body);
        assert_int_equal(a.nstarted, 1);
        answer_put(&a);
    }
    resp r = post(e.base, AM, NONE, NULL, body);
    assert_non_null(strstr(r.headers, "WWW-Authenticate: Basic realm=\"profd-alerts\""));
    expect_status(r, 401, "PROFD_ALERT_TOKEN");
    expect_unauthorized(&e, AM, BEARER, "alert-t0ke", body);
    expect_unauthorized(&e, AM, BASIC, "wrong", body);
    expect_unauthorized(&e, GCP, QUERY, "alert-t0ken2", body);
    /* a JWT-style admin token is not the webhook secret */
    expect_unauthorized(&e, AM, BEARER, "eyJhbGciOiJIUzI1NiJ9.e30.x", body);
    expect_status(post(e.base, AM, NONE, NULL, NULL), 405, NULL); /* GET */
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), 3);
    expect_metric(&e, "profd_requests_rejected_total{reason=\"alert_unauthorized\"}", 5);
    free(body);
    env_down(&e);
}

static void test_bad_bodies(void **state)
{
    (void)state;
    env e;
    up(&e, NULL);
    expect_rejected_body(&e, AM, "{\"alerts\":[", 400, "Malformed JSON");
    expect_rejected_body(&e, AM, "[]", 422, "JSON object");
    expect_rejected_body(&e, AM, "{\"version\":\"3\",\"alerts\":[]}", 422, "version");
    char *gcp = read_fixture("gcp_open.json");
    expect_rejected_body(&e, AM, gcp, 422, "Alertmanager webhook version");
    expect_rejected_body(&e, AM, "{\"version\":\"4\"}", 422, "alerts: must be an array");
    char *am = read_fixture("am_firing.json");
    expect_rejected_body(&e, GCP, am, 422, "incident: must be an object");
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), 0);
    free(gcp);
    free(am);
    env_down(&e);
}

static void test_firing_then_cooldown(void **state)
{
    (void)state;
    env e;
    up(&e, NULL);
    answer a = post_fixture(&e, AM, BEARER, "am_firing.json");
    expect_started_and_skipped(&a, 1, 0);
    char id[PROFD_UUID_LEN + 1];
    snprintf(id, sizeof id, "%s", a.started[0]);
    answer_put(&a);

    profd_session s = get_session(&e, id);
    assert_int_equal(s.status, PROFD_QUEUED);
    assert_string_equal(s.trigger, "alert");
    assert_string_equal(s.service_name, "web-api");
    assert_string_equal(s.requested_by, "alertmanager");
    assert_int_equal(s.duration_seconds, 30);
    assert_string_equal(label_of(&s, "alertname"), "HighCPU");
    assert_string_equal(label_of(&s, "team"), "payments");
    assert_string_equal(label_of(&s, "instance"), "10.0.0.5:8000");
    assert_string_equal(s.target_host, "");
    profd_session_free(&s);

    json_object *req = published_request(id);
    assert_string_equal(jstr(req, "type"), "profile");
    assert_string_equal(jstr(req, "trigger"), "alert");
    assert_string_equal(jstr(req, "service_name"), "web-api");
    assert_null(jstr(req, "host"));
    json_object_put(req);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_EVENTS), 1);
    char *ev = profd_bus_memory_get(PROFD_TOPIC_EVENTS, 0);
    char *key = profd_bus_memory_key(PROFD_TOPIC_EVENTS, 0);
    assert_non_null(strstr(ev, "\"session.queued\""));
    assert_string_equal(key, id);
    free(ev);
    free(key);

    /* the same notification again, within the cooldown */
    a = post_fixture(&e, AM, BEARER, "am_firing.json");
    expect_started_and_skipped(&a, 0, 1);
    assert_string_equal(a.reason[0], "cooldown");
    assert_string_equal(a.service[0], "web-api");
    answer_put(&a);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), 1);

    expect_metric(&e, "profd_alerts_received_total{source=\"alertmanager\"}", 2);
    expect_metric(&e, "profd_alerts_skipped_total{reason=\"cooldown\"}", 1);
    expect_metric(&e, "profd_sessions_started_total{service=\"web-api\",trigger=\"alert\"}", 1);
    env_down(&e);
}

static void test_resolved_grouped_and_bad_services(void **state)
{
    (void)state;
    env e;
    up(&e, NULL);
    answer a = post_fixture(&e, AM, BEARER, "am_resolved.json");
    expect_started_and_skipped(&a, 0, 1);
    assert_string_equal(a.reason[0], "resolved");
    answer_put(&a);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), 0);

    a = post_fixture(&e, AM, BASIC, "am_missing_service.json");
    assert_int_equal(a.nstarted, 0);
    assert_string_equal(a.reason[0], "no_service");
    assert_null(a.service[0]);
    answer_put(&a);

    a = post_fixture(&e, AM, BASIC, "am_invalid_service.json");
    expect_started_and_skipped(&a, 0, 2);
    assert_string_equal(a.reason[0], "invalid_service");
    assert_string_equal(a.reason[1], "invalid_service");
    answer_put(&a);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), 0);

    /* 3 alerts over 2 services: one capture per distinct target */
    a = post_fixture(&e, AM, BEARER, "am_grouped.json");
    expect_started_and_skipped(&a, 2, 1);
    assert_string_equal(a.reason[0], "duplicate");
    assert_string_equal(a.service[0], "web-api");
    profd_session s1 = get_session(&e, a.started[0]), s2 = get_session(&e, a.started[1]);
    assert_string_equal(s1.service_name, "web-api");
    assert_string_equal(s2.service_name, "jobs");
    assert_string_equal(label_of(&s2, "instance"), "10.0.0.7:9100");
    profd_session_free(&s1);
    profd_session_free(&s2);
    answer_put(&a);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), 2);

    expect_metric(&e, "profd_alerts_received_total{source=\"alertmanager\"}", 7);
    expect_metric(&e, "profd_alerts_skipped_total{reason=\"resolved\"}", 1);
    expect_metric(&e, "profd_alerts_skipped_total{reason=\"no_service\"}", 1);
    expect_metric(&e, "profd_alerts_skipped_total{reason=\"invalid_service\"}", 2);
    expect_metric(&e, "profd_alerts_skipped_total{reason=\"duplicate\"}", 1);
    env_down(&e);
}

static void test_gcp_open_closed(void **state)
{
    (void)state;
    env e;
    up(&e, NULL);
    answer a = post_fixture(&e, GCP, QUERY, "gcp_open.json");
    assert_int_equal(a.nstarted, 1);
    profd_session s = get_session(&e, a.started[0]);
    assert_string_equal(s.service_name, "web-api");
    assert_string_equal(s.trigger, "alert");
    assert_string_equal(s.requested_by, "gcp");
    assert_string_equal(label_of(&s, "alertname"), "High CPU web-api");
    assert_string_equal(label_of(&s, "incident_id"), "0.opqiw61fsv7p");
    assert_string_equal(label_of(&s, "zone"), "europe-west1-b");
    assert_string_equal(label_of(&s, "env"), "prod");
    profd_session_free(&s);
    answer_put(&a);
    a = post_fixture(&e, GCP, BASIC, "gcp_closed.json");
    assert_int_equal(a.nstarted, 0);
    assert_string_equal(a.reason[0], "resolved");
    answer_put(&a);
    expect_metric(&e, "profd_alerts_received_total{source=\"gcp\"}", 2);
    env_down(&e);
}

static void caps_no_cooldown(profd_config *c)
{
    c->alert_cooldown = 0;
    c->alert_max_per_service = 1;
    c->alert_max_running = 2;
}

static const char *fire(env *e, const char *service, char *id_out, const char *want_reason)
{
    char labels[256];
    snprintf(labels, sizeof labels, "{\"alertname\":\"HighCPU\",\"service\":\"%s\"}", service);
    char *body = am_one("firing", labels);
    answer a = post_accepted(e, AM, BEARER, body);
    free(body);
    if (want_reason) {
        expect_started_and_skipped(&a, 0, 1);
        if (strcmp(a.reason[0], want_reason) != 0)
            fail_msg("%s: skipped for %s, expected %s", service, a.reason[0], want_reason);
    } else {
        if (a.nstarted != 1)
            fail_msg("%s: not started (%s)", service, a.nskipped ? a.reason[0] : "?");
        if (id_out)
            snprintf(id_out, PROFD_UUID_LEN + 1, "%s", a.started[0]);
    }
    answer_put(&a);
    return want_reason;
}

static void finish(env *e, const char *id)
{
    profd_session s = get_session(e, id);
    profd_error err;
    s.status = PROFD_COMPLETED;
    s.completed_at = profd_now_ms();
    assert_int_equal(e->store->ops->put(e->store, &s, &err), 0);
    profd_session_free(&s);
}

static void test_caps(void **state)
{
    (void)state;
    env e;
    up(&e, caps_no_cooldown);
    char a1[PROFD_UUID_LEN + 1], b1[PROFD_UUID_LEN + 1];
    fire(&e, "svc-a", a1, NULL);
    fire(&e, "svc-a", NULL, "service_cap");
    fire(&e, "svc-b", b1, NULL);
    fire(&e, "svc-c", NULL, "global_cap");
    /* sessions of other triggers do not count */
    profd_session other;
    profd_session_init(&other);
    profd_uuid4(other.session_id);
    snprintf(other.service_name, sizeof other.service_name, "svc-c");
    snprintf(other.trigger, sizeof other.trigger, "api");
    other.created_at = profd_now_ms();
    profd_error err;
    assert_int_equal(e.store->ops->create(e.store, &other, &err), 1);
    finish(&e, a1); /* one slot free again */
    fire(&e, "svc-c", NULL, NULL);
    fire(&e, "svc-a", NULL, "global_cap");
    expect_metric(&e, "profd_alerts_skipped_total{reason=\"service_cap\"}", 1);
    expect_metric(&e, "profd_alerts_skipped_total{reason=\"global_cap\"}", 2);
    env_down(&e);
}

static void cap_one(profd_config *c)
{
    c->alert_max_running = 1;
}

/* A capped alert gives its cooldown back; a started one keeps it. */
static void test_capped_alert_keeps_no_cooldown(void **state)
{
    (void)state;
    env e;
    up(&e, cap_one);
    char a1[PROFD_UUID_LEN + 1];
    fire(&e, "svc-a", a1, NULL);
    fire(&e, "svc-b", NULL, "global_cap");
    finish(&e, a1);
    fire(&e, "svc-b", NULL, NULL);
    fire(&e, "svc-a", NULL, "cooldown"); /* finished, but still cooling down */
    env_down(&e);
}

typedef struct shooter {
    const char *base;
    const char *body;
    int started, skipped_cooldown;
} shooter;

static void *shoot(void *arg)
{
    shooter *s = arg;
    for (int i = 0; i < 4; i++) {
        resp r = post(s->base, AM, BEARER, TOKEN, s->body);
        if (r.status == 202) {
            json_object *o = json_tokener_parse(r.body), *st, *sk;
            json_object_object_get_ex(o, "started", &st);
            json_object_object_get_ex(o, "skipped", &sk);
            s->started += (int)json_object_array_length(st);
            for (size_t k = 0; k < json_object_array_length(sk); k++)
                if (strcmp(jstr(json_object_array_get_idx(sk, k), "reason"), "cooldown") == 0)
                    s->skipped_cooldown++;
            json_object_put(o);
        }
        free(r.body);
    }
    return NULL;
}

/* Two API replicas on one Redis get the same notification 8 times at once. */
static void test_dedupe_across_replicas(void **state)
{
    (void)state;
    int db = next_db++;
    env e1, e2;
    env_up(&e1, NULL, db);
    env_up(&e2, NULL, db);
    char *body = read_fixture("am_firing.json");
    shooter s[4] = {
        {e1.base, body, 0, 0}, {e2.base, body, 0, 0}, {e1.base, body, 0, 0}, {e2.base, body, 0, 0}};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, shoot, &s[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    int started = 0, cooled = 0;
    for (int i = 0; i < 4; i++) {
        started += s[i].started;
        cooled += s[i].skipped_cooldown;
    }
    assert_int_equal(started, 1);
    assert_int_equal(cooled, 15);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_REQUESTS), 1);
    profd_session list[10];
    profd_list_filter f = {"web-api", -1, 10};
    profd_error err;
    int n = e1.store->ops->list(e1.store, &f, list, 10, &err);
    assert_int_equal(n, 1);
    profd_session_free(&list[0]);
    free(body);
    env_down(&e2);
    env_down(&e1);
}

static void short_alerts(profd_config *c)
{
    c->alert_duration = 5; /* below PROFD_DURATION_MIN: clamped to 10 */
}

static void test_host_pid_and_bounded_labels(void **state)
{
    (void)state;
    env e;
    up(&e, short_alerts);
    char labels[4096];
    int n = snprintf(labels, sizeof labels,
                     "{\"alertname\":\"HighCPU\",\"service\":\"web-api\",\"profd_host\":"
                     "\"node-7\",\"pid\":\"4242\",\"bad key\":\"x\"");
    for (int i = 0; i < 40; i++)
        n += snprintf(labels + n, sizeof labels - (size_t)n, ",\"l%02d\":\"v\"", i);
    snprintf(labels + n, sizeof labels - (size_t)n, "}");
    char *body = am_one("firing", labels);
    answer a = post_accepted(&e, AM, BEARER, body);
    free(body);
    assert_int_equal(a.nstarted, 1);
    profd_session s = get_session(&e, a.started[0]);
    assert_string_equal(s.target_host, "node-7");
    assert_int_equal(s.pid, 4242);
    assert_int_equal(s.duration_seconds, 10);
    assert_int_equal(json_object_object_length(s.labels), 32);
    assert_null(label_of(&s, "bad key"));
    assert_string_equal(label_of(&s, "profd_host"), "node-7");
    profd_session_free(&s);
    json_object *req = published_request(a.started[0]);
    assert_string_equal(jstr(req, "host"), "node-7");
    assert_string_equal(jstr(req, "pid"), "4242");
    json_object_put(req);
    answer_put(&a);
    env_down(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_disabled_without_token, test_setup),
        cmocka_unit_test_setup(test_token_places, test_setup),
        cmocka_unit_test_setup(test_bad_bodies, test_setup),
        cmocka_unit_test_setup(test_firing_then_cooldown, test_setup),
        cmocka_unit_test_setup(test_resolved_grouped_and_bad_services, test_setup),
        cmocka_unit_test_setup(test_gcp_open_closed, test_setup),
        cmocka_unit_test_setup(test_caps, test_setup),
        cmocka_unit_test_setup(test_capped_alert_keeps_no_cooldown, test_setup),
        cmocka_unit_test_setup(test_dedupe_across_replicas, test_setup),
        cmocka_unit_test_setup(test_host_pid_and_bounded_labels, test_setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
