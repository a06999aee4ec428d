/* http.c - the API's HTTP server, on libmicrohttpd.
 *
 * One thread per connection (MHD_USE_THREAD_PER_CONNECTION): handlers make
 * blocking store and bus calls, and a thread each keeps one slow Redis reply
 * from stalling other clients (poll(), not select(), so descriptor numbers
 * above FD_SETSIZE are fine). What bounds the server:
 *  - a connection limit (256 by default, and 64 per client address), beyond
 *    which MHD refuses connections instead of queueing threads;
 *  - an inactivity timeout on every connection (15 s by default), so a client
 *    that stops sending headers or body is dropped;
 *  - request bodies of at most 64 KiB: a larger Content-Length is answered
 *    413 before the body is read, and a chunked body that grows past the
 *    limit is discarded and answered 413;
 *  - headers within MHD's per-connection memory pool (32 KiB), else 431/400.
 * Every answer is timed into the HTTP duration histogram under the route's
 * template (never the raw path, which would let clients mint label values). */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static void set_response(api_req *r, int status, struct MHD_Response *resp)
{
    if (r->resp)
        MHD_destroy_response(r->resp);
    r->resp = resp;
    r->status = status;
}

void api__reply_body(api_req *r, int status, const char *type, const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    set_response(r, status, resp);
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
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    set_response(r, MHD_HTTP_FOUND, resp);
}

void api__reply_fd(api_req *r, int fd, uint64_t size, const char *type)
{
    struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);
    if (!resp)
        return;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    set_response(r, MHD_HTTP_OK, resp);
}

void api__reply_header(api_req *r, const char *name, const char *value)
{
    if (r->resp)
        MHD_add_response_header(r->resp, name, value);
}

const char *api__req_header(api_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *api__req_query(api_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- dispatch ------------------------------------------------------------ */

static bool needs_auth(profd_route_id id)
{
    return id == PROFD_ROUTE_START || id == PROFD_ROUTE_LIST || id == PROFD_ROUTE_GET ||
           id == PROFD_ROUTE_CANCEL || id == PROFD_ROUTE_FLAMEGRAPH || id == PROFD_ROUTE_RAW;
}

/* 0 authorised; otherwise 401/403 is already the answer. */
static int authorise(api_req *r)
{
    char reason[256];
    profd_auth a = profd_jwt_authorize(r->api->keys, api__req_header(r, "Authorization"),
                                       profd_now_ms() / 1000, &r->who, reason, sizeof reason);
    if (a == PROFD_AUTH_OK)
        return 0;
    if (a == PROFD_AUTH_FORBIDDEN) {
        profd_metrics_rejected("forbidden");
        api__reply_detail(r, MHD_HTTP_FORBIDDEN, "Forbidden: %s", reason);
        return -1;
    }
    profd_metrics_rejected("unauthorized");
    api__reply_detail(r, MHD_HTTP_UNAUTHORIZED, "Not authenticated: %s", reason);
    char www[400];
    if (api__req_header(r, "Authorization"))
        snprintf(www, sizeof www,
                 "Bearer realm=\"profd\", error=\"invalid_token\", "
                 "error_description=\"%s\"",
                 reason);
    else
        snprintf(www, sizeof www, "Bearer realm=\"profd\"");
    api__reply_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, www);
    return -1;
}

static void dispatch(api_req *r)
{
    typedef void (*handler)(api_req *);
    static const handler handlers[] = {
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
    };
    profd_route *rt = &r->route;
    if (rt->id == PROFD_ROUTE_NONE) {
        api__reply_detail(r, MHD_HTTP_NOT_FOUND, "Not Found");
        return;
    }
    if (!rt->method_ok) {
        api__reply_detail(r, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed");
        api__reply_header(r, MHD_HTTP_HEADER_ALLOW, rt->allow);
        return;
    }
    if (r->too_big) {
        profd_metrics_rejected("body_too_large");
        api__reply_detail(r, MHD_HTTP_CONTENT_TOO_LARGE, "Request body exceeds %d bytes",
                          PROFD_API_MAX_BODY);
        return;
    }
    if (needs_auth(rt->id) && authorise(r) != 0)
        return;
    handlers[rt->id](r);
    if (!r->resp)
        api__reply_detail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal Server Error");
}

static enum MHD_Result finish(api_req *r)
{
    if (!r->resp)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    profd_metrics_http_request(r->route.name, r->status, (double)(mono_us() - r->t0_us) / 1e6);
    return rc;
}

/* First call: headers only. A declared body over the cap is refused now. */
static enum MHD_Result begin(profd_api *api, struct MHD_Connection *c, const char *url,
                             const char *method, void **con_cls)
{
    api_req *r = calloc(1, sizeof *r);
    if (!r)
        return MHD_NO;
    r->conn = c;
    r->api = api;
    r->method = method;
    r->t0_us = mono_us();
    profd_route_match(method, url, &r->route);
    *con_cls = r;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > PROFD_API_MAX_BODY) {
        profd_metrics_rejected("body_too_large");
        api__reply_detail(r, MHD_HTTP_CONTENT_TOO_LARGE, "Request body exceeds %d bytes",
                          PROFD_API_MAX_BODY);
        return finish(r);
    }
    return MHD_YES;
}

static void take_body(api_req *r, const char *data, size_t n)
{
    if (r->too_big || r->len + n > PROFD_API_MAX_BODY) {
        r->too_big = true;
        free(r->body);
        r->body = NULL;
        r->len = 0;
        return;
    }
    char *b = realloc(r->body, r->len + n + 1);
    if (!b) {
        r->too_big = true;
        return;
    }
    memcpy(b + r->len, data, n);
    r->len += n;
    b[r->len] = '\0';
    r->body = b;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    api_req *r = *con_cls;
    if (!r)
        return begin(cls, c, url, method, con_cls);
    if (r->status) { /* already answered (413 up front): discard the rest */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        take_body(r, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    dispatch(r);
    return finish(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    api_req *r = *con_cls;
    if (!r)
        return;
    if (r->resp)
        MHD_destroy_response(r->resp);
    free(r->body);
    free(r);
    *con_cls = NULL;
}

/* ---- start and stop ------------------------------------------------------ */

/* "host:port", "[v6]:port" or ":port". */
int api__resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *sl, profd_error *err)
{
    char host[256], port[16];
    const char *colon = strrchr(listen, ':');
    if (!colon || strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof port ||
        (size_t)(colon - listen) >= sizeof host) {
        profd_error_set(err, NULL, "PROFD_LISTEN must be HOST:PORT, got '%s'", listen);
        return -1;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    snprintf(port, sizeof port, "%s", colon + 1);
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    int rc = getaddrinfo(*h ? h : NULL, port, &hints, &res);
    if (rc != 0 || !res) {
        profd_error_set(err, NULL, "PROFD_LISTEN %s: %s", listen, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

void api__mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    LOG_D(NULL, "http.server", "%s", msg);
}

profd_api *profd_api_start(const profd_api_opts *o, profd_error *err)
{
    profd_api *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
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
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG |
                     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    unsigned limit = o->connection_limit > 0 ? (unsigned)o->connection_limit : 256;
    unsigned timeout = o->timeout_s > 0 ? (unsigned)o->timeout_s : 15;
    a->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, limit,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, limit < 64 ? limit : 64u,
                              MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_NOTIFY_COMPLETED,
                              on_completed, a, MHD_OPTION_EXTERNAL_LOGGER, api__mhd_log, a,
                              MHD_OPTION_END);
    if (!a->mhd) {
        profd_error_set(err, NULL, "cannot listen on %s (address in use, or not this host's?)",
                        a->cfg.listen);
        profd_api_stop(a);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info ? info->port : 0;
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
    if (a->mhd)
        MHD_stop_daemon(a->mhd);
    profd_jwt_keys_free(a->keys);
    memset(a->link_key, 0, sizeof a->link_key);
    free(a);
}
