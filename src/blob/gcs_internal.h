/* gcs_internal.h - the GCS store's pieces: the store object, requests with
 * auth and retries, uploads and checksums. */
#ifndef PROFD_GCS_INTERNAL_H
#define PROFD_GCS_INTERNAL_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#include "blob_internal.h"
#include "profd/gcp.h"

/* Transfer defaults (docs/storage.md, "Uploads" and "Retries"). */
#define GCS_RESUMABLE_THRESHOLD (8 << 20) /* bytes; larger objects upload resumable */
#define GCS_CHUNK (8 << 20)               /* resumable chunk, a multiple of 256 KiB */
#define GCS_MAX_ATTEMPTS 6                /* attempts of one request */
#define GCS_DEADLINE_MS 120000            /* one operation with its retries */
#define GCS_RETRY_BASE_MS 500             /* first backoff ceiling */
#define GCS_REQUEST_TIMEOUT_MS 60000      /* one HTTP exchange */

typedef struct gcs_blob {
    profd_blob base;
    char bucket[256];
    char prefix[1024]; /* "" or "dir/sub" (no trailing '/') */
    char api[512];     /* scheme://host[:port] of the JSON API */
    bool emulator;
    profd_gcp *gcp;
    int64_t threshold;       /* bytes; larger objects upload resumable */
    int64_t chunk;           /* resumable chunk, a multiple of 256 KiB */
    profd_gcp_policy policy; /* of every request */
    char link_host[512];     /* V4 links: endpoint for signing ("" = storage.googleapis.com) */
} gcs_blob;

/* For tests: other sizes and retry bounds than the GCS_* defaults (small
 * fixtures, fast backoff). chunk is rounded down to a multiple of 256 KiB. */
void blob__gcs_tune(profd_blob *b, int64_t threshold, int64_t chunk, const profd_gcp_policy *p);

/* Send req through profd_gcp_call with the store's policy. 0 when a final
 * response arrived (resp->status says which; free it), -1 with "WHAT failed
 * after N attempts: HTTP 503 reason" in err (code upload_failed when WHAT is
 * an upload). */
int blob__gcs_call(gcs_blob *g, profd_gcp_req *req, profd_gcp_resp *resp, bool idempotent,
                   const char *what, profd_error *err);
/* err := "WHAT failed after N attempts: HTTP S reason" (or libcurl's reason). */
void blob__gcs_failure(const char *what, const char *code, const profd_gcp_resp *resp,
                       profd_error *err);
/* Full object name with the store's prefix. */
int blob__gcs_name(gcs_blob *g, const char *object, char *out, size_t outlen, profd_error *err);

typedef enum gcs_put_result {
    GCS_PUT_OK,           /* stored; *generation is set */
    GCS_PUT_FAILED,       /* err says why */
    GCS_PUT_PRECONDITION, /* 412: the object is not at the generation named (err says so) */
} gcs_put_result;

gcs_put_result blob__gcs_upload(gcs_blob *g, const char *name, const char *path,
                                const char *content_type, const profd_blob_meta *meta,
                                int64_t if_generation, int64_t *generation, profd_error *err);

/* CRC32C (Castagnoli) and MD5 of a byte stream, base64 as GCS reports them. */
uint32_t blob__crc32c(uint32_t crc, const void *data, size_t len);
typedef struct profd_hashes {
    uint32_t crc;
    EVP_MD_CTX *md5;
} profd_hashes;
void blob__hashes_init(profd_hashes *h);
void blob__hashes_update(profd_hashes *h, const void *data, size_t len);
void blob__hashes_final(profd_hashes *h, char crc_b64[16], char md5_b64[32]);

#endif
