/* gcs_request.c - one GCS request: the store's policy over the one Google
 * call (profd_gcp_call, src/gcp/call.c), and the error line it ends with.
 *
 * What is retried is the gcp module's rule, not this file's: transient
 * statuses only for idempotent requests (reads always, writes only with a
 * precondition, which the store always sends), a 401 re-authenticated once.
 * The final error names the operation, the attempts and the last HTTP
 * status with GCS's own reason; it never contains a header value. */
#include <stdio.h>
#include <string.h>

#include "gcs_internal.h"

void blob__gcs_failure(const char *what, const char *code, const profd_gcp_resp *resp,
                       profd_error *err)
{
    char reason[200];
    int n = resp->attempts;
    profd_gcp_reason(resp, reason, sizeof reason);
    if (resp->status)
        profd_error_set(err, code, "%s failed after %d attempt%s: HTTP %ld%s%s", what, n,
                        n == 1 ? "" : "s", resp->status, reason[0] ? " " : "", reason);
    else
        profd_error_set(err, code, "%s failed after %d attempt%s: %s", what, n, n == 1 ? "" : "s",
                        resp->error);
}

int blob__gcs_call(gcs_blob *g, profd_gcp_req *req, profd_gcp_resp *resp, bool idempotent,
                   const char *what, profd_error *err)
{
    req->what = what;
    switch (profd_gcp_call(g->gcp, req, idempotent, &g->policy, resp, err)) {
    case PROFD_GCP_OK:
        return 0;
    case PROFD_GCP_TRANSIENT:
        blob__gcs_failure(what, strncmp(what, "upload", 6) == 0 ? PROFD_E_UPLOAD : NULL, resp, err);
        profd_gcp_resp_free(resp);
        return -1;
    case PROFD_GCP_NO_TOKEN:
        break;
    }
    return -1;
}

int blob__gcs_name(gcs_blob *g, const char *object, char *out, size_t outlen, profd_error *err)
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
