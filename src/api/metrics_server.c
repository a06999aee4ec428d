/* metrics_server.c - the worker's /metrics endpoint (PROFD_METRICS_LISTEN).
 *
 * A worker has no REST API, but operators scrape it like the API: the same
 * registry (metrics.h), served by the same HTTP front (front.c) with a tiny
 * table (16 connections, 4 per address) and one handler that answers GET
 * /metrics and GET /healthz and nothing else, on the event loop (rendering
 * the registry never blocks). It takes no requests that change anything, so
 * it needs no auth; bind it to a private address. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

struct profd_metrics_server {
    api_front *front;
};

static void answer(api_exchange *x, int code, const char *type, const char *body)
{
    api__respond(x, code, type, body, strlen(body));
}

static void on_request(void *ctx, api_exchange *x)
{
    (void)ctx;
    const char *m = api__x_method(x), *path = api__x_path(x);
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
        answer(x, 405, "application/json", "{\"detail\": \"only GET\"}");
        api__respond_header(x, "Allow", "GET, HEAD");
    } else if (strcmp(path, "/metrics") == 0) {
        char *text = profd_metrics_render();
        if (text)
            answer(x, 200, "text/plain; version=0.0.4", text);
        free(text);
    } else if (strcmp(path, "/healthz") == 0) {
        answer(x, 200, "application/json", "{\"status\": \"ok\"}");
    } else {
        answer(x, 404, "application/json", "{\"detail\": \"not found\"}");
    }
}

static bool always(void *ctx, const api_exchange *x)
{
    (void)ctx, (void)x;
    return true;
}

profd_metrics_server *profd_metrics_server_start(const char *listen, profd_error *err)
{
    profd_metrics_server *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    api_front_opts fo = {.listen = listen,
                         .handler = on_request,
                         .inline_ok = always,
                         .max_connections = 16,
                         .max_per_address = 4,
                         .header_timeout_ms = 10000,
                         .idle_timeout_ms = 10000,
                         .workers = 1,
                         .max_body = 1};
    if (!(m->front = api__front_start(&fo, err))) {
        char msg[sizeof err->msg];
        profd_strlcpy(msg, err->msg, sizeof msg);
        profd_error_set(err, NULL, "PROFD_METRICS_LISTEN %s: %s", listen, msg);
        free(m);
        return NULL;
    }
    return m;
}

void profd_metrics_server_stop(profd_metrics_server *m)
{
    if (!m)
        return;
    api__front_stop(m->front);
    free(m);
}
