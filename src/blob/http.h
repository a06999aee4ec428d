/* http.h - one HTTP exchange through libcurl, as the GCS store and Google
 * auth need it: memory request bodies, response body to memory or a file,
 * and the few response headers the protocols use. Retrying is the caller's
 * business (retry.h); this only reports what happened. */
#ifndef PROFD_BLOB_HTTP_H
#define PROFD_BLOB_HTTP_H

#include <stdint.h>
#include <stdio.h>

#define PROFD_HTTP_MAX_HEADERS 16

typedef struct profd_http_req {
    const char *method; /* GET, POST, PUT, DELETE */
    const char *url;
    const char *headers[PROFD_HTTP_MAX_HEADERS]; /* "Name: value" */
    int nheaders;
    const void *body; /* NULL: no body */
    size_t body_len;
    FILE *out;       /* 2xx response bodies go here when set, else to memory */
    long timeout_ms; /* whole exchange; 0: none */
} profd_http_req;

typedef struct profd_http_resp {
    long status; /* 0: no HTTP response (connection failed, reset, timeout) */
    char *body;  /* NUL-terminated; error bodies always land here */
    size_t body_len;
    int64_t written;      /* bytes written to req->out */
    char range[64];       /* Range: of a 308 */
    char retry_after[32]; /* Retry-After: */
    char location[2048];  /* Location: of a resumable session */
    char goog_hash[160];  /* x-goog-hash: values, comma-joined (crc32c=…,md5=…) */
    char error[256];      /* libcurl's reason when status is 0 */
} profd_http_resp;

void profd_http_add_header(profd_http_req *r, const char *h);
/* 0 when an HTTP response arrived (any status), -1 when none did. */
int profd_http_do(const profd_http_req *r, profd_http_resp *resp);
void profd_http_resp_free(profd_http_resp *resp);

#endif
