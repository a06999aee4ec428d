/* http.c - a single HTTP exchange through a fresh libcurl easy handle.
 *
 * A fresh handle per exchange keeps requests independent across threads (the
 * worker uploads several sessions at once) at the price of connection reuse,
 * which the few objects of a session do not need. Successful bodies stream
 * to a file when the caller gives one (downloads), everything else is kept
 * in memory so error bodies can be quoted (never with credentials: the
 * Authorization header is only ever sent, not recorded). */
#include "blob/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profd/util.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct sink {
    const profd_http_req *req;
    profd_http_resp *resp;
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
    profd_http_resp *r = s->resp;
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
        {"range:", offsetof(profd_http_resp, range), sizeof(((profd_http_resp *)0)->range)},
        {"retry-after:", offsetof(profd_http_resp, retry_after),
         sizeof(((profd_http_resp *)0)->retry_after)},
        {"location:", offsetof(profd_http_resp, location),
         sizeof(((profd_http_resp *)0)->location)},
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

void profd_http_add_header(profd_http_req *r, const char *h)
{
    if (r->nheaders < PROFD_HTTP_MAX_HEADERS)
        r->headers[r->nheaders++] = h;
}

static struct curl_slist *header_list(const profd_http_req *r)
{
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    for (int i = 0; i < r->nheaders && l; i++)
        l = curl_slist_append(l, r->headers[i]);
    return l;
}

int profd_http_do(const profd_http_req *r, profd_http_resp *resp)
{
    pthread_once(&once, global_init);
    memset(resp, 0, sizeof *resp);
    CURL *c = curl_easy_init();
    if (!c) {
        profd_strlcpy(resp->error, "cannot initialise libcurl", sizeof resp->error);
        return -1;
    }
    sink s = {r, resp, c, 0};
    struct curl_slist *hl = header_list(r);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
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
    if (!resp->body && (resp->body = calloc(1, 1)) == NULL)
        return -1;
    return resp->status ? 0 : -1;
}

void profd_http_resp_free(profd_http_resp *resp)
{
    free(resp->body);
    resp->body = NULL;
}
