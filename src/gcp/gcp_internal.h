/* gcp_internal.h - the gcp module's pieces (not a public interface):
 * credentials (auth.c), the libcurl exchange (http.c), the rule, the backoff
 * and the one call (call.c). */
#ifndef PROFD_GCP_INTERNAL_H
#define PROFD_GCP_INTERNAL_H

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>

#include "profd/gcp.h"

/* How an exchange is carried out: libcurl (http.c), or a test's stand-in. */
typedef int (*gcp__transport)(void *arg, const profd_gcp_req *r, profd_gcp_resp *resp);

struct profd_gcp {
    pthread_mutex_t mu; /* guards the token cache and the e-mail */
    bool no_auth;
    EVP_PKEY *key; /* NULL: metadata server */
    char key_id[128];
    char email[256];
    char token_uri[512];
    char metadata_host[256];
    char iam_endpoint[256];
    char token[4096];
    int64_t token_expiry_ms; /* wall clock; refreshed 60 s before */
    /* connections, DNS and TLS sessions shared by every exchange */
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    gcp__transport transport; /* NULL: libcurl */
    void *transport_arg;
};

/* http.c: set up and tear down the share (connections too when keep_alive). 0 or -1. */
int gcp__http_init(profd_gcp *g, bool keep_alive);
void gcp__http_free(profd_gcp *g);

/* For tests: carry every exchange of g through fn instead of libcurl. */
void gcp__set_transport(profd_gcp *g, gcp__transport fn, void *arg);

/* auth.c: "Authorization: Bearer TOKEN" into out, or "" under no_auth; a token
 * is fetched when none is cached or it expires within 60 s. 0 or -1 with err. */
int gcp__auth_header(profd_gcp *g, char *out, size_t outlen, profd_error *err);
/* Forget the cached token (after a 401). */
void gcp__auth_invalidate(profd_gcp *g);

/* call.c: profd_gcp_send and profd_gcp_call, with the Authorization header
 * only when with_auth (token and e-mail requests carry none). */
profd_gcp_result gcp__send(profd_gcp *g, profd_gcp_req *req, profd_gcp_backoff *b, bool with_auth,
                           profd_gcp_resp *resp, profd_error *err);
profd_gcp_result gcp__call(profd_gcp *g, profd_gcp_req *req, bool idempotent,
                           const profd_gcp_policy *p, bool with_auth, profd_gcp_resp *resp,
                           profd_error *err);

#endif
