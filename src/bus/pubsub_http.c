/* pubsub_http.c - the Pub/Sub REST calls, over the one Google client.
 *
 * Connections, credentials, the 401 re-authentication and the retry rule
 * are the gcp module's (include/profd/gcp.h); this file only names the
 * resource, picks the policy and words the error. Every Pub/Sub call is
 * treated as idempotent: the transport is at-least-once by contract (a
 * repeated publish is a duplicate the worker already tolerates; acks and
 * deadline changes are idempotent). Each attempt's timeout is what is left
 * of the call's total, so a pull (returnImmediately) is never cut short by
 * a fixed per-request limit: the emulator, for one, hands messages to a pull
 * whose client has gone, and they would then wait out their ack deadline.
 * Tokens never reach a log or an error message: only statuses and the
 * server's error.message do. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub_internal.h"

#define PS_RETRY_BASE_MS 100 /* first backoff ceiling: Pub/Sub calls are short */

struct ps_http {
    char api[PS_NAME_MAX];
    profd_gcp *gcp; /* not owned */
};

ps_http *bus__ps_http_new(const char *api, profd_gcp *gcp, profd_error *err)
{
    ps_http *h = calloc(1, sizeof *h);
    if (!h) {
        profd_error_set(err, NULL, "out of memory");
        return NULL;
    }
    profd_strlcpy(h->api, api, sizeof h->api);
    h->gcp = gcp;
    return h;
}

void bus__ps_http_free(ps_http *h)
{
    free(h);
}

/* The one line an operator reads: what, the status, and the server's reason. */
static void describe(const profd_gcp_resp *r, const char *what, profd_error *err)
{
    char msg[200];
    int n = r->attempts;
    profd_gcp_reason(r, msg, sizeof msg);
    const char *hint = r->status == 404   ? " (create it: see docs/pubsub.md)"
                       : r->status == 403 ? " (grant the service account the Pub/Sub role)"
                                          : "";
    if (r->status)
        profd_error_set(err, NULL, "%s failed after %d attempt%s: HTTP %ld%s%s%s", what, n,
                        n == 1 ? "" : "s", r->status, msg[0] ? ": " : "", msg, hint);
    else
        profd_error_set(err, NULL, "%s failed after %d attempt%s: %s (is Pub/Sub reachable?)", what,
                        n, n == 1 ? "" : "s", r->error);
}

int bus__ps_http_call(ps_http *h, const char *method, const char *path, const char *body,
                      int attempts, int total_ms, const char *what, profd_gcp_resp *r,
                      profd_error *err)
{
    char url[2 * PS_NAME_MAX + 64];
    snprintf(url, sizeof url, "%s/%s", h->api, path);
    /* No .what: retries are not logged; the one error line says it all (a
     * `profd submit` prints exactly one line when Pub/Sub is unreachable). */
    profd_gcp_req req = {
        .method = method, .url = url, .body = body, .body_len = body ? strlen(body) : 0};
    profd_gcp_add_header(&req, "Content-Type: application/json");
    profd_gcp_policy p = {
        .max_attempts = attempts, .deadline_ms = total_ms, .base_ms = PS_RETRY_BASE_MS};
    switch (profd_gcp_call(h->gcp, &req, true, &p, r, err)) {
    case PROFD_GCP_NO_TOKEN: {
        char why[400];
        profd_strlcpy(why, err->msg, sizeof why);
        profd_error_set(err, NULL, "%s: no Google access token: %s", what, why);
        return -1;
    }
    case PROFD_GCP_OK:
        if (r->status >= 200 && r->status < 300)
            return 0;
        break;
    case PROFD_GCP_TRANSIENT:
        break;
    }
    describe(r, what, err);
    return -1;
}
