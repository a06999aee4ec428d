/* gcs_upload.c - putting a file into Cloud Storage.
 *
 * Small files (size <= threshold) go in one multipart/related request: the
 * JSON metadata part (name, contentType, metadata.session_id/service_name,
 * crc32c, md5Hash) and the bytes. Larger files use a resumable session: a
 * POST creates it (Location: session URI), then chunks of a multiple of
 * 256 KiB are PUT with Content-Range. When a chunk fails (5xx, 408, 429, a
 * reset, a timeout) we do not start over: after the backoff we ask the
 * session how much it has ("Content-Range: bytes *" + "/TOTAL" on an empty
 * PUT) and continue from the 308's Range. A 404/410 means the session is
 * gone, and the upload starts a new one. The resume loop is ours; what is
 * retried, the 401 re-authentication and the waits are the gcp module's
 * (profd_gcp_send, profd_gcp_backoff_wait).
 *
 * Preconditions make retries safe: a first write sends ifGenerationMatch=0,
 * a rewrite the generation it replaces, so a repeated request can never
 * replace newer data (Google's matrix retries writes only with one; gcs.c
 * turns PROFD_GEN_ANY into the current generation, so every write has one). If a retried first
 * write meets 412 because the lost first attempt did land, the object's checksums decide: same
 * bytes means success. The response's crc32c and md5Hash must equal ours, else the object is
 * deleted (with its generation as precondition) and the upload fails: a session never links to
 * corrupt data. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gcs_internal.h"
#include "profd/log.h"

typedef struct upload {
    gcs_blob *g;
    const char *name; /* full object name */
    const char *content_type;
    const profd_blob_meta *meta;
    int64_t if_gen;
    int fd;
    int64_t size;
    char crc[16], md5[32];
    char what[2100]; /* "upload of NAME" */
} upload;

static int hash_file(upload *u, profd_error *err)
{
    profd_hashes h;
    blob__hashes_init(&h);
    char buf[64 * 1024];
    int64_t off = 0;
    for (;;) {
        ssize_t n = pread(u->fd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            profd_error_set(err, PROFD_E_UPLOAD, "cannot read the file for %s: %s", u->what,
                            strerror(errno));
            blob__hashes_final(&h, u->crc, u->md5);
            return -1;
        }
        if (n == 0)
            break;
        blob__hashes_update(&h, buf, (size_t)n);
        off += n;
    }
    blob__hashes_final(&h, u->crc, u->md5);
    u->size = off;
    return 0;
}

static char *metadata_json(const upload *u)
{
    json_object *o = json_object_new_object(), *m = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(u->name));
    json_object_object_add(o, "contentType", json_object_new_string(u->content_type));
    json_object_object_add(o, "crc32c", json_object_new_string(u->crc));
    json_object_object_add(o, "md5Hash", json_object_new_string(u->md5));
    if (u->meta && u->meta->session_id)
        json_object_object_add(m, "session_id", json_object_new_string(u->meta->session_id));
    if (u->meta && u->meta->service_name)
        json_object_object_add(m, "service_name", json_object_new_string(u->meta->service_name));
    json_object_object_add(o, "metadata", m);
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

static void upload_url(const upload *u, const char *type, profd_sb *url)
{
    profd_sb_addf(url, "%s/upload/storage/v1/b/%s/o?uploadType=%s&name=", u->g->api, u->g->bucket,
                  type);
    profd_sb_addenc(url, u->name, false);
    if (u->if_gen != PROFD_GEN_ANY)
        profd_sb_addf(url, "&ifGenerationMatch=%lld", (long long)u->if_gen);
}

typedef enum check {
    CHECK_OK,        /* our bytes, stored as generation *gen */
    CHECK_MALFORMED, /* no generation in the response */
    CHECK_CORRUPT,   /* stored, but not our bytes */
} check;

/* Check the final object resource against our bytes; take its generation. */
static check check_result(upload *u, const char *body, int64_t *gen, profd_error *err)
{
    json_object *o = json_tokener_parse(body), *v;
    const char *crc = NULL, *md5 = NULL;
    *gen = 0;
    if (o && json_object_object_get_ex(o, "generation", &v))
        *gen = strtoll(json_object_get_string(v), NULL, 10);
    if (o && json_object_object_get_ex(o, "crc32c", &v))
        crc = json_object_get_string(v);
    if (o && json_object_object_get_ex(o, "md5Hash", &v))
        md5 = json_object_get_string(v);
    check rc = CHECK_OK;
    if (!o || *gen <= 0) {
        profd_error_set(err, PROFD_E_UPLOAD, "%s: the response names no generation", u->what);
        rc = CHECK_MALFORMED;
    } else if ((crc && strcmp(crc, u->crc)) || (md5 && strcmp(md5, u->md5)) || (!crc && !md5)) {
        profd_error_set(err, PROFD_E_UPLOAD,
                        "%s failed the integrity check: local crc32c %s md5 %s, stored crc32c "
                        "%s md5 %s",
                        u->what, u->crc, u->md5, crc ? crc : "none", md5 ? md5 : "none");
        rc = CHECK_CORRUPT;
    }
    json_object_put(o);
    return rc;
}

static void delete_generation(upload *u, int64_t gen)
{
    profd_sb url = {0};
    profd_sb_addf(&url, "%s/storage/v1/b/%s/o/", u->g->api, u->g->bucket);
    profd_sb_addenc(&url, u->name, false);
    profd_sb_addf(&url, "?ifGenerationMatch=%lld", (long long)gen);
    profd_gcp_req req = {.method = "DELETE", .url = url.s};
    profd_gcp_resp resp;
    profd_error e = {0};
    if (!url.oom && blob__gcs_call(u->g, &req, &resp, true, "delete of a corrupt upload", &e) == 0)
        profd_gcp_resp_free(&resp);
    profd_sb_free(&url);
}

/* 412 on a first write: did an earlier attempt of ours land? */
static int same_object(upload *u, int64_t *gen)
{
    profd_blob *b = &u->g->base;
    int64_t size = 0;
    if (b->ops->stat(b, u->name + (u->g->prefix[0] ? strlen(u->g->prefix) + 1 : 0), gen, &size,
                     NULL, &(profd_error){0}) != 1 ||
        size != u->size)
        return 0;
    profd_sb url = {0};
    profd_sb_addf(&url, "%s/storage/v1/b/%s/o/", u->g->api, u->g->bucket);
    profd_sb_addenc(&url, u->name, false);
    profd_gcp_req req = {.method = "GET", .url = url.s};
    profd_gcp_resp resp;
    int same = 0;
    if (!url.oom &&
        blob__gcs_call(u->g, &req, &resp, true, "metadata read", &(profd_error){0}) == 0) {
        int64_t g2;
        profd_error e = {0};
        same = resp.status == 200 && check_result(u, resp.body, &g2, &e) == CHECK_OK;
        profd_gcp_resp_free(&resp);
    }
    profd_sb_free(&url);
    return same;
}

static gcs_put_result finish(upload *u, profd_gcp_resp *resp, int64_t *gen, profd_error *err)
{
    gcs_put_result rc = GCS_PUT_FAILED;
    if (resp->status == 200 || resp->status == 201) {
        check c = check_result(u, resp->body, gen, err);
        if (c == CHECK_CORRUPT)
            delete_generation(u, *gen);
        rc = c == CHECK_OK ? GCS_PUT_OK : GCS_PUT_FAILED;
    } else if (resp->status == 412 && u->if_gen == PROFD_GEN_NEW && same_object(u, gen)) {
        rc = GCS_PUT_OK;
    } else if (resp->status == 412) {
        rc = GCS_PUT_PRECONDITION;
        profd_error_set(err, PROFD_E_UPLOAD,
                        u->if_gen == PROFD_GEN_NEW
                            ? "%s: object already exists (first writes never replace data)"
                            : "%s: the object changed since the generation being replaced",
                        u->what);
    } else {
        char reason[200];
        profd_gcp_reason(resp, reason, sizeof reason);
        profd_error_set(err, PROFD_E_UPLOAD, "%s failed: HTTP %ld %s", u->what, resp->status,
                        reason);
    }
    profd_gcp_resp_free(resp);
    return rc;
}

static gcs_put_result multipart(upload *u, int64_t *gen, profd_error *err)
{
    char *meta = metadata_json(u);
    char *data = malloc((size_t)u->size + 1);
    profd_sb body = {0}, url = {0}, ctype = {0};
    const char *boundary = "profd_part_6b1e4c2f9a";
    gcs_put_result rc = GCS_PUT_FAILED;
    if (!meta || !data) {
        profd_error_set(err, PROFD_E_UPLOAD, "%s: out of memory", u->what);
        goto out;
    }
    if (u->size && pread(u->fd, data, (size_t)u->size, 0) != u->size) {
        profd_error_set(err, PROFD_E_UPLOAD, "%s: cannot read the file", u->what);
        goto out;
    }
    profd_sb_addf(&body,
                  "--%s\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n%s\r\n"
                  "--%s\r\nContent-Type: %s\r\n\r\n",
                  boundary, meta, boundary, u->content_type);
    profd_sb_addn(&body, data, (size_t)u->size);
    profd_sb_addf(&body, "\r\n--%s--\r\n", boundary);
    upload_url(u, "multipart", &url);
    profd_sb_addf(&ctype, "Content-Type: multipart/related; boundary=%s", boundary);
    if (body.oom || url.oom || ctype.oom) {
        profd_error_set(err, PROFD_E_UPLOAD, "%s: out of memory", u->what);
        goto out;
    }
    profd_gcp_req req = {.method = "POST", .url = url.s, .body = body.s, .body_len = body.len};
    profd_gcp_add_header(&req, ctype.s);
    profd_gcp_resp resp;
    if (blob__gcs_call(u->g, &req, &resp, u->if_gen != PROFD_GEN_ANY, u->what, err) == 0)
        rc = finish(u, &resp, gen, err);
out:
    free(meta);
    free(data);
    profd_sb_free(&body);
    profd_sb_free(&url);
    profd_sb_free(&ctype);
    return rc;
}

/* POST the metadata; the session URI comes back in Location. */
static gcs_put_result start_session(upload *u, char *session, size_t len, profd_error *err)
{
    char *meta = metadata_json(u);
    profd_sb url = {0};
    upload_url(u, "resumable", &url);
    char h1[300], h2[64];
    snprintf(h1, sizeof h1, "X-Upload-Content-Type: %s", u->content_type);
    snprintf(h2, sizeof h2, "X-Upload-Content-Length: %lld", (long long)u->size);
    profd_gcp_req req = {
        .method = "POST", .url = url.s, .body = meta, .body_len = meta ? strlen(meta) : 0};
    profd_gcp_add_header(&req, "Content-Type: application/json; charset=UTF-8");
    profd_gcp_add_header(&req, h1);
    profd_gcp_add_header(&req, h2);
    profd_gcp_resp resp;
    gcs_put_result rc = GCS_PUT_FAILED;
    if (meta && !url.oom &&
        blob__gcs_call(u->g, &req, &resp, u->if_gen != PROFD_GEN_ANY, u->what, err) == 0) {
        if (resp.status == 200 && resp.location[0]) {
            profd_strlcpy(session, resp.location, len);
            rc = GCS_PUT_OK;
            profd_gcp_resp_free(&resp);
        } else if (resp.status == 200) {
            profd_error_set(err, PROFD_E_UPLOAD, "%s: no session URI in the response", u->what);
            profd_gcp_resp_free(&resp);
        } else {
            int64_t gen;
            rc = finish(u, &resp, &gen, err) == GCS_PUT_PRECONDITION ? GCS_PUT_PRECONDITION
                                                                     : GCS_PUT_FAILED;
        }
    }
    free(meta);
    profd_sb_free(&url);
    return rc;
}

/* Bytes the session has: the end of "bytes=0-K" plus one, or 0. */
static int64_t persisted(const profd_gcp_resp *resp)
{
    const char *dash = strchr(resp->range, '-');
    return dash ? strtoll(dash + 1, NULL, 10) + 1 : 0;
}

static profd_gcp_result send_chunk(upload *u, const char *session, int64_t off, char *buf,
                                   profd_gcp_backoff *b, profd_gcp_resp *resp, profd_error *err)
{
    int64_t n = u->size - off < u->g->chunk ? u->size - off : u->g->chunk;
    char cr[96];
    profd_gcp_req req = {
        .method = "PUT", .url = session, .body = buf, .body_len = (size_t)n, .what = u->what};
    if (pread(u->fd, buf, (size_t)n, off) != n) {
        memset(resp, 0, sizeof *resp);
        resp->attempts = ++b->attempt;
        profd_strlcpy(resp->error, "cannot read the local file", sizeof resp->error);
        return PROFD_GCP_TRANSIENT;
    }
    if (off + n == u->size)
        snprintf(cr, sizeof cr, "Content-Range: bytes %lld-%lld/%lld", (long long)off,
                 (long long)(off + n - 1), (long long)u->size);
    else
        snprintf(cr, sizeof cr, "Content-Range: bytes %lld-%lld/*", (long long)off,
                 (long long)(off + n - 1));
    profd_gcp_add_header(&req, cr);
    return profd_gcp_send(u->g->gcp, &req, b, resp, err);
}

static profd_gcp_result query_status(upload *u, const char *session, profd_gcp_backoff *b,
                                     profd_gcp_resp *resp, profd_error *err)
{
    char cr[64];
    snprintf(cr, sizeof cr, "Content-Range: bytes */%lld", (long long)u->size);
    profd_gcp_req req = {
        .method = "PUT", .url = session, .body = "", .body_len = 0, .what = u->what};
    profd_gcp_add_header(&req, cr);
    return profd_gcp_send(u->g->gcp, &req, b, resp, err);
}

static gcs_put_result resumable(upload *u, int64_t *gen, profd_error *err)
{
    char session[2048];
    char *buf = malloc((size_t)u->g->chunk);
    if (!buf) {
        profd_error_set(err, PROFD_E_UPLOAD, "%s: out of memory", u->what);
        return GCS_PUT_FAILED;
    }
    profd_gcp_backoff b;
    profd_gcp_backoff_start(&b, &u->g->policy);
    gcs_put_result rc = GCS_PUT_FAILED;
    int64_t off = 0;
    bool need_status = false, have_session = false;
    profd_gcp_resp resp = {0};
    for (;;) {
        if (!have_session) {
            gcs_put_result st = start_session(u, session, sizeof session, err);
            if (st != GCS_PUT_OK) {
                rc = st;
                break;
            }
            have_session = true;
            off = 0;
            need_status = false;
        }
        profd_gcp_result r = need_status ? query_status(u, session, &b, &resp, err)
                                         : send_chunk(u, session, off, buf, &b, &resp, err);
        if (r == PROFD_GCP_NO_TOKEN)
            break; /* err says why */
        if (resp.status == 308) {
            int64_t next = persisted(&resp);
            LOG_D(NULL, "gcs.upload", "%s: %lld of %lld bytes stored", u->what, (long long)next,
                  (long long)u->size);
            bool progressed = next > off || !need_status;
            off = next;
            need_status = false;
            profd_gcp_resp_free(&resp);
            if (progressed) /* attempts and deadline count from the last progress */
                profd_gcp_backoff_start(&b, &u->g->policy);
            continue;
        }
        if (resp.status == 200 || resp.status == 201) {
            rc = finish(u, &resp, gen, err);
            break;
        }
        if (resp.status == 404 || resp.status == 410) {
            LOG_W(NULL, "gcs.upload", "%s: upload session expired, starting again", u->what);
            have_session = false;
        } else if (r == PROFD_GCP_OK) { /* a final answer */
            rc = finish(u, &resp, gen, err);
            break;
        } else {
            need_status = true; /* ask the session what it has, then go on from there */
        }
        if (!profd_gcp_backoff_wait(&b, resp.retry_after)) {
            blob__gcs_failure(u->what, PROFD_E_UPLOAD, &resp, err);
            profd_gcp_resp_free(&resp);
            break;
        }
        profd_gcp_resp_free(&resp);
    }
    free(buf);
    return rc;
}

gcs_put_result blob__gcs_upload(gcs_blob *g, const char *name, const char *path,
                                const char *content_type, const profd_blob_meta *meta,
                                int64_t if_generation, int64_t *generation, profd_error *err)
{
    upload u = {g,
                name,
                content_type && content_type[0] ? content_type : "application/octet-stream",
                meta,
                if_generation,
                -1,
                0,
                "",
                "",
                ""};
    snprintf(u.what, sizeof u.what, "upload of %s", name);
    if (if_generation < PROFD_GEN_ANY) {
        profd_error_set(err, PROFD_E_INVALID, "bad generation %lld for %s",
                        (long long)if_generation, name);
        return GCS_PUT_FAILED;
    }
    u.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (u.fd < 0) {
        profd_error_set(err, PROFD_E_UPLOAD, "cannot read %s for %s: %s", path, u.what,
                        strerror(errno));
        return GCS_PUT_FAILED;
    }
    int64_t gen = 0;
    gcs_put_result rc = GCS_PUT_FAILED;
    if (hash_file(&u, err) == 0)
        rc = u.size <= g->threshold ? multipart(&u, &gen, err) : resumable(&u, &gen, err);
    close(u.fd);
    if (rc == GCS_PUT_OK) {
        if (generation)
            *generation = gen;
        LOG_I(meta ? meta->session_id : NULL, "gcs.upload", "stored gs://%s/%s (%lld bytes)",
              g->bucket, name, (long long)u.size);
    }
    return rc;
}
