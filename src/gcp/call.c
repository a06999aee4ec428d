/* call.c - the one retry rule, the one backoff and the one call that every
 * Google API request of profd goes through.
 *
 * The rule (profd_gcp_next) is Google's retry strategy for Cloud Storage, as
 * its conformance matrix ../shared/testdata/gcs/retry_tests.json encodes it,
 * applied to Pub/Sub and the auth endpoints too:
 *   - 408, 429, 5xx and "no response" (refused, reset, timeout, a stream cut
 *     short) are transient; they are retried only when a repeat is harmless:
 *     reads always, writes only with a precondition (ifGenerationMatch),
 *     which the GCS store always sends; Pub/Sub calls are at-least-once by
 *     contract, so all of them are;
 *   - every other status is final, 400 and 401 included (matrix cases 5, 6);
 *   - except that a 401 to a bearer token may mean the cached token was
 *     revoked or expired early: the token is dropped and the request sent
 *     once more at once with a new one. A 401 without a token (an emulator,
 *     which is what the matrix is run against) or after that one re-auth is
 *     final.
 * Before, five loops treated a 401 three ways (once at no cost; as a
 * transient failure with backoff; not at all); one rule ends that.
 *
 * The backoff: exponential, full jitter (uniform in [0, ceiling]) so that
 * clients failing together do not retry together; Retry-After is a floor;
 * bounded by attempts and by a deadline that no wait may cross. Each
 * exchange's timeout is cut to what is left of the deadline.
 *
 * The call takes a fresh Authorization header for every attempt (a long
 * retry may cross a token's expiry) and wipes it from the stack after. */
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gcp_internal.h"
#include "profd/log.h"

bool profd_gcp_retryable(long status)
{
    return status == 0 || status == 408 || status == 429 || (status >= 500 && status <= 599);
}

profd_gcp_step profd_gcp_next(long status, bool idempotent, bool sent_token, bool reauthed)
{
    if (status == 401)
        return sent_token && !reauthed ? PROFD_GCP_REAUTH : PROFD_GCP_DONE;
    if (profd_gcp_retryable(status) && idempotent)
        return PROFD_GCP_BACKOFF;
    return PROFD_GCP_DONE;
}

void profd_gcp_backoff_start(profd_gcp_backoff *b, const profd_gcp_policy *p)
{
    b->p = *p;
    if (b->p.max_attempts < 1)
        b->p.max_attempts = 1;
    if (b->p.base_ms < 1)
        b->p.base_ms = 1;
    b->deadline_ms = profd_mono_ms() + b->p.deadline_ms;
    b->attempt = 0;
}

long profd_gcp_backoff_timeout(const profd_gcp_backoff *b)
{
    int64_t left = b->deadline_ms - profd_mono_ms();
    if (left < 1000)
        left = 1000;
    if (b->p.timeout_ms > 0 && b->p.timeout_ms < left)
        left = b->p.timeout_ms;
    return (long)left;
}

static int64_t jitter(int64_t ceiling)
{
    uint64_t v = 0;
    if (ceiling <= 0)
        return 0;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
        v = (uint64_t)rand();
    return (int64_t)(v % (uint64_t)(ceiling + 1));
}

bool profd_gcp_backoff_wait(profd_gcp_backoff *b, const char *retry_after)
{
    if (b->attempt >= b->p.max_attempts)
        return false;
    int64_t ceiling = b->p.base_ms;
    for (int i = 1; i < b->attempt && ceiling < PROFD_GCP_MAX_BACKOFF_MS; i++)
        ceiling *= 2;
    if (ceiling > PROFD_GCP_MAX_BACKOFF_MS)
        ceiling = PROFD_GCP_MAX_BACKOFF_MS;
    int64_t wait = jitter(ceiling);
    if (retry_after && retry_after[0]) {
        /* Seconds only; an HTTP-date is rare from Google and treated as 1 s. */
        char *end;
        long s = strtol(retry_after, &end, 10);
        int64_t floor_ms = (end != retry_after && *end == '\0' && s >= 0) ? s * 1000 : 1000;
        if (wait < floor_ms)
            wait = floor_ms;
    }
    if (profd_mono_ms() + wait >= b->deadline_ms)
        return false;
    struct timespec ts = {wait / 1000, (wait % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return true;
}

void profd_gcp_reason(const profd_gcp_resp *resp, char *out, size_t outlen)
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
    if (outlen > 161 && strlen(out) > 160)
        strcpy(out + 157, "...");
}

profd_gcp_result gcp__send(profd_gcp *g, profd_gcp_req *req, profd_gcp_backoff *b, bool with_auth,
                           profd_gcp_resp *resp, profd_error *err)
{
    int base_headers = req->nheaders;
    bool reauthed = false;
    char auth[4200] = "";
    profd_gcp_result rc;
    for (;;) {
        req->nheaders = base_headers;
        if (with_auth && gcp__auth_header(g, auth, sizeof auth, err) != 0) {
            memset(resp, 0, sizeof *resp);
            resp->attempts = b->attempt;
            rc = PROFD_GCP_NO_TOKEN;
            break;
        }
        if (auth[0])
            profd_gcp_add_header(req, auth);
        req->timeout_ms = profd_gcp_backoff_timeout(b);
        b->attempt++;
        profd_gcp_http(g, req, resp);
        resp->attempts = b->attempt;
        profd_gcp_step step = profd_gcp_next(resp->status, true, auth[0] != '\0', reauthed);
        if (step == PROFD_GCP_REAUTH) {
            reauthed = true;
            gcp__auth_invalidate(g);
            profd_gcp_resp_free(resp);
            continue;
        }
        rc = step == PROFD_GCP_BACKOFF ? PROFD_GCP_TRANSIENT : PROFD_GCP_OK;
        if (rc == PROFD_GCP_TRANSIENT && req->what)
            LOG_W(NULL, "gcp.retry", "%s: attempt %d: %s%ld", req->what, b->attempt,
                  resp->status ? "HTTP " : "no response, ", resp->status);
        break;
    }
    req->nheaders = base_headers;
    OPENSSL_cleanse(auth, sizeof auth);
    return rc;
}

profd_gcp_result gcp__call(profd_gcp *g, profd_gcp_req *req, bool idempotent,
                           const profd_gcp_policy *p, bool with_auth, profd_gcp_resp *resp,
                           profd_error *err)
{
    profd_gcp_backoff b;
    profd_gcp_backoff_start(&b, p);
    for (;;) {
        profd_gcp_result rc = gcp__send(g, req, &b, with_auth, resp, err);
        if (rc != PROFD_GCP_TRANSIENT || !idempotent ||
            !profd_gcp_backoff_wait(&b, resp->retry_after))
            return rc;
        profd_gcp_resp_free(resp);
    }
}

profd_gcp_result profd_gcp_send(profd_gcp *g, profd_gcp_req *req, profd_gcp_backoff *b,
                                profd_gcp_resp *resp, profd_error *err)
{
    return gcp__send(g, req, b, true, resp, err);
}

profd_gcp_result profd_gcp_call(profd_gcp *g, profd_gcp_req *req, bool idempotent,
                                const profd_gcp_policy *p, profd_gcp_resp *resp, profd_error *err)
{
    return gcp__call(g, req, idempotent, p, true, resp, err);
}
