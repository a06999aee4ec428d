/* jwt_internal.h - key sets shared by jwk.c (loading) and jwt.c (verifying). */
#ifndef PROFD_API_JWT_INTERNAL_H
#define PROFD_API_JWT_INTERNAL_H

#include <openssl/evp.h>
#include <stdbool.h>

#include "profd/api.h"

#define PROFD_JWK_MAX 16

typedef struct profd_jwk {
    EVP_PKEY *pkey;
    const char *alg; /* "RS256" | "ES256" */
    char kid[128];
    bool has_kid;
} profd_jwk;

typedef struct profd_jwk_set {
    profd_jwk keys[PROFD_JWK_MAX];
    int n;
} profd_jwk_set;

/* What loading a key file found. */
typedef enum {
    API_JWK_LOADED, /* at least one usable key */
    API_JWK_EMPTY,  /* a valid JWKS with an empty "keys" array: no key at all */
    API_JWK_ERROR,  /* unreadable, not JSON / PEM, or no usable key (err says which) */
} api_jwk_result;

/* Read path into set (cleared first). The set is empty unless LOADED. */
PROFD_MUST_USE api_jwk_result api__jwk_set_load(profd_jwk_set *set, const char *path,
                                                profd_error *err);
void api__jwk_set_clear(profd_jwk_set *set);

#endif
