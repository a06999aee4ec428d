/* gcp_auth.h - Google Cloud credentials for the GCS store and the Pub/Sub
 * transport: bearer tokens and RSA-SHA256 signatures.
 *
 * Where the credentials come from, in order:
 *   no_auth (an emulator)          no token; signing still works with a key file
 *   a service-account key file     JWT (RS256) exchanged at the key's token_uri
 *   the metadata server            GCE / GKE Workload Identity
 * Tokens are cached until 60 s before they expire; the object is thread-safe.
 * Tokens and keys are never logged nor put into error messages. */
#ifndef PROFD_GCP_AUTH_H
#define PROFD_GCP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profd/util.h"

typedef struct profd_gcp_auth profd_gcp_auth;

typedef struct profd_gcp_auth_opts {
    const char *key_file;      /* GOOGLE_APPLICATION_CREDENTIALS; NULL/"" for the metadata server */
    const char *metadata_host; /* GCE_METADATA_HOST; NULL/"": metadata.google.internal */
    const char *
        iam_endpoint; /* IAM Credentials API base; NULL/"": https://iamcredentials.googleapis.com */
    bool no_auth;     /* emulator: requests carry no Authorization header */
} profd_gcp_auth_opts;

profd_gcp_auth *profd_gcp_auth_new(const profd_gcp_auth_opts *o, profd_error *err);
void profd_gcp_auth_free(profd_gcp_auth *a);

/* "Authorization: Bearer TOKEN" into out, or "" under no_auth. 0 ok. */
int profd_gcp_auth_header(profd_gcp_auth *a, char *out, size_t outlen, profd_error *err);
/* Forget the cached token (after a 401). */
void profd_gcp_auth_invalidate(profd_gcp_auth *a);
/* The service account's e-mail (key file, else the metadata server). */
int profd_gcp_auth_email(profd_gcp_auth *a, char *out, size_t outlen, profd_error *err);
/* RSA-SHA256 signature of data: with the key file's private key, else the
 * IAM Credentials signBlob API. *sig is malloc'ed. 0 ok. */
int profd_gcp_auth_sign(profd_gcp_auth *a, const void *data, size_t len, unsigned char **sig,
                        size_t *siglen, profd_error *err);
/* True when signing uses a local private key (no network). */
bool profd_gcp_auth_has_key(const profd_gcp_auth *a);
/* Token requests made so far (for tests and metrics). */
int profd_gcp_auth_token_requests(profd_gcp_auth *a);

#endif
