/* gcs.c - the gs:// blob store: Cloud Storage through its JSON API.
 *
 * Objects are private; a session's links are V4 signed URLs made when it is
 * read. Reads (metadata, download, list) are always retried; a download cut
 * short resumes with a Range request from the bytes already written. remove
 * reads the generation first and deletes with ifGenerationMatch, which makes
 * the delete safe to retry. Uploads live in gcs_upload.c, signing in
 * gcs_sign.c; credentials, the HTTP client and the retry rule in src/gcp/.
 *
 * Endpoints: STORAGE_EMULATOR_HOST wins (plain http, no auth); else
 * PROFD_GCS_ENDPOINT (default https://storage.googleapis.com) with a token
 * from GOOGLE_APPLICATION_CREDENTIALS or the metadata server. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gcs_internal.h"

static void object_url(gcs_blob *g, const char *name, profd_sb *url)
{
    profd_sb_addf(url, "%s/storage/v1/b/%s/o/", g->api, g->bucket);
    profd_sb_addenc(url, name, false);
}

static int gcs_stat(profd_blob *b, const char *object, int64_t *generation, int64_t *size,
                    int64_t *mtime_ms, profd_error *err);

/* PROFD_GEN_ANY becomes "the generation there now" (or 0 when absent), so
 * every write carries a precondition and may be retried; if another writer
 * slips in between, read again and repeat. */
static int gcs_put(profd_blob *b, const char *object, const char *path, const char *content_type,
                   const profd_blob_meta *meta, int64_t if_generation, int64_t *generation,
                   profd_error *err)
{
    gcs_blob *g = (gcs_blob *)b;
    char name[2048];
    if (blob__gcs_name(g, object, name, sizeof name, err) != 0)
        return -1;
    for (int round = 0; round < 3; round++) {
        int64_t gen = if_generation;
        if (if_generation == PROFD_GEN_ANY) {
            int st = gcs_stat(b, object, &gen, NULL, NULL, err);
            if (st < 0)
                return -1;
            if (st == 0)
                gen = PROFD_GEN_NEW;
        }
        gcs_put_result rc =
            blob__gcs_upload(g, name, path, content_type, meta, gen, generation, err);
        if (rc != GCS_PUT_PRECONDITION || if_generation != PROFD_GEN_ANY)
            return rc == GCS_PUT_OK ? 0 : -1;
    }
    return -1;
}

/* Download into FILE, resuming with Range after a broken stream: each
 * attempt asks for the bytes not yet written, so the loop is ours; what is
 * retried and how long to wait are the gcp module's. */
static int download(gcs_blob *g, const char *name, FILE *f, char *hash, profd_error *err)
{
    profd_sb url = {0};
    object_url(g, name, &url);
    profd_sb_add(&url, "?alt=media");
    char what[2100], range[64];
    snprintf(what, sizeof what, "download of %s", name);
    hash[0] = '\0';
    if (url.oom) {
        profd_error_set(err, NULL, "%s: out of memory", what);
        profd_sb_free(&url);
        return -1;
    }
    profd_gcp_backoff b;
    profd_gcp_backoff_start(&b, &g->policy);
    int64_t have = 0;
    int rc = -1;
    for (bool again = true; again;) {
        profd_gcp_req req = {.method = "GET", .url = url.s, .out = f, .what = what};
        if (have > 0) {
            snprintf(range, sizeof range, "Range: bytes=%lld-", (long long)have);
            profd_gcp_add_header(&req, range);
        }
        profd_gcp_resp resp;
        profd_gcp_result r = profd_gcp_send(g->gcp, &req, &b, &resp, err);
        if (r == PROFD_GCP_NO_TOKEN)
            break;
        have += resp.written;
        if (resp.status == 200 && !hash[0])
            profd_strlcpy(hash, resp.goog_hash, 160);
        again = false;
        if (resp.status == 200 || resp.status == 206)
            rc = 0;
        else if (resp.status == 404)
            profd_error_set(err, NULL, "object gs://%s/%s not found", g->bucket, name);
        else if (r == PROFD_GCP_TRANSIENT && profd_gcp_backoff_wait(&b, resp.retry_after))
            again = true;
        else
            blob__gcs_failure(what, NULL, &resp, err);
        profd_gcp_resp_free(&resp);
    }
    profd_sb_free(&url);
    return rc;
}

/* Compare the file's CRC32C with the crc32c= of x-goog-hash, if sent. */
static int check_download(const char *path, const char *hash, const char *name, profd_error *err)
{
    const char *c = strstr(hash, "crc32c=");
    if (!c)
        return 0;
    char want[16];
    size_t n = strcspn(c + 7, ",");
    snprintf(want, sizeof want, "%.*s", (int)(n < 15 ? n : 15), c + 7);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint32_t crc = 0;
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0)
        crc = blob__crc32c(crc, buf, r);
    fclose(f);
    unsigned char be[4] = {crc >> 24, (crc >> 16) & 0xff, (crc >> 8) & 0xff, crc & 0xff};
    char *got = profd_b64(be, 4, false);
    int rc = got && strcmp(got, want) == 0 ? 0 : -1;
    if (rc != 0)
        profd_error_set(err, NULL,
                        "download of %s failed the integrity check: crc32c %s, expected %s", name,
                        got ? got : "?", want);
    free(got);
    return rc;
}

static int gcs_get(profd_blob *b, const char *object, const char *dest, profd_error *err)
{
    gcs_blob *g = (gcs_blob *)b;
    char name[2048], tmp[PATH_MAX];
    if (blob__gcs_name(g, object, name, sizeof name, err) != 0)
        return -1;
    if (snprintf(tmp, sizeof tmp, "%s.profd-tmp-XXXXXX", dest) >= (int)sizeof tmp) {
        profd_error_set(err, NULL, "path %s is too long", dest);
        return -1;
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        profd_error_set(err, NULL, "cannot write %s: %s", dest, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char hash[160];
    int rc = download(g, name, f, hash, err);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        if (rc == 0)
            profd_error_set(err, NULL, "cannot write %s: %s", dest, strerror(errno));
        rc = -1;
    }
    fclose(f);
    if (rc == 0 && check_download(tmp, hash, name, err) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, dest) != 0) {
        profd_error_set(err, NULL, "cannot write %s: %s", dest, strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlink(tmp);
    return rc;
}

static int64_t json_i64(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? strtoll(json_object_get_string(v), NULL, 10) : 0;
}

static int64_t json_time(json_object *o, const char *k)
{
    json_object *v;
    int64_t ms = 0;
    if (json_object_object_get_ex(o, k, &v))
        profd_parse_rfc3339(json_object_get_string(v), &ms);
    return ms;
}

static int gcs_stat(profd_blob *b, const char *object, int64_t *generation, int64_t *size,
                    int64_t *mtime_ms, profd_error *err)
{
    gcs_blob *g = (gcs_blob *)b;
    char name[2048], what[2100];
    if (blob__gcs_name(g, object, name, sizeof name, err) != 0)
        return -1;
    snprintf(what, sizeof what, "metadata read of %s", name);
    profd_sb url = {0};
    object_url(g, name, &url);
    profd_gcp_req req = {.method = "GET", .url = url.s};
    profd_gcp_resp resp;
    int rc = -1;
    if (!url.oom && blob__gcs_call(g, &req, &resp, true, what, err) == 0) {
        if (resp.status == 404) {
            rc = 0;
        } else if (resp.status == 200) {
            json_object *o = json_tokener_parse(resp.body);
            if (generation)
                *generation = json_i64(o, "generation");
            if (size)
                *size = json_i64(o, "size");
            if (mtime_ms)
                *mtime_ms = json_time(o, "updated");
            rc = o ? 1 : -1;
            if (!o)
                profd_error_set(err, NULL, "%s: malformed response", what);
            json_object_put(o);
        } else {
            char reason[200];
            profd_gcp_reason(&resp, reason, sizeof reason);
            profd_error_set(err, NULL, "%s failed: HTTP %ld %s", what, resp.status, reason);
        }
        profd_gcp_resp_free(&resp);
    }
    profd_sb_free(&url);
    return rc;
}

static int gcs_remove(profd_blob *b, const char *object, profd_error *err)
{
    gcs_blob *g = (gcs_blob *)b;
    char name[2048], what[2100];
    if (blob__gcs_name(g, object, name, sizeof name, err) != 0)
        return -1;
    snprintf(what, sizeof what, "delete of %s", name);
    for (int round = 0; round < 3; round++) {
        int64_t gen = 0;
        int st = gcs_stat(b, object, &gen, NULL, NULL, err);
        if (st <= 0)
            return st;
        profd_sb url = {0};
        object_url(g, name, &url);
        profd_sb_addf(&url, "?ifGenerationMatch=%lld", (long long)gen);
        profd_gcp_req req = {.method = "DELETE", .url = url.s};
        profd_gcp_resp resp;
        int rc = url.oom ? -1 : blob__gcs_call(g, &req, &resp, true, what, err);
        profd_sb_free(&url);
        if (rc != 0)
            return -1;
        long status = resp.status;
        char reason[200];
        profd_gcp_reason(&resp, reason, sizeof reason);
        profd_gcp_resp_free(&resp);
        if (status == 204 || status == 200 || status == 404)
            return 0;
        if (status != 412) {
            profd_error_set(err, NULL, "%s failed: HTTP %ld %s", what, status, reason);
            return -1;
        }
        /* Rewritten meanwhile: look again and delete the new generation. */
    }
    profd_error_set(err, NULL, "%s failed: the object kept changing", what);
    return -1;
}

/* One page; the next page token (or "") into token. */
static int list_page(gcs_blob *g, const char *full_prefix, char *token, size_t tlen,
                     profd_blob_visit fn, void *arg, int *stop, profd_error *err)
{
    profd_sb url = {0};
    profd_sb_addf(&url, "%s/storage/v1/b/%s/o?prefix=", g->api, g->bucket);
    profd_sb_addenc(&url, full_prefix, false);
    profd_sb_add(&url, "&fields=items(name,size,updated),nextPageToken");
    if (token[0]) {
        profd_sb_add(&url, "&pageToken=");
        profd_sb_addenc(&url, token, false);
    }
    profd_gcp_req req = {.method = "GET", .url = url.s};
    profd_gcp_resp resp;
    int rc = url.oom ? -1 : blob__gcs_call(g, &req, &resp, true, "object listing", err);
    profd_sb_free(&url);
    if (rc != 0)
        return -1;
    json_object *o = resp.status == 200 ? json_tokener_parse(resp.body) : NULL, *items, *next;
    if (!o) {
        char reason[200];
        profd_gcp_reason(&resp, reason, sizeof reason);
        profd_error_set(err, NULL, "object listing of gs://%s failed: HTTP %ld %s", g->bucket,
                        resp.status, reason);
        profd_gcp_resp_free(&resp);
        return -1;
    }
    size_t skip = g->prefix[0] ? strlen(g->prefix) + 1 : 0;
    if (json_object_object_get_ex(o, "items", &items))
        for (size_t i = 0; i < json_object_array_length(items) && !*stop; i++) {
            json_object *it = json_object_array_get_idx(items, i), *n;
            if (!json_object_object_get_ex(it, "name", &n))
                continue;
            const char *name = json_object_get_string(n);
            if (strlen(name) > skip)
                *stop = fn(name + skip, json_time(it, "updated"), json_i64(it, "size"), arg);
        }
    token[0] = '\0';
    if (json_object_object_get_ex(o, "nextPageToken", &next))
        profd_strlcpy(token, json_object_get_string(next), tlen);
    json_object_put(o);
    profd_gcp_resp_free(&resp);
    return 0;
}

static int gcs_list(profd_blob *b, const char *prefix, profd_blob_visit fn, void *arg,
                    profd_error *err)
{
    gcs_blob *g = (gcs_blob *)b;
    char full[2048], token[1024] = "";
    snprintf(full, sizeof full, "%s%s%s", g->prefix, g->prefix[0] ? "/" : "", prefix ? prefix : "");
    int stop = 0;
    do {
        if (list_page(g, full, token, sizeof token, fn, arg, &stop, err) != 0)
            return -1;
    } while (token[0] && !stop);
    return 0;
}

static int gcs_link(profd_blob *b, const char *object, int ttl_s, char *out, size_t outlen,
                    profd_error *err)
{
    gcs_blob *g = (gcs_blob *)b;
    char name[2048];
    if (blob__gcs_name(g, object, name, sizeof name, err) != 0)
        return -1;
    if (g->emulator && !profd_gcp_has_key(g->gcp)) {
        /* An emulator checks no signatures and we have no key: plain URL. */
        profd_sb url = {0};
        object_url(g, name, &url);
        profd_sb_add(&url, "?alt=media");
        int rc = 0;
        if (url.oom || url.len >= outlen) {
            profd_error_set(err, NULL, "link to %s does not fit in %zu bytes", name, outlen);
            rc = -1;
        } else {
            profd_strlcpy(out, url.s, outlen);
        }
        profd_sb_free(&url);
        return rc;
    }
    profd_blob_sign_opts o = {
        .method = "GET", .bucket = g->bucket, .object = name, .expires_s = ttl_s};
    if (g->link_host[0])
        o.endpoint = g->link_host;
    char *url = NULL;
    if (profd_blob_sign_url(g->gcp, &o, &url, err) != 0)
        return -1;
    int rc = 0;
    if (strlen(url) >= outlen) {
        profd_error_set(err, NULL, "signed URL of %s is longer than %zu bytes", name, outlen);
        rc = -1;
    } else {
        profd_strlcpy(out, url, outlen);
    }
    free(url);
    return rc;
}

static void gcs_close(profd_blob *b)
{
    gcs_blob *g = (gcs_blob *)b;
    profd_gcp_free(g->gcp);
    free(g);
}

static const profd_blob_ops gcs_ops = {
    gcs_put, gcs_get, gcs_stat, gcs_remove, gcs_list, gcs_link, gcs_close,
};

void blob__gcs_tune(profd_blob *b, int64_t threshold, int64_t chunk, const profd_gcp_policy *p)
{
    gcs_blob *g = (gcs_blob *)b;
    g->threshold = threshold;
    g->chunk = chunk / (256 * 1024) * (256 * 1024);
    if (g->chunk < 256 * 1024)
        g->chunk = 256 * 1024;
    g->policy = *p;
}

profd_blob *profd_blob_gcs_open(const profd_config *cfg, const char *bucket, const char *prefix,
                                profd_error *err)
{
    gcs_blob *g = calloc(1, sizeof *g);
    if (!g) {
        profd_error_set(err, NULL, "out of memory");
        return NULL;
    }
    g->base.ops = &gcs_ops;
    profd_strlcpy(g->bucket, bucket, sizeof g->bucket);
    profd_strlcpy(g->prefix, prefix ? prefix : "", sizeof g->prefix);
    g->threshold = GCS_RESUMABLE_THRESHOLD;
    g->chunk = GCS_CHUNK;
    g->policy = (profd_gcp_policy){.max_attempts = GCS_MAX_ATTEMPTS,
                                   .deadline_ms = GCS_DEADLINE_MS,
                                   .base_ms = GCS_RETRY_BASE_MS,
                                   .timeout_ms = GCS_REQUEST_TIMEOUT_MS};
    g->emulator = cfg->storage_emulator_host[0] != '\0';
    const char *host = cfg->storage_emulator_host;
    if (g->emulator)
        snprintf(g->api, sizeof g->api, "%s%s", strstr(host, "://") ? "" : "http://", host);
    else
        profd_strlcpy(g->api, cfg->gcs_endpoint, sizeof g->api);
    size_t n = strlen(g->api);
    while (n && g->api[n - 1] == '/')
        g->api[--n] = '\0';
    if (strcmp(g->api, "https://storage.googleapis.com") != 0)
        profd_strlcpy(g->link_host, g->api, sizeof g->link_host);
    profd_gcp_opts ao = {.key_file = cfg->google_credentials,
                         .metadata_host = cfg->gce_metadata_host,
                         .iam_endpoint = cfg->iam_endpoint,
                         .no_auth = g->emulator};
    g->gcp = profd_gcp_new(&ao, err);
    if (!g->gcp) {
        free(g);
        return NULL;
    }
    return &g->base;
}
