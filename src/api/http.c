/* http.c - the REST API over the HTTP front (front.c, docs/http-front.md).
 *
 * The front owns sockets, framing, limits and deadlines; this file turns one
 * parsed request (an api_exchange) into an api_req, routes it, checks the
 * token, runs the handler and times the answer into the HTTP duration
 * histogram under the route's template (never the raw path, which would let
 * clients mint label values). Handlers run on the front's pool, since they
 * make blocking store and bus calls; /healthz runs on the event loop, so it
 * answers even while every pool thread waits on Redis. Request bodies are
 * capped at PROFD_API_MAX_BODY by the front (413 before the body is read
 * when Content-Length says so, and as soon as a chunked body grows past it). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"
#include "profd/log.h"

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- responses ----------------------------------------------------------- */

void api__reply_body(api_req *r, int status, const char *type, const char *body, size_t len)
{
    api__respond(r->x, status, type, body, len);
    api__respond_header(r->x, "Cache-Control", "no-store");
    api__respond_header(r->x, "X-Content-Type-Options", "nosniff");
    r->status = api__x_status(r->x);
}

void api__reply_json(api_req *r, int status, json_object *o)
{
    size_t len = 0;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    api__reply_body(r, status, "application/json", s, len);
    json_object_put(o);
}

void api__reply_detail(api_req *r, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "detail", json_object_new_string(msg));
    api__reply_json(r, status, o);
}

void api__reply_redirect(api_req *r, const char *location)
{
    api__respond(r->x, 302, NULL, "", 0);
    api__respond_header(r->x, "Location", location);
    api__respond_header(r->x, "Cache-Control", "no-store");
    r->status = api__x_status(r->x);
}

void api__reply_fd(api_req *r, int fd, uint64_t size, const char *type)
{
    api__respond_fd(r->x, 200, type, fd, size);
    api__respond_header(r->x, "X-Content-Type-Options", "nosniff");
    r->status = 200;
}

void api__reply_header(api_req *r, const char *name, const char *value)
{
    api__respond_header(r->x, name, value);
}

api_stream *api__reply_stream(api_req *r, int status, const char *type)
{
    api_stream *s = api__respond_stream(r->x, status, type);
    if (s) {
        api__respond_header(r->x, "Cache-Control", "no-store");
        api__respond_header(r->x, "X-Content-Type-Options", "nosniff");
    }
    r->status = api__x_status(r->x);
    return s;
}

const char *api__req_header(api_req *r, const char *name)
{
    return api__x_header(r->x, name);
}

const char *api__req_query(api_req *r, const char *name)
{
    return api__x_query(r->x, name);
}

/* ---- dispatch ------------------------------------------------------------ */

/* 0 authorised; otherwise 401/403 is already the answer. */
static int authorise(api_req *r)
{
    char reason[256];
    profd_auth a = profd_jwt_authorize(r->api->keys, api__req_header(r, "Authorization"),
                                       profd_now_ms() / 1000, &r->who, reason, sizeof reason);
    if (a == PROFD_AUTH_OK ||
        (a == PROFD_AUTH_FORBIDDEN && r->who.viewer && r->route.access == PROFD_ACCESS_READ))
        return 0;
    if (a == PROFD_AUTH_FORBIDDEN) {
        profd_metrics_rejected("forbidden");
        api__reply_detail(r, 403, "Forbidden: %s", reason);
        return -1;
    }
    profd_metrics_rejected("unauthorized");
    api__reply_detail(r, 401, "Not authenticated: %s", reason);
    char www[400];
    if (api__req_header(r, "Authorization"))
        snprintf(www, sizeof www,
                 "Bearer realm=\"profd\", error=\"invalid_token\", "
                 "error_description=\"%s\"",
                 reason);
    else
        snprintf(www, sizeof www, "Bearer realm=\"profd\"");
    api__reply_header(r, "WWW-Authenticate", www);
    return -1;
}

static void dispatch(api_req *r)
{
    typedef void (*handler)(api_req *);
    static const handler handlers[PROFD_ROUTE_COUNT] = {
        [PROFD_ROUTE_START] = api__handle_start,
        [PROFD_ROUTE_LIST] = api__handle_list,
        [PROFD_ROUTE_GET] = api__handle_get,
        [PROFD_ROUTE_CANCEL] = api__handle_cancel,
        [PROFD_ROUTE_FLAMEGRAPH] = api__handle_artifact,
        [PROFD_ROUTE_RAW] = api__handle_artifact,
        [PROFD_ROUTE_FILE] = api__handle_file,
        [PROFD_ROUTE_HEALTHZ] = api__handle_healthz,
        [PROFD_ROUTE_READYZ] = api__handle_readyz,
        [PROFD_ROUTE_METRICS] = api__handle_metrics,
        [PROFD_ROUTE_ALERT_ALERTMANAGER] = api__handle_alert,
        [PROFD_ROUTE_ALERT_GCP] = api__handle_alert,
        [PROFD_ROUTE_DIFF] = api__handle_diff,
        [PROFD_ROUTE_LIVE] = api__handle_live,
        [PROFD_ROUTE_EXPORT] = api__handle_export,
        [PROFD_ROUTE_WHOAMI] = api__handle_whoami,
        [PROFD_ROUTE_OPENAPI] = api__handle_openapi,
        [PROFD_ROUTE_SIGNIN] = api__handle_signin,
        [PROFD_ROUTE_CONSOLE] = api__handle_console,
        [PROFD_ROUTE_CONSOLE_ASSET] = api__handle_console,
    };
    profd_route *rt = &r->route;
    if (rt->id == PROFD_ROUTE_NONE) {
        api__reply_detail(r, 404, "Not Found");
        return;
    }
    if (!rt->method_ok) {
        api__reply_detail(r, 405, "Method Not Allowed");
        api__reply_header(r, "Allow", rt->allow);
        return;
    }
    if (rt->access != PROFD_ACCESS_PUBLIC && authorise(r) != 0)
        return;
    if (!handlers[rt->id]) {
        api__reply_detail(r, 404, "Not Found");
        return;
    }
    handlers[rt->id](r);
    if (!r->status)
        api__reply_detail(r, 500, "Internal Server Error");
}

void api__request(void *ctx, api_exchange *x)
{
    api_req r = {.x = x, .api = ctx, .method = api__x_method(x), .t0_us = mono_us()};
    r.body = api__x_body(x, &r.len);
    profd_route_match(r.method, api__x_path(x), &r.route);
    dispatch(&r);
    profd_metrics_http_request(r.route.name, r.status, (double)(mono_us() - r.t0_us) / 1e6);
}

/* Handlers that never block run on the event loop. */
static bool on_loop(void *ctx, const api_exchange *x)
{
    (void)ctx;
    return strcmp(api__x_path(x), "/healthz") == 0;
}

static void on_rejected(void *ctx, int status, const char *why)
{
    (void)ctx, (void)why;
    profd_metrics_rejected(status == 413   ? "body_too_large"
                           : status == 503 ? "connection_limit"
                                           : "malformed_request");
    profd_metrics_http_request("unmatched", status, 0);
}

/* ---- start and stop ------------------------------------------------------ */

profd_api *profd_api_start(const profd_api_opts *o, profd_error *err)
{
    profd_api *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    pthread_mutex_init(&a->live_mu, NULL);
    pthread_cond_init(&a->live_cv, NULL);
    a->o = *o;
    a->cfg = *o->cfg;
    a->o.cfg = &a->cfg;
    if (o->link_key)
        profd_strlcpy(a->link_key, o->link_key, sizeof a->link_key);
    profd_jwt_settings js = {a->cfg.jwt_secret, a->cfg.jwt_public_key, a->cfg.jwt_issuer,
                             a->cfg.jwt_audience, a->cfg.admin_role};
    a->keys = profd_jwt_keys_new(&js, err);
    struct sockaddr_storage ss;
    socklen_t sl;
    if (!a->keys || api__resolve(a->cfg.listen, &ss, &sl, err) < 0) {
        profd_api_stop(a);
        return NULL;
    }
    const profd_config *c = &a->cfg;
    int t = o->timeout_s; /* a test's override of every deadline */
    api_front_opts fo = {
        .listen = c->listen,
        .handler = api__request,
        .inline_ok = on_loop,
        .rejected = on_rejected,
        .ctx = a,
        .max_connections = o->connection_limit > 0 ? o->connection_limit : c->http_max_connections,
        .max_per_address = c->http_max_per_address,
        .header_timeout_ms = 1000 * (t > 0 ? t : c->http_header_timeout),
        .body_timeout_ms = 1000 * (t > 0 ? t : c->http_body_timeout),
        .idle_timeout_ms = 1000 * (t > 0 ? t : c->http_idle_timeout),
        .write_timeout_ms = 1000 * (t > 0 ? t : c->http_write_timeout),
        .workers = c->http_workers,
        .max_body = PROFD_API_MAX_BODY,
    };
    if (!(a->front = api__front_start(&fo, err))) {
        profd_api_stop(a);
        return NULL;
    }
    a->port = api__front_port(a->front);
    return a;
}

int profd_api_port(const profd_api *a)
{
    return a->port;
}

void profd_api_stop(profd_api *a)
{
    if (!a)
        return;
    api__live_stop(a); /* live producers use the store and blob store */
    api__front_stop(a->front);
    profd_jwt_keys_free(a->keys);
    memset(a->link_key, 0, sizeof a->link_key);
    free(a);
}
