/* jwk.c - loading the API's verification keys: a PEM public key or a JWKS.
 *
 * PROFD_JWT_PUBLIC_KEY names a file. When it starts with '{' it is a JSON Web
 * Key Set ({"keys": [...]}, or one bare JWK) and each key keeps its `kid`, so
 * an identity provider can publish the next key before it starts signing with
 * it: rotation is a file update plus a restart (or the periodic reload done
 * by jwt.c, which re-reads the file when its mtime changes). Otherwise the
 * file is read as one PEM public key (SubjectPublicKeyInfo) without a kid.
 *
 * Only the two asymmetric algorithms the API accepts are built: RSA keys
 * (n, e; at least 2048 bits) for RS256 and P-256 keys (x, y) for ES256. Keys
 * marked for another use ("use": "enc") or another algorithm are skipped.
 *
 * A JWKS passes the strict RFC 8259 check (profd_json_check) first. An empty
 * one ({"keys": []}) is a result of its own: at startup it is an error like
 * any file without a usable key, but on a reload it is how an operator
 * revokes every key at once (jwt.c). */
#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_internal.h"
#include "profd/session.h"

static const char *jstr(json_object *o, const char *name)
{
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Decode a base64url member into a fresh buffer. */
static unsigned char *jbytes(json_object *o, const char *name, long *len)
{
    const char *s = jstr(o, name);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    unsigned char *buf = malloc(n * 3 / 4 + 3);
    if (!buf)
        return NULL;
    *len = profd_b64url_decode(s, n, buf);
    if (*len <= 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) > 0)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_from_jwk(json_object *k)
{
    long nl = 0, el = 0;
    unsigned char *n = jbytes(k, "n", &nl), *e = jbytes(k, "e", &el);
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn = n ? BN_bin2bn(n, (int)nl, NULL) : NULL;
    BIGNUM *be = e ? BN_bin2bn(e, (int)el, NULL) : NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        pkey = from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pkey;
}

static EVP_PKEY *ec_from_jwk(json_object *k)
{
    const char *crv = jstr(k, "crv");
    if (!crv || strcmp(crv, "P-256") != 0)
        return NULL;
    long xl = 0, yl = 0;
    unsigned char *x = jbytes(k, "x", &xl), *y = jbytes(k, "y", &yl);
    EVP_PKEY *pkey = NULL;
    if (x && y && xl == 32 && yl == 32) {
        unsigned char point[65];
        point[0] = 0x04; /* uncompressed */
        memcpy(point + 1, x, 32);
        memcpy(point + 33, y, 32);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bld &&
            OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point))
            pkey = from_params("EC", bld);
        OSSL_PARAM_BLD_free(bld);
    }
    free(x);
    free(y);
    return pkey;
}

/* RS256 or ES256 for a usable key, NULL otherwise. */
static const char *alg_of(EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "RSA"))
        return EVP_PKEY_get_bits(pkey) >= 2048 ? "RS256" : NULL;
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64] = "";
        size_t gl = 0;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           &gl) &&
            strcmp(group, "prime256v1") == 0)
            return "ES256";
    }
    return NULL;
}

static int add_key(profd_jwk_set *set, EVP_PKEY *pkey, const char *kid, const char *want_alg)
{
    const char *alg = pkey ? alg_of(pkey) : NULL;
    /* A kid that does not fit whole is skipped, never cut: a cut one would
     * match a token whose kid is only its prefix. */
    bool kid_fits = !kid || strlen(kid) < sizeof set->keys[0].kid;
    if (!alg || !kid_fits || (want_alg && strcmp(want_alg, alg) != 0) || set->n >= PROFD_JWK_MAX) {
        EVP_PKEY_free(pkey);
        return 0;
    }
    profd_jwk *k = &set->keys[set->n++];
    k->pkey = pkey;
    k->alg = alg;
    profd_strlcpy(k->kid, kid ? kid : "", sizeof k->kid);
    k->has_kid = kid != NULL;
    return 1;
}

static void add_jwk(profd_jwk_set *set, json_object *k)
{
    const char *kty = jstr(k, "kty"), *use = jstr(k, "use");
    if (!kty || (use && strcmp(use, "sig") != 0))
        return;
    EVP_PKEY *pkey = NULL;
    if (strcmp(kty, "RSA") == 0)
        pkey = rsa_from_jwk(k);
    else if (strcmp(kty, "EC") == 0)
        pkey = ec_from_jwk(k);
    add_key(set, pkey, jstr(k, "kid"), jstr(k, "alg"));
}

static int load_jwks(profd_jwk_set *set, const char *text, const char *path, bool *empty,
                     profd_error *err)
{
    const char *why;
    size_t at;
    json_object *root =
        profd_json_check(text, strlen(text), &why, &at) == 0 ? json_tokener_parse(text) : NULL;
    if (!root || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        profd_error_set(err, NULL, "PROFD_JWT_PUBLIC_KEY %s is not valid JSON (expected a JWKS)",
                        path);
        return -1;
    }
    json_object *keys;
    if (json_object_object_get_ex(root, "keys", &keys) &&
        json_object_is_type(keys, json_type_array)) {
        *empty = json_object_array_length(keys) == 0;
        for (size_t i = 0; i < json_object_array_length(keys); i++)
            add_jwk(set, json_object_array_get_idx(keys, i));
    } else {
        add_jwk(set, root);
    }
    json_object_put(root);
    return 0;
}

static int load_pem(profd_jwk_set *set, const char *text, size_t len)
{
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    add_key(set, pkey, NULL, NULL);
    return 0;
}

api_jwk_result api__jwk_set_load(profd_jwk_set *set, const char *path, profd_error *err)
{
    memset(set, 0, sizeof *set);
    size_t len = 0;
    char *text = profd_read_file(path, 1 << 20, &len);
    if (!text) {
        profd_error_set(err, NULL, "cannot read PROFD_JWT_PUBLIC_KEY %s: %m", path);
        return API_JWK_ERROR;
    }
    const char *p = text;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    bool empty = false;
    int rc = *p == '{' ? load_jwks(set, p, path, &empty, err) : load_pem(set, text, len);
    free(text);
    if (rc < 0)
        return API_JWK_ERROR;
    if (set->n > 0)
        return API_JWK_LOADED;
    if (empty) {
        profd_error_set(err, NULL, "PROFD_JWT_PUBLIC_KEY %s is a JWKS with no keys", path);
        return API_JWK_EMPTY;
    }
    profd_error_set(err, NULL,
                    "PROFD_JWT_PUBLIC_KEY %s holds no usable key (RSA >= 2048 bits or EC "
                    "P-256, PEM or JWKS)",
                    path);
    return API_JWK_ERROR;
}

void api__jwk_set_clear(profd_jwk_set *set)
{
    for (int i = 0; i < set->n; i++)
        EVP_PKEY_free(set->keys[i].pkey);
    set->n = 0;
}
