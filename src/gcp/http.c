/* http.c - one HTTP exchange through libcurl, for every Google API profd
 * talks to (Cloud Storage, Pub/Sub, OAuth, metadata, IAM).
 *
 * Design. Several threads talk to Google at once (worker uploads, the Pub/Sub
 * puller and lease extender, job threads publishing events), so each
 * exchange gets a fresh easy handle, and all exchanges of one profd_gcp share
 * one CURLSH for DNS and TLS sessions (a resumed handshake is cheap), and for
 * connections when the owner asks (keep_alive: Pub/Sub). Connections are not
 * kept by default because libcurl silently resends a request once when a kept
 * connection turns out dead, which would let an upload chunk be repeated
 * behind the retry rule's back. The share's locks are one mutex per data
 * kind. Successful bodies stream to a file when the caller gives one
 * (downloads); everything else is kept in memory so error bodies can be
 * quoted. Only a few response headers are kept: the ones the GCS protocols
 * use (Range, Retry-After, Location, x-goog-hash).
 *
 * Why nothing more: retrying and authentication are call.c's business; this
 * file only reports what happened. A body cut short after a good status line
 * is reported as status 0 (a broken stream), so callers retry or resume it.
 * The Authorization header is only ever sent, never recorded. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gcp_internal.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *c, curl_lock_data d, curl_lock_access a, void *arg)
{
    (void)c, (void)a;
    pthread_mutex_lock(&((profd_gcp *)arg)->locks[d]);
}

static void share_unlock(CURL *c, curl_lock_data d, void *arg)
{
    (void)c;
    pthread_mutex_unlock(&((profd_gcp *)arg)->locks[d]);
}

int gcp__http_init(profd_gcp *g, bool keep_alive)
{
    pthread_once(&once, global_init);
    if (!(g->share = curl_share_init()))
        return -1;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&g->locks[i], NULL);
    curl_share_setopt(g->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(g->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(g->share, CURLSHOPT_USERDATA, g);
    curl_share_setopt(g->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(g->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (keep_alive)
        curl_share_setopt(g->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    return 0;
}

void gcp__http_free(profd_gcp *g)
{
    if (!g->share)
        return;
    curl_share_cleanup(g->share);
    g->share = NULL;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&g->locks[i]);
}

void gcp__set_transport(profd_gcp *g, gcp__transport fn, void *arg)
{
    g->transport = fn;
    g->transport_arg = arg;
}

typedef struct sink {
    const profd_gcp_req *req;
    profd_gcp_resp *resp;
    CURL *curl;
    size_t cap;
} sink;

static int to_file(sink *s)
{
    if (!s->req->out)
        return 0;
    long code = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
    return code >= 200 && code < 300;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    size_t len = size * n;
    if (to_file(s)) {
        if (fwrite(p, 1, len, s->req->out) != len)
            return 0;
        s->resp->written += (int64_t)len;
        return len;
    }
    profd_gcp_resp *r = s->resp;
    if (r->body_len + len + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < r->body_len + len + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b)
            return 0;
        r->body = b;
        s->cap = cap;
    }
    memcpy(r->body + r->body_len, p, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return len;
}

static void copy_value(const char *line, size_t len, size_t namelen, char *out, size_t outlen)
{
    const char *v = line + namelen;
    size_t vl = len - namelen;
    while (vl && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (vl >= outlen)
        vl = outlen - 1;
    memcpy(out, v, vl);
    out[vl] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    size_t len = size * n;
    static const struct {
        const char *name;
        size_t off, size;
    } want[] = {
        {"range:", offsetof(profd_gcp_resp, range), sizeof(((profd_gcp_resp *)0)->range)},
        {"retry-after:", offsetof(profd_gcp_resp, retry_after),
         sizeof(((profd_gcp_resp *)0)->retry_after)},
        {"location:", offsetof(profd_gcp_resp, location), sizeof(((profd_gcp_resp *)0)->location)},
    };
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* A new response (after a redirect or 100): forget the old headers. */
        s->resp->range[0] = s->resp->retry_after[0] = s->resp->location[0] = '\0';
        s->resp->goog_hash[0] = '\0';
        return len;
    }
    if (len > 12 && strncasecmp(p, "x-goog-hash:", 12) == 0) {
        char v[128];
        copy_value(p, len, 12, v, sizeof v);
        size_t have = strlen(s->resp->goog_hash);
        snprintf(s->resp->goog_hash + have, sizeof s->resp->goog_hash - have, "%s%s",
                 have ? "," : "", v);
        return len;
    }
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t nl = strlen(want[i].name);
        if (len > nl && strncasecmp(p, want[i].name, nl) == 0)
            copy_value(p, len, nl, (char *)s->resp + want[i].off, want[i].size);
    }
    return len;
}

void profd_gcp_add_header(profd_gcp_req *r, const char *h)
{
    if (r->nheaders < PROFD_GCP_MAX_HEADERS)
        r->headers[r->nheaders++] = h;
}

static struct curl_slist *header_list(const profd_gcp_req *r)
{
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    for (int i = 0; i < r->nheaders && l; i++)
        l = curl_slist_append(l, r->headers[i]);
    return l;
}

static void perform(profd_gcp *g, const profd_gcp_req *r, profd_gcp_resp *resp)
{
    CURL *c = curl_easy_init();
    if (!c) {
        profd_strlcpy(resp->error, "cannot initialise libcurl", sizeof resp->error);
        return;
    }
    sink s = {r, resp, c, 0};
    struct curl_slist *hl = header_list(r);
    char errbuf[CURL_ERROR_SIZE] = "";
    long connect_ms = r->timeout_ms > 0 && r->timeout_ms < 10000 ? r->timeout_ms : 10000L;
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (g && g->share)
        curl_easy_setopt(c, CURLOPT_SHARE, g->share);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (r->timeout_ms > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    if (r->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
    } else if (strcmp(r->method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(r->method, "DELETE") != 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    else
        snprintf(resp->error, sizeof resp->error, "%s",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc));
    /* A body cut short after a good status line is a broken stream: report
     * it as a connection error so the caller retries or resumes. */
    if (rc != CURLE_OK)
        resp->status = 0;
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

int profd_gcp_http(profd_gcp *g, const profd_gcp_req *r, profd_gcp_resp *resp)
{
    pthread_once(&once, global_init);
    memset(resp, 0, sizeof *resp);
    if (g && g->transport)
        g->transport(g->transport_arg, r, resp);
    else
        perform(g, r, resp);
    if (!resp->body && (resp->body = calloc(1, 1)) == NULL)
        return -1;
    return resp->status ? 0 : -1;
}

void profd_gcp_resp_free(profd_gcp_resp *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}
