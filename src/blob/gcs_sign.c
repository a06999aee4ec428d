/* gcs_sign.c - V4 signed URLs for Cloud Storage (GOOG4-RSA-SHA256).
 *
 * The URL carries X-Goog-Algorithm, -Credential (EMAIL/DATE/auto/storage/
 * goog4_request), -Date, -Expires and -SignedHeaders plus the caller's query;
 * the signature is RSA-SHA256 over
 *   GOOG4-RSA-SHA256 \n DATETIME \n SCOPE \n hex(SHA-256(canonical request))
 * where the canonical request is method, encoded path, the query sorted by
 * encoded key, the lower-cased headers (host included, values trimmed with
 * inner runs of blanks collapsed), the signed header names and the payload
 * hash (x-goog-content-sha256 if given, else UNSIGNED-PAYLOAD).
 *
 * Host selection follows Google's conformance vectors: a bucket-bound
 * hostname wins; then --hostname, then the client endpoint, then the
 * emulator host, then storage.UNIVERSE (googleapis.com). The URL keeps the
 * port; the signed host header does not. (The vectors file's
 * expectedCanonicalRequest of "Universe domain with virtual hosted style"
 * shows a path-style resource, but its string-to-sign and URL hash the
 * virtual-hosted "/object"; we follow the URL.) */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "blob_internal.h"

typedef struct pair {
    char *k, *v; /* encoded (query) or lower-cased/trimmed (headers) */
} pair;

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(((const pair *)a)->k, ((const pair *)b)->k);
}

static char *enc(const char *s)
{
    profd_sb b = {0};
    profd_sb_add(&b, "");
    profd_sb_addenc(&b, s, false);
    return b.s;
}

/* Trim blanks and collapse inner runs of spaces/tabs into one space. */
static char *canon_value(const char *v)
{
    char *out = malloc(strlen(v) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    int blank = 0;
    for (const char *p = v; *p; p++) {
        if (*p == ' ' || *p == '\t') {
            blank = 1;
            continue;
        }
        if (blank && o > 0)
            out[o++] = ' ';
        blank = 0;
        out[o++] = *p;
    }
    out[o] = '\0';
    return out;
}

static char *lower(const char *s)
{
    char *l = strdup(s);
    for (char *p = l; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return l;
}

typedef struct target {
    char scheme[8];
    char url_host[1024];       /* host[:port] as it appears in the URL */
    char sign_host[1024];      /* host without port, for the host header */
    char url_path_prefix[300]; /* "/bucket" for path style, "" otherwise */
    char sign_path_prefix[300];
} target;

/* Split "[scheme://]host[:port][/...]" into scheme (may stay "") and host. */
static void split_endpoint(const char *e, char *scheme, size_t sl, char *host, size_t hl)
{
    const char *p = strstr(e, "://");
    scheme[0] = '\0';
    if (p) {
        size_t n = (size_t)(p - e) < sl ? (size_t)(p - e) : sl - 1;
        memcpy(scheme, e, n);
        scheme[n] = '\0';
        e = p + 3;
    }
    size_t n = strcspn(e, "/");
    if (n >= hl)
        n = hl - 1;
    memcpy(host, e, n);
    host[n] = '\0';
}

static int pick_target(const profd_blob_sign_opts *o, target *t, profd_error *err)
{
    const char *style = o->url_style && o->url_style[0] ? o->url_style : "path";
    char scheme[8] = "";
    char host[512];
    bool has = o->universe_domain && o->universe_domain[0];
    snprintf(host, sizeof host, "storage.%s", has ? o->universe_domain : "googleapis.com");
    if (!strcmp(style, "bucket-bound")) {
        if (!o->bucket_bound_hostname || !o->bucket_bound_hostname[0]) {
            profd_error_set(err, NULL, "--url-style bucket-bound needs --bucket-bound-hostname");
            return -1;
        }
        split_endpoint(o->bucket_bound_hostname, scheme, sizeof scheme, host, sizeof host);
    } else if (o->hostname && o->hostname[0]) {
        split_endpoint(o->hostname, scheme, sizeof scheme, host, sizeof host);
    } else if (o->endpoint && o->endpoint[0]) {
        split_endpoint(o->endpoint, scheme, sizeof scheme, host, sizeof host);
    } else if (o->emulator_host && o->emulator_host[0]) {
        split_endpoint(o->emulator_host, scheme, sizeof scheme, host, sizeof host);
    }
    if (o->scheme && o->scheme[0])
        profd_strlcpy(t->scheme, o->scheme, sizeof t->scheme);
    else
        profd_strlcpy(t->scheme, scheme[0] ? scheme : "https", sizeof t->scheme);
    if (strcmp(t->scheme, "http") && strcmp(t->scheme, "https")) {
        profd_error_set(err, NULL, "scheme must be http or https, not '%s'", t->scheme);
        return -1;
    }
    t->url_path_prefix[0] = t->sign_path_prefix[0] = '\0';
    if (!strcmp(style, "virtual-hosted")) {
        if (snprintf(t->url_host, sizeof t->url_host, "%s.%s", o->bucket, host) >=
            (int)sizeof t->url_host) {
            profd_error_set(err, NULL, "host name too long");
            return -1;
        }
    } else if (!strcmp(style, "path") || !strcmp(style, "bucket-bound")) {
        profd_strlcpy(t->url_host, host, sizeof t->url_host);
        if (!strcmp(style, "path")) {
            snprintf(t->url_path_prefix, sizeof t->url_path_prefix, "/%s", o->bucket);
            profd_strlcpy(t->sign_path_prefix, t->url_path_prefix, sizeof t->sign_path_prefix);
        }
    } else {
        profd_error_set(err, NULL,
                        "URL style must be path, virtual-hosted or bucket-bound, not '%s'", style);
        return -1;
    }
    profd_strlcpy(t->sign_host, t->url_host, sizeof t->sign_host);
    char *colon = strrchr(t->sign_host, ':');
    if (colon && !strchr(t->sign_host, ']'))
        *colon = '\0';
    return 0;
}

static void path_of(profd_sb *b, const char *prefix, const char *object)
{
    profd_sb_add(b, prefix);
    if (object && object[0]) {
        profd_sb_add(b, "/");
        profd_sb_addenc(b, object, true);
    } else if (!prefix[0]) {
        profd_sb_add(b, "/");
    }
}

static void free_pairs(pair *p, int n)
{
    for (int i = 0; i < n; i++) {
        free(p[i].k);
        free(p[i].v);
    }
}

static void hex_sha256(const char *s, size_t len, char out[65])
{
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_Digest(s, len, d, &dl, EVP_sha256(), NULL);
    profd_hex(d, dl, out);
}

int profd_blob_sign_url(profd_gcp *auth, const profd_blob_sign_opts *o, char **url,
                        profd_error *err)
{
    *url = NULL;
    if (!o->method || !o->bucket || !o->bucket[0]) {
        profd_error_set(err, NULL, "signing needs a method and a bucket");
        return -1;
    }
    if (o->expires_s < 1 || o->expires_s > 604800) {
        profd_error_set(err, NULL, "expiry must be 1 to 604800 seconds (7 days), not %lld",
                        (long long)o->expires_s);
        return -1;
    }
    target t;
    if (pick_target(o, &t, err) != 0)
        return -1;
    char email[256];
    if (profd_gcp_email(auth, email, sizeof email, err) != 0)
        return -1;
    int64_t ms = o->timestamp_ms ? o->timestamp_ms : profd_now_ms();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[16], stamp[32], scope[128], cred[512], expires[24];
    strftime(date, sizeof date, "%Y%m%d", &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(scope, sizeof scope, "%s/auto/storage/goog4_request", date);
    snprintf(cred, sizeof cred, "%s/%s", email, scope);
    snprintf(expires, sizeof expires, "%lld", (long long)o->expires_s);

    /* Headers: lower-cased names, canonical values, host added, sorted. */
    pair hs[PROFD_BLOB_SIGN_MAX_PAIRS + 1];
    int nh = 0;
    const char *payload = "UNSIGNED-PAYLOAD";
    hs[nh++] = (pair){strdup("host"), strdup(t.sign_host)};
    for (int i = 0; i < o->nheaders && i < PROFD_BLOB_SIGN_MAX_PAIRS; i++) {
        hs[nh++] = (pair){lower(o->headers[i][0]), canon_value(o->headers[i][1])};
        if (!strcmp(hs[nh - 1].k, "x-goog-content-sha256") && hs[nh - 1].v)
            payload = hs[nh - 1].v;
    }
    qsort(hs, (size_t)nh, sizeof *hs, cmp_pair);
    profd_sb signed_names = {0}, canon_headers = {0};
    profd_sb_add(&signed_names, "");
    for (int i = 0; i < nh; i++) {
        profd_sb_addf(&signed_names, "%s%s", i ? ";" : "", hs[i].k ? hs[i].k : "");
        profd_sb_addf(&canon_headers, "%s:%s\n", hs[i].k ? hs[i].k : "", hs[i].v ? hs[i].v : "");
    }

    /* Query: the X-Goog-* signing parameters plus the caller's, sorted. */
    pair qs[PROFD_BLOB_SIGN_MAX_PAIRS + 5];
    int nq = 0;
    qs[nq++] = (pair){strdup("X-Goog-Algorithm"), enc("GOOG4-RSA-SHA256")};
    qs[nq++] = (pair){strdup("X-Goog-Credential"), enc(cred)};
    qs[nq++] = (pair){strdup("X-Goog-Date"), enc(stamp)};
    qs[nq++] = (pair){strdup("X-Goog-Expires"), enc(expires)};
    qs[nq++] = (pair){strdup("X-Goog-SignedHeaders"), enc(signed_names.s)};
    for (int i = 0; i < o->nquery && i < PROFD_BLOB_SIGN_MAX_PAIRS; i++)
        qs[nq++] = (pair){enc(o->query[i][0]), enc(o->query[i][1])};
    qsort(qs, (size_t)nq, sizeof *qs, cmp_pair);
    profd_sb query = {0};
    profd_sb_add(&query, "");
    for (int i = 0; i < nq; i++)
        profd_sb_addf(&query, "%s%s=%s", i ? "&" : "", qs[i].k ? qs[i].k : "",
                      qs[i].v ? qs[i].v : "");

    profd_sb canon = {0}, sts = {0}, out = {0};
    profd_sb_addf(&canon, "%s\n", o->method);
    path_of(&canon, t.sign_path_prefix, o->object);
    profd_sb_addf(&canon, "\n%s\n%s\n%s\n%s", query.s, canon_headers.s ? canon_headers.s : "",
                  signed_names.s, payload);
    char digest[65];
    hex_sha256(canon.s ? canon.s : "", canon.len, digest);
    profd_sb_addf(&sts, "GOOG4-RSA-SHA256\n%s\n%s\n%s", stamp, scope, digest);

    int rc = -1;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    bool oom = signed_names.oom || canon_headers.oom || query.oom || canon.oom || sts.oom;
    if (oom) {
        profd_error_set(err, NULL, "out of memory while signing");
    } else if (profd_gcp_sign(auth, sts.s, sts.len, &sig, &siglen, err) == 0) {
        char *hex = malloc(siglen * 2 + 1);
        if (hex) {
            profd_hex(sig, siglen, hex);
            profd_sb_addf(&out, "%s://%s", t.scheme, t.url_host);
            path_of(&out, t.url_path_prefix, o->object);
            profd_sb_addf(&out, "?%s&X-Goog-Signature=%s", query.s, hex);
            free(hex);
            if (!out.oom) {
                *url = out.s;
                out.s = NULL;
                rc = 0;
            }
        }
        if (rc != 0)
            profd_error_set(err, NULL, "out of memory while signing");
    }
    free(sig);
    free_pairs(hs, nh);
    free_pairs(qs, nq);
    profd_sb_free(&signed_names);
    profd_sb_free(&canon_headers);
    profd_sb_free(&query);
    profd_sb_free(&canon);
    profd_sb_free(&sts);
    profd_sb_free(&out);
    return rc;
}
