/* h_misc.c - signed file links, health, readiness and metrics.
 *
 * /api/v1/files/{object} serves file-store objects to whoever holds a link
 * signed by this API (HMAC over object and expiry, see blob/file_link.c): no
 * bearer token, so a browser tab or speedscope's #profileURL= can open it.
 * Cross-origin reads are allowed for that reason (the link is the secret);
 * HTML is served under a CSP sandbox so a flame graph never runs with the
 * API's origin. /healthz says the process answers; /readyz that the store and
 * the bus answer too; /metrics is the Prometheus registry. None of these
 * three need a token: they reveal no session data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static const char *content_type(const char *object)
{
    const char *dot = strrchr(object, '.');
    if (dot && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot && strcmp(dot, ".json") == 0)
        return "application/json";
    if (dot && strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    if (dot && strcmp(dot, ".txt") == 0)
        return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

void api__handle_file(api_req *r)
{
    if (!r->api->link_key[0] || !r->api->o.blob) {
        api__reply_detail(r, 404, "Not Found");
        return;
    }
    int v = profd_blob_file_verify(r->api->link_key, r->route.param, api__req_query(r, "expires"),
                                   api__req_query(r, "signature"), profd_now_ms() / 1000);
    if (v != 0) {
        profd_metrics_rejected(v == -2 ? "link_expired" : "link_invalid");
        api__reply_detail(r, 403,
                          v == -2 ? "This link has expired; read the session again for a "
                                    "fresh one"
                                  : "Invalid link signature");
        return;
    }
    api__serve_object(r, r->route.param, content_type(r->route.param));
    if (r->status != 200)
        return;
    api__reply_header(r, "Access-Control-Allow-Origin", "*");
    api__reply_header(r, "Cache-Control", "private, max-age=300");
    if (strstr(content_type(r->route.param), "html") ||
        strstr(content_type(r->route.param), "svg")) {
        char csp[700];
        snprintf(csp, sizeof csp, "sandbox allow-scripts allow-downloads; %s", api__csp_flame());
        api__reply_header(r, "Content-Security-Policy", csp);
    }
}

void api__handle_healthz(api_req *r)
{
    api__reply_body(r, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

void api__handle_readyz(api_req *r)
{
    profd_error err;
    profd_store *st = r->api->o.store;
    profd_bus *b = r->api->o.bus;
    if (st->ops->ping && st->ops->ping(st, &err) < 0) {
        api__reply_detail(r, 503, "Session store not ready: %s", err.msg);
        return;
    }
    if (b->ops->ping && b->ops->ping(b, &err) < 0) {
        api__reply_detail(r, 503, "Message bus not ready: %s", err.msg);
        return;
    }
    api__reply_body(r, 200, "application/json", "{\"status\":\"ready\"}", 18);
}

void api__handle_metrics(api_req *r)
{
    char *text = profd_metrics_render();
    if (!text)
        return;
    api__reply_body(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
    free(text);
}
