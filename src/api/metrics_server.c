/* metrics_server.c - the worker's /metrics endpoint (PROFD_METRICS_LISTEN).
 *
 * A worker has no REST API, but operators scrape it like the API: the same
 * registry (metrics.h), rendered by a minimal libmicrohttpd daemon that
 * answers GET /metrics and GET /healthz and nothing else. It takes no
 * requests that change anything, so it needs no auth; bind it to a private
 * address. */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

struct profd_metrics_server {
    struct MHD_Daemon *mhd;
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *type, char *body,
                              enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    (void)cls, (void)version, (void)upload, (void)state;
    if (*upload_size)
        return MHD_NO; /* no bodies here */
    if (strcmp(method, "GET") != 0)
        return answer(c, 405, "application/json", "{\"detail\": \"only GET\"}",
                      MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") == 0) {
        char *text = profd_metrics_render();
        if (!text)
            return MHD_NO;
        return answer(c, 200, "text/plain; version=0.0.4", text, MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/healthz") == 0)
        return answer(c, 200, "application/json", "{\"status\": \"ok\"}", MHD_RESPMEM_PERSISTENT);
    return answer(c, 404, "application/json", "{\"detail\": \"not found\"}",
                  MHD_RESPMEM_PERSISTENT);
}

profd_metrics_server *profd_metrics_server_start(const char *listen, profd_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (api__resolve(listen, &ss, &sl, err) < 0)
        return NULL;
    profd_metrics_server *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG |
                     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    m->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16u,
                              MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_EXTERNAL_LOGGER,
                              api__mhd_log, NULL, MHD_OPTION_END);
    if (!m->mhd) {
        profd_error_set(err, NULL, "PROFD_METRICS_LISTEN %s: cannot listen (address in use?)",
                        listen);
        free(m);
        return NULL;
    }
    return m;
}

void profd_metrics_server_stop(profd_metrics_server *m)
{
    if (!m)
        return;
    MHD_stop_daemon(m->mhd);
    free(m);
}
