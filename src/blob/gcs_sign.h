/* gcs_sign.h - V4 signed URLs (GOOG4-RSA-SHA256) for Cloud Storage. */
#ifndef PROFD_GCS_SIGN_H
#define PROFD_GCS_SIGN_H

#include <stdint.h>

#include "blob/gcp_auth.h"

#define PROFD_SIGN_MAX_PAIRS 32

typedef struct profd_gcs_sign_opts {
    const char *method; /* GET, PUT, POST, DELETE, HEAD */
    const char *bucket;
    const char *object;                           /* NULL or "": the bucket itself */
    int64_t expires_s;                            /* 1 .. 604800 */
    int64_t timestamp_ms;                         /* signing time; 0: now */
    const char *headers[PROFD_SIGN_MAX_PAIRS][2]; /* name, value */
    int nheaders;
    const char *query[PROFD_SIGN_MAX_PAIRS][2]; /* decoded key, value */
    int nquery;
    const char *scheme;    /* http | https; NULL: from the endpoint, else https */
    const char *url_style; /* path (default) | virtual-hosted | bucket-bound */
    const char *bucket_bound_hostname;
    const char *hostname;      /* host[:port] that replaces the endpoint */
    const char *endpoint;      /* [scheme://]host[:port] of the client */
    const char *emulator_host; /* STORAGE_EMULATOR_HOST */
    const char *universe_domain;
} profd_gcs_sign_opts;

/* The signed URL, malloc'ed, into *url. 0 ok, -1 with err. */
int profd_gcs_sign_url(profd_gcp_auth *auth, const profd_gcs_sign_opts *o, char **url,
                       profd_error *err);

#endif
