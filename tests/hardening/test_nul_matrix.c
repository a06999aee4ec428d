/* test_nul_matrix.c - hardening_nul_matrix: a NUL anywhere a client can put
 * one - every JWT claim and header member, every request field and label,
 * every alert label, headers, query parameters and the path - gives 400 or
 * 401 (404 for a path), and nothing is stored: the store and the bus are read
 * before and after every row. Each group also has a control row without the
 * NUL that must succeed and store, so a row cannot pass by failing for some
 * other reason.
 *
 * The table is the test. Header, query and path rows go through the HTTP
 * front (src/api/front.c, docs/http-front.md), which refuses a NUL before any
 * handler sees it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strict_fixture.h"

typedef enum {
    ROW_CLAIMS,    /* ES256 token on the strict API: header, claims */
    ROW_HS256,     /* HS256 token on the fixture's API: sub, roles */
    ROW_START,     /* body of POST /start on the fixture's API */
    ROW_ALERT,     /* body of an Alertmanager webhook on the strict API */
    ROW_GCP,       /* a Cloud Monitoring incident on the strict API: a = user labels, b = policy */
    ROW_RAW,       /* raw bytes to the fixture's API ('@' is the NUL byte) */
    ROW_ALERT_RAW, /* raw bytes to the strict API */
} row_kind;

#define OK_2XX 0 /* a control row */
#define E400 1
#define E401 2
#define E404 4

typedef struct row {
    const char *name;
    row_kind kind;
    const char *a, *b; /* per kind: header/claims-roles, sub/roles, body, labels, request */
    int expect;        /* mask of E*; OK_2XX for a control */
    int stores;        /* sessions a control row stores */
} row;

#define GOOD_CLAIMS NULL
#define SVC_BODY(svc) "{\"service_name\":\"" svc "\",\"duration_seconds\":10}"

/* ROW_CLAIMS: a = header (NULL: the good one), b = "field=json" replacing one
 * claim of strict_claims (sub, iss, aud, roles). */
static const row rows[] = {
    {"claim.control", ROW_CLAIMS, NULL, NULL, OK_2XX, 1},
    {"claim.sub", ROW_CLAIMS, NULL, "sub=\"alice\\u0000x\"", E401, 0},
    {"claim.iss", ROW_CLAIMS, NULL, "iss=\"" STRICT_ISS "\\u0000.evil\"", E401, 0},
    {"claim.aud", ROW_CLAIMS, NULL, "aud=\"" STRICT_AUD "\\u0000evil\"", E401, 0},
    {"claim.aud_array", ROW_CLAIMS, NULL, "aud=[\"x\",\"" STRICT_AUD "\\u0000evil\"]", E401, 0},
    {"claim.roles", ROW_CLAIMS, NULL, "roles=[\"admin\\u0000nope\"]", E401, 0},
    {"claim.role", ROW_CLAIMS, NULL, "roles=[],\"role\":\"admin\\u0000x\"", E401, 0},
    {"claim.member_name", ROW_CLAIMS, NULL, "roles=[],\"roles\\u0000\":[\"admin\"]", E401, 0},
    {"claim.other", ROW_CLAIMS, NULL, "roles=[\"admin\"],\"note\":\"a\\u0000b\"", E401, 0},
    {"claim.nbf_name", ROW_CLAIMS, NULL, "roles=[\"admin\"],\"nbf\\u0000\":1", E401, 0},
    {"header.kid", ROW_CLAIMS, "{\"alg\":\"ES256\",\"kid\":\"" STRICT_KID "\\u0000x\"}", NULL, E401,
     0},
    {"header.alg", ROW_CLAIMS, "{\"alg\":\"ES256\\u0000\",\"kid\":\"" STRICT_KID "\"}", NULL, E401,
     0},
    {"header.typ", ROW_CLAIMS,
     "{\"alg\":\"ES256\",\"typ\":\"JWT\\u0000\",\"kid\":\"" STRICT_KID "\"}", NULL, E401, 0},
    {"hs256.control", ROW_HS256, "alice", "[\"admin\"]", OK_2XX, 1},
    {"hs256.sub", ROW_HS256, "alice\\u0000x", "[\"admin\"]", E401, 0},
    {"hs256.roles", ROW_HS256, "alice", "[\"admin\\u0000x\"]", E401, 0},

    {"start.control", ROW_START, SVC_BODY("nul-start-ok"), NULL, OK_2XX, 1},
    {"start.service_name", ROW_START, SVC_BODY("nul-start\\u0000x"), NULL, E400, 0},
    {"start.host", ROW_START,
     "{\"service_name\":\"nul-host\",\"duration_seconds\":10,\"host\":\"h\\u0000x\"}", NULL, E400,
     0},
    {"start.label_key", ROW_START,
     "{\"service_name\":\"nul-lk\",\"duration_seconds\":10,\"labels\":{\"a\\u0000b\":\"1\"}}", NULL,
     E400, 0},
    {"start.label_value", ROW_START,
     "{\"service_name\":\"nul-lv\",\"duration_seconds\":10,\"labels\":{\"a\":\"1\\u0000b\"}}", NULL,
     E400, 0},
    {"start.label_dup_trick", ROW_START,
     "{\"service_name\":\"nul-ld\",\"duration_seconds\":10,"
     "\"labels\":{\"a\":\"1\",\"a\\u0000evil\":\"2\"}}",
     NULL, E400, 0},
    {"start.requested_by", ROW_START,
     "{\"service_name\":\"nul-rb\",\"duration_seconds\":10,\"requested_by\":\"x\\u0000y\"}", NULL,
     E400, 0},
    {"start.option_name", ROW_START,
     "{\"service_name\":\"nul-opt\",\"duration_seconds\":10,\"options\":{\"native\\u0000\":true}}",
     NULL, E400, 0},
    {"start.unknown_member", ROW_START,
     "{\"service_name\":\"nul-unk\",\"duration_seconds\":10,\"x\\u0000\":1}", NULL, E400, 0},
    {"start.member_name", ROW_START,
     "{\"service_name\":\"nul-mn\",\"duration_seconds\":10,\"service_name\\u0000\":\"other\"}",
     NULL, E400, 0},

    {"alert.control", ROW_ALERT, "\"alertname\":\"a\",\"service\":\"nul-alert-ok\"", NULL, OK_2XX,
     1},
    {"alert.service", ROW_ALERT, "\"alertname\":\"a\",\"service\":\"nul-trick\\u0000; rm -rf /\"",
     NULL, E400, 0},
    {"alert.alertname", ROW_ALERT, "\"alertname\":\"a\\u0000b\",\"service\":\"nul-an\"", NULL, E400,
     0},
    {"alert.host", ROW_ALERT, "\"alertname\":\"a\",\"service\":\"nul-ah\",\"host\":\"h\\u0000x\"",
     NULL, E400, 0},
    {"alert.pid", ROW_ALERT,
     "\"alertname\":\"a\",\"service\":\"nul-ap\",\"host\":\"h\",\"pid\":\"12\\u00003\"", NULL, E400,
     0},
    {"alert.label_key", ROW_ALERT, "\"alertname\":\"a\",\"service\":\"nul-ak\",\"k\\u0000\":\"v\"",
     NULL, E400, 0},
    {"alert.label_name_trick", ROW_ALERT, "\"alertname\":\"a\",\"service\\u0000x\":\"nul-ant\"",
     NULL, E400, 0},

    {"gcp.control", ROW_GCP, "\"service\":\"nul-gcp-ok\"", "cpu", OK_2XX, 1},
    {"gcp.user_label", ROW_GCP, "\"service\":\"nul-gcp\\u0000x\"", "cpu", E400, 0},
    {"gcp.user_label_key", ROW_GCP, "\"service\":\"nul-gcp2\",\"e\\u0000\":\"v\"", "cpu", E400, 0},
    {"gcp.policy_name", ROW_GCP, "\"service\":\"nul-gcp3\"", "cpu\\u0000x", E400, 0},

    /* The front: '@' is a raw NUL byte, TOKEN the admin token, LEN the body length. */
    {"raw.control", ROW_RAW, "Authorization: Bearer TOKEN\r\n", SVC_BODY("nul-raw-ok"), OK_2XX, 1},
    {"header.authorization_tail", ROW_RAW, "Authorization: Bearer TOKEN@x\r\n", SVC_BODY("nul-h1"),
     E400 | E401, 0},
    {"header.authorization_scheme", ROW_RAW, "Authorization: Bearer@ TOKEN\r\n", SVC_BODY("nul-h2"),
     E400 | E401, 0},
    {"header.idempotency_key", ROW_RAW, "Authorization: Bearer TOKEN\r\nIdempotency-Key: k@x\r\n",
     SVC_BODY("nul-h3"), E400, 0},
    {"header.content_type", ROW_RAW,
     "Authorization: Bearer TOKEN\r\nContent-Type: application/json@x\r\n", SVC_BODY("nul-h4"),
     E400, 0},
    {"header.other_value", ROW_RAW, "Authorization: Bearer TOKEN\r\nX-Request-Id: a@b\r\n",
     SVC_BODY("nul-h5"), E400, 0},
    {"header.name", ROW_RAW, "Authorization: Bearer TOKEN\r\nX-A@b: c\r\n", SVC_BODY("nul-h6"),
     E400, 0},
    {"body.raw_nul_in_string", ROW_RAW, "Authorization: Bearer TOKEN\r\n",
     "{\"service_name\":\"nul-rb1@x\",\"duration_seconds\":10}", E400, 0},
    {"body.raw_nul_after", ROW_RAW, "Authorization: Bearer TOKEN\r\n",
     "{\"service_name\":\"nul-rb2\",\"duration_seconds\":10}@", E400, 0},
    {"query.limit", ROW_RAW, "GET " P "?limit=5%00 HTTP/1.1\r\nAuthorization: Bearer TOKEN\r\n",
     NULL, E400, 0},
    {"query.service_name", ROW_RAW,
     "GET " P "?service_name=svc%00x HTTP/1.1\r\nAuthorization: Bearer TOKEN\r\n", NULL, E400, 0},
    {"query.status", ROW_RAW,
     "GET " P "?status=queued%00 HTTP/1.1\r\nAuthorization: Bearer TOKEN\r\n", NULL, E400, 0},
    {"query.raw_nul", ROW_RAW, "GET " P "?limit=5@ HTTP/1.1\r\nAuthorization: Bearer TOKEN\r\n",
     NULL, E400, 0},
    {"path.id_pct00", ROW_RAW, "GET " P "/ID%00 HTTP/1.1\r\nAuthorization: Bearer TOKEN\r\n", NULL,
     E400 | E404, 0},
    {"path.id_raw_nul", ROW_RAW, "GET " P "/ID@ HTTP/1.1\r\nAuthorization: Bearer TOKEN\r\n", NULL,
     E400 | E404, 0},
    {"alert_raw.control", ROW_ALERT_RAW, "?auth_token=" ALERT_TOKEN, "nul-q-ok", OK_2XX, 1},
    {"query.alert_auth_token", ROW_ALERT_RAW, "?auth_token=" ALERT_TOKEN "%00x", "nul-q1",
     E400 | E401, 0},
};

static char an_id[PROFD_UUID_LEN + 1];

/* Replace TOKEN, ID, LEN and '@' in a raw template. */
static size_t expand(const char *tpl, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = tpl; *p && o + 1024 < cap; p++) { /* room for a token */
        if (strncmp(p, "TOKEN", 5) == 0) {
            o += (size_t)snprintf(out + o, cap - o, "%s", admin);
            p += 4;
        } else if (strncmp(p, "ID", 2) == 0 && p[2] == '%') {
            o += (size_t)snprintf(out + o, cap - o, "%s", an_id);
            p += 1;
        } else if (strncmp(p, "ID@", 3) == 0) {
            o += (size_t)snprintf(out + o, cap - o, "%s", an_id);
            p += 1;
        } else {
            out[o++] = *p == '@' ? '\0' : *p;
        }
    }
    return o;
}

/* Send one row; the status. */
static long run_row(const row *w)
{
    char buf[16384];
    switch (w->kind) {
    case ROW_CLAIMS: {
        const char *sub = NULL, *iss = NULL, *aud = NULL, *roles = NULL;
        if (w->b) {
            const char *v = strchr(w->b, '=') + 1;
            if (strncmp(w->b, "sub=", 4) == 0)
                sub = v;
            else if (strncmp(w->b, "iss=", 4) == 0)
                iss = v;
            else if (strncmp(w->b, "aud=", 4) == 0)
                aud = v;
            else
                roles = v;
        }
        char *c = strict_claims(sub, iss, aud, roles);
        char *t = es256(w->a ? w->a : "{\"alg\":\"ES256\",\"kid\":\"" STRICT_KID "\"}", c);
        char svc[64], body[128];
        snprintf(svc, sizeof svc, "nul-claims-%s", strchr(w->name, '.') + 1);
        for (char *p = svc; *p; p++)
            if (*p == '_')
                *p = '-';
        snprintf(body, sizeof body, "{\"service_name\":\"%s\",\"duration_seconds\":10}", svc);
        resp r = http_on(strict_base, "POST", P "/start", t, body, NULL);
        if (getenv("NUL_MATRIX_DEBUG"))
            printf("%s: %s\n", body, r.body);
        free(c), free(t), free(r.body);
        return r.status;
    }
    case ROW_HS256: {
        char *t = token_for(w->a, w->b);
        resp r = http("POST", P "/start", t, SVC_BODY("nul-hs256"), NULL);
        free(t), free(r.body);
        return r.status;
    }
    case ROW_START: {
        resp r = http("POST", P "/start", admin, w->a, NULL);
        free(r.body);
        return r.status;
    }
    case ROW_ALERT: {
        snprintf(buf, sizeof buf,
                 "{\"version\":\"4\",\"groupKey\":\"g\",\"status\":\"firing\",\"receiver\":\"p\","
                 "\"commonLabels\":{},\"alerts\":[{\"status\":\"firing\",\"labels\":{%s}}]}",
                 w->a);
        char url[256];
        snprintf(url, sizeof url, "%s/api/v1/monitoring/alerts/alertmanager", strict_base);
        const char *h[] = {"Authorization: Bearer " ALERT_TOKEN, NULL};
        resp r = test_http("POST", url, h, NULL, NULL, buf);
        long st = r.status;
        if (st == 202 && w->expect == OK_2XX && !strstr(r.body, "\"started\":[\""))
            st = -202; /* accepted but nothing started: the control did not store */
        free(r.body);
        return st;
    }
    case ROW_GCP: {
        snprintf(buf, sizeof buf,
                 "{\"version\":\"1.2\",\"incident\":{\"incident_id\":\"i-%s\",\"state\":\"open\","
                 "\"policy_name\":\"%s\",\"resource\":{\"type\":\"gce_instance\",\"labels\":{}},"
                 "\"metadata\":{\"system_labels\":{},\"user_labels\":{%s}}}}",
                 w->name, w->b, w->a);
        char url[256];
        snprintf(url, sizeof url, "%s/api/v1/monitoring/alerts/gcp", strict_base);
        const char *h[] = {"Authorization: Bearer " ALERT_TOKEN, NULL};
        resp r = test_http("POST", url, h, NULL, NULL, buf);
        long st = r.status;
        if (st == 202 && w->expect == OK_2XX && !strstr(r.body, "\"started\":[\""))
            st = -202;
        free(r.body);
        return st;
    }
    case ROW_RAW:
    case ROW_ALERT_RAW: {
        char req[12000], head[8192];
        size_t hl;
        const char *body = w->b;
        char alert_body[512];
        int port = profd_api_port(w->kind == ROW_RAW ? api : strict_api);
        if (w->kind == ROW_ALERT_RAW) {
            snprintf(alert_body, sizeof alert_body,
                     "{\"version\":\"4\",\"groupKey\":\"g\",\"status\":\"firing\",\"receiver\":"
                     "\"p\",\"commonLabels\":{},\"alerts\":[{\"status\":\"firing\",\"labels\":{"
                     "\"alertname\":\"q\",\"service\":\"%s\"}}]}",
                     w->b);
            body = alert_body;
            char line[512];
            snprintf(line, sizeof line,
                     "POST /api/v1/monitoring/alerts/alertmanager%s HTTP/1.1\r\n", w->a);
            hl = expand(line, head, sizeof head);
        } else if (strncmp(w->a, "GET ", 4) == 0) {
            hl = expand(w->a, head, sizeof head);
        } else {
            hl = (size_t)snprintf(head, sizeof head, "POST " P "/start HTTP/1.1\r\n");
            hl += expand(w->a, head + hl, sizeof head - hl);
        }
        size_t n = 0;
        memcpy(req, head, hl);
        n = hl;
        n += (size_t)snprintf(req + n, sizeof req - n, "Host: 127.0.0.1\r\nConnection: close\r\n");
        if (body) { /* '@' in a body is a raw NUL byte too */
            char raw_body[4096];
            size_t bl = expand(body, raw_body, sizeof raw_body);
            n += (size_t)snprintf(req + n, sizeof req - n,
                                  "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                                  bl);
            memcpy(req + n, raw_body, bl);
            n += bl;
        } else
            n += (size_t)snprintf(req + n, sizeof req - n, "\r\n");
        return raw_http(port, req, n, buf, sizeof buf);
    }
    }
    return 0;
}

static bool status_ok(const row *w, long st)
{
    if (w->expect == OK_2XX)
        return st >= 200 && st < 300;
    return ((w->expect & E400) && st == 400) || ((w->expect & E401) && st == 401) ||
           ((w->expect & E404) && st == 404);
}

static void test_nul_matrix(void **state)
{
    (void)state;
    /* A session for the path rows to name. */
    resp r = http("POST", P "/start", admin, SVC_BODY("nul-path-target"), NULL);
    assert_int_equal(r.status, 201);
    json_object *o = body_json(&r);
    snprintf(an_id, sizeof an_id, "%s", jget(o, "session_id"));
    json_object_put(o);
    free(r.body);
    int failed = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row *w = &rows[i];
        int s0 = stored_sessions(), p0 = published_requests();
        long st = run_row(w);
        int ds = stored_sessions() - s0, dp = published_requests() - p0;
        bool ok = status_ok(w, st) && ds == w->stores && dp == w->stores;
        if (!ok) {
            printf("FAIL  %-28s status %ld (want %s), stored %d, published %d (want %d)\n", w->name,
                   st, w->expect == OK_2XX ? "2xx" : "400/401/404", ds, dp, w->stores);
            failed++;
        } else {
            printf("ok    %-28s %ld\n", w->name, st);
        }
    }
    printf("%zu rows: %d failed\n", sizeof rows / sizeof rows[0], failed);
    assert_int_equal(failed, 0);
}

int main(void)
{
    if (api_http_skip())
        return 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nul_matrix),
    };
    return cmocka_run_group_tests(tests, strict_setup, strict_teardown);
}
