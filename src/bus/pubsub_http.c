/* pubsub_http.c - the Pub/Sub REST calls over libcurl.
 *
 * Several threads talk to Pub/Sub at once (the puller, the lease extender,
 * the worker acking, job threads publishing events), so each exchange gets a
 * fresh easy handle, and all of them share one CURLSH for connections, DNS
 * and TLS sessions: against pubsub.googleapis.com that saves a TLS handshake
 * per call. The share's locks are one mutex per data kind.
 *
 * Auth comes from the shared Google token provider (blob/gcp_auth.h); under
 * the emulator it adds nothing. A 401 drops the cached token and tries once
 * more, as a token can be revoked before it expires. Pulls return at once
 * (returnImmediately), so no exchange is ever cut short by the client: the
 * emulator, for one, hands messages to a pull whose client has gone, and they
 * would then wait out their ack deadline. Tokens never reach a log or an
 * error message: only statuses and the server's error.message do. */
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/retry.h"
#include "pubsub_internal.h"

struct ps_http {
    char api[PS_NAME_MAX];
    profd_gcp_auth *auth;
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *c, curl_lock_data d, curl_lock_access a, void *arg)
{
    (void)c, (void)a;
    pthread_mutex_lock(&((ps_http *)arg)->locks[d]);
}

static void share_unlock(CURL *c, curl_lock_data d, void *arg)
{
    (void)c;
    pthread_mutex_unlock(&((ps_http *)arg)->locks[d]);
}

ps_http *ps_http_new(const char *api, profd_gcp_auth *auth, profd_error *err)
{
    pthread_once(&once, global_init);
    ps_http *h = calloc(1, sizeof *h);
    if (!h || !(h->share = curl_share_init())) {
        free(h);
        profd_error_set(err, NULL, "cannot initialise libcurl for Pub/Sub");
        return NULL;
    }
    profd_strlcpy(h->api, api, sizeof h->api);
    h->auth = auth;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&h->locks[i], NULL);
    curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    return h;
}

void ps_http_free(ps_http *h)
{
    if (!h)
        return;
    curl_share_cleanup(h->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&h->locks[i]);
    free(h);
}

void ps_resp_free(ps_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    ps_resp *r = arg;
    size_t len = size * n;
    char *b = realloc(r->body, r->len + len + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, p, len);
    r->body = b;
    r->len += len;
    b[r->len] = '\0';
    return len;
}

static int exchange(ps_http *h, const char *method, const char *url, const char *auth,
                    const char *body, long timeout_ms, ps_resp *r)
{
    CURL *c = curl_easy_init();
    if (!c) {
        profd_strlcpy(r->error, "cannot initialise libcurl", sizeof r->error);
        return -1;
    }
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    if (auth[0])
        hl = curl_slist_append(hl, auth);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_SHARE, h->share);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    else
        snprintf(r->error, sizeof r->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

int ps_http_do(ps_http *h, const char *method, const char *path, const char *body, long timeout_ms,
               ps_resp *r, profd_error *err)
{
    char url[2 * PS_NAME_MAX + 64];
    snprintf(url, sizeof url, "%s/%s", h->api, path);
    for (int tries = 0;; tries++) {
        memset(r, 0, sizeof *r);
        char auth[4200];
        if (profd_gcp_auth_header(h->auth, auth, sizeof auth, err) != 0)
            return -2; /* err says why; no request was made */
        int rc = exchange(h, method, url, auth, body, timeout_ms, r);
        if (rc != 0 || r->status != 401 || !auth[0] || tries > 0)
            return rc;
        ps_resp_free(r);
        profd_gcp_auth_invalidate(h->auth);
    }
}

void ps_error_message(const ps_resp *r, char *out, size_t outlen)
{
    out[0] = '\0';
    json_object *o = r->body ? json_tokener_parse(r->body) : NULL;
    json_object *e, *m;
    if (o && json_object_object_get_ex(o, "error", &e) &&
        json_object_object_get_ex(e, "message", &m))
        profd_strlcpy(out, json_object_get_string(m), outlen);
    json_object_put(o);
}

/* The one line an operator reads: what, the status, and the server's reason. */
static void describe(const ps_resp *r, int attempts, const char *what, profd_error *err)
{
    char msg[300];
    ps_error_message(r, msg, sizeof msg);
    const char *hint = r->status == 404   ? " (create it: see docs/pubsub.md)"
                       : r->status == 403 ? " (grant the service account the Pub/Sub role)"
                                          : "";
    if (r->status)
        profd_error_set(err, NULL, "%s failed after %d attempt%s: HTTP %ld%s%s%s", what, attempts,
                        attempts == 1 ? "" : "s", r->status, msg[0] ? ": " : "", msg, hint);
    else
        profd_error_set(err, NULL, "%s failed after %d attempt%s: %s (is Pub/Sub reachable?)", what,
                        attempts, attempts == 1 ? "" : "s", r->error);
}

int ps_http_call(ps_http *h, const char *method, const char *path, const char *body, int attempts,
                 int total_ms, const char *what, ps_resp *r, profd_error *err)
{
    profd_retry rt;
    profd_retry_start(&rt, attempts, total_ms, 100);
    for (;;) {
        rt.attempt++;
        long left = (long)(rt.deadline_ms - profd_mono_ms());
        int rc = ps_http_do(h, method, path, body, left > 1000 ? left : 1000, r, err);
        if (rc == -2) {
            char why[400];
            profd_strlcpy(why, err->msg, sizeof why);
            profd_error_set(err, NULL, "%s: no Google access token: %s", what, why);
            return -1;
        }
        if (rc == 0 && r->status >= 200 && r->status < 300)
            return 0;
        if (!profd_retry_status(r->status) || !profd_retry_wait(&rt, NULL)) {
            describe(r, rt.attempt, what, err);
            return -1;
        }
        ps_resp_free(r);
    }
}
