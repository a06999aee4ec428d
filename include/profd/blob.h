/* blob.h - object storage for capture results (docs/storage.md).
 *
 * Objects are private. A first write must not replace anything (GCS
 * ifGenerationMatch=0); a rewrite names the generation it replaces, so a retry
 * can never clobber newer data. Links are made when a session is read:
 * V4 signed URLs for gs://, HMAC-signed API links for file://. */
#ifndef PROFD_BLOB_H
#define PROFD_BLOB_H

#include <stdint.h>

#include "config.h"
#include "gcp.h"
#include "util.h"

typedef struct profd_blob profd_blob;

typedef struct profd_blob_meta {
    const char *session_id; /* may be NULL */
    const char *service_name;
} profd_blob_meta;

/* if_generation for put: */
#define PROFD_GEN_NEW 0LL  /* must not exist */
#define PROFD_GEN_ANY -1LL /* overwrite whatever is there */

typedef int (*profd_blob_visit)(const char *object, int64_t mtime_ms, int64_t size, void *arg);

typedef struct profd_blob_ops {
    int (*put_file)(profd_blob *b, const char *object, const char *path, const char *content_type,
                    const profd_blob_meta *meta, int64_t if_generation, int64_t *generation,
                    profd_error *err);
    int (*get_file)(profd_blob *b, const char *object, const char *path, profd_error *err);
    /* 1 exists, 0 absent, -1 error. */
    int (*stat)(profd_blob *b, const char *object, int64_t *generation, int64_t *size,
                int64_t *mtime_ms, profd_error *err);
    int (*remove)(profd_blob *b, const char *object, profd_error *err); /* absent is ok */
    int (*list)(profd_blob *b, const char *prefix, profd_blob_visit fn, void *arg,
                profd_error *err);
    /* A link a browser can open for ttl_s seconds. */
    int (*link)(profd_blob *b, const char *object, int ttl_s, char *out, size_t outlen,
                profd_error *err);
    void (*close)(profd_blob *b);
} profd_blob_ops;

struct profd_blob {
    const profd_blob_ops *ops;
};

/* How profd_blob_get_fd ended. */
typedef enum profd_blob_fd_result {
    PROFD_BLOB_FD_OK,          /* *fd is open */
    PROFD_BLOB_FD_UNAVAILABLE, /* the store did not give the object (err says why) */
    PROFD_BLOB_FD_LOCAL        /* no temporary file here (err says why) */
} profd_blob_fd_result;

/* A read-only descriptor of a private copy of object into *fd: fetched into a temporary
 * file under $TMPDIR (or /tmp), which is unlinked before this returns, so the copy goes away
 * with the descriptor. The caller closes *fd. */
profd_blob_fd_result profd_blob_get_fd(profd_blob *b, const char *object, int *fd,
                                       profd_error *err);

/* From cfg->storage: gs://BUCKET[/PREFIX] or file:///DIR (file://./rel also accepted). */
profd_blob *profd_blob_open(const profd_config *cfg, profd_error *err);
profd_blob *profd_blob_file_open(const char *dir, profd_error *err);
profd_blob *profd_blob_gcs_open(const profd_config *cfg, const char *bucket, const char *prefix,
                                profd_error *err);
/* file:// links: base URL of the API and the HMAC key. Without it, file:// URLs. */
void profd_blob_file_set_link_base(profd_blob *b, const char *base_url, const char *key);
/* Check the query of a file:// API link ("{base}/api/v1/files/{object}?expires=
 * UNIX&signature=HEX", HEX = HMAC-SHA256(key, object "\n" expires)). object is
 * the decoded name. Constant-time. 0 valid, -1 malformed or wrong signature,
 * -2 expired (expires <= now_s). */
int profd_blob_file_verify(const char *key, const char *object, const char *expires,
                           const char *signature, int64_t now_s);

/* An object name: printable ASCII, at most 1024 bytes, no leading '/', no
 * empty segment ("a//b", trailing '/'), no "." or ".." segment. false with
 * err naming the rule that failed. */
bool profd_blob_name_valid(const char *object, profd_error *err);
/* Parse "gs://bucket[/prefix]" into its parts. 0, or -1 with err when malformed. */
int profd_blob_parse_gs(const char *url, char *bucket, size_t blen, char *prefix, size_t plen,
                        profd_error *err);

/* V4 signed URLs (GOOG4-RSA-SHA256) for Cloud Storage (docs/storage.md). */
#define PROFD_BLOB_SIGN_MAX_PAIRS 32

typedef struct profd_blob_sign_opts {
    const char *method; /* GET, PUT, POST, DELETE, HEAD */
    const char *bucket;
    const char *object;                                /* NULL or "": the bucket itself */
    int64_t expires_s;                                 /* 1 .. 604800 */
    int64_t timestamp_ms;                              /* signing time; 0: now */
    const char *headers[PROFD_BLOB_SIGN_MAX_PAIRS][2]; /* name, value */
    int nheaders;
    const char *query[PROFD_BLOB_SIGN_MAX_PAIRS][2]; /* decoded key, value */
    int nquery;
    const char *scheme;    /* http | https; NULL: from the endpoint, else https */
    const char *url_style; /* path (default) | virtual-hosted | bucket-bound */
    const char *bucket_bound_hostname;
    const char *hostname;      /* host[:port] that replaces the endpoint */
    const char *endpoint;      /* [scheme://]host[:port] of the client */
    const char *emulator_host; /* STORAGE_EMULATOR_HOST */
    const char *universe_domain;
} profd_blob_sign_opts;

/* The signed URL, malloc'ed, into *url, signed with g's credentials. 0, or -1 with err. */
int profd_blob_sign_url(profd_gcp *g, const profd_blob_sign_opts *o, char **url, profd_error *err);

#endif
