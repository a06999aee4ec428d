/* gcs_request.c - one GCS request with auth and retries.
 *
 * Every attempt takes a fresh Authorization header from the token cache (a
 * long retry may cross a token's expiry). A 401 drops the cached token and
 * tries once more at no backoff. Retryable failures (408, 429, 5xx, no
 * response) are retried only for idempotent requests, following Google's
 * matrix (retry_tests.json): reads always, writes only with a precondition.
 * The final error names the operation, the attempts and the last HTTP
 * status with GCS's own reason; it never contains a header value. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "blob/gcs_internal.h"
#include "blob/retry.h"
#include "profd/log.h"

void profd_gcs_reason(const profd_http_resp *resp, char *out, size_t outlen)
{
    out[0] = '\0';
    if (!resp->body || !resp->body_len)
        return;
    json_object *o = json_tokener_parse(resp->body), *e, *m;
    if (o && json_object_object_get_ex(o, "error", &e) &&
        json_object_object_get_ex(e, "message", &m))
        profd_strlcpy(out, json_object_get_string(m), outlen);
    else if (!o)
        snprintf(out, outlen, "%.*s", (int)strcspn(resp->body, "\r\n"), resp->body);
    json_object_put(o);
    if (strlen(out) > 160)
        strcpy(out + 157, "...");
}

static void failure(const char *what, int attempts, const profd_http_resp *resp, profd_error *err)
{
    char reason[200];
    const char *code = strncmp(what, "upload", 6) == 0 ? PROFD_E_UPLOAD : NULL;
    profd_gcs_reason(resp, reason, sizeof reason);
    if (resp->status)
        profd_error_set(err, code, "%s failed after %d attempt%s: HTTP %ld%s%s", what, attempts,
                        attempts == 1 ? "" : "s", resp->status, reason[0] ? " " : "", reason);
    else
        profd_error_set(err, code, "%s failed after %d attempt%s: %s", what, attempts,
                        attempts == 1 ? "" : "s", resp->error);
}

int profd_gcs_call(gcs_blob *g, profd_http_req *req, profd_http_resp *resp, bool idempotent,
                   const char *what, profd_error *err)
{
    profd_retry r;
    profd_retry_start(&r, idempotent ? g->max_attempts : 1, g->deadline_ms, g->base_ms);
    int base_headers = req->nheaders;
    bool reauthed = false;
    char auth[4200];
    for (;;) {
        req->nheaders = base_headers;
        if (profd_gcp_auth_header(g->auth, auth, sizeof auth, err) != 0)
            return -1;
        if (auth[0])
            profd_http_add_header(req, auth);
        if (!req->timeout_ms)
            req->timeout_ms = g->timeout_ms;
        r.attempt++;
        profd_http_do(req, resp);
        req->nheaders = base_headers;
        if (resp->status == 401 && !reauthed && auth[0]) {
            reauthed = true;
            profd_gcp_auth_invalidate(g->auth);
            profd_http_resp_free(resp);
            continue;
        }
        if (!profd_retry_status(resp->status)) {
            memset(auth, 0, sizeof auth);
            return 0;
        }
        LOG_W(NULL, "gcs.retry", "%s: attempt %d: %s%ld", what, r.attempt,
              resp->status ? "HTTP " : "no response, ", resp->status);
        if (!idempotent || !profd_retry_wait(&r, resp->retry_after))
            break;
        profd_http_resp_free(resp);
    }
    failure(what, r.attempt, resp, err);
    profd_http_resp_free(resp);
    memset(auth, 0, sizeof auth);
    return -1;
}

int profd_gcs_name(gcs_blob *g, const char *object, char *out, size_t outlen, profd_error *err)
{
    if (!profd_blob_name_valid(object, err))
        return -1;
    int n = g->prefix[0] ? snprintf(out, outlen, "%s/%s", g->prefix, object)
                         : snprintf(out, outlen, "%s", object);
    if (n < 0 || (size_t)n >= outlen) {
        profd_error_set(err, PROFD_E_INVALID, "object name '%s' is too long", object);
        return -1;
    }
    return 0;
}
