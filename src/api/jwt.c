/* jwt.c - verifying the API's bearer tokens (JWS compact, RFC 7515/7519).
 *
 * Only three algorithms exist here: HS256 with PROFD_JWT_SECRET, and RS256 /
 * ES256 with the keys of PROFD_JWT_PUBLIC_KEY. The algorithm named in the
 * header only selects among keys that were configured for it, so:
 *  - "none" (any case) is refused outright;
 *  - HS256 is refused when no secret is configured, and its HMAC key is always
 *    the secret, never public-key material: the classic confusion (an HS256
 *    token "signed" with the public key file) cannot verify;
 *  - an RS256 token cannot be checked with an EC key or vice versa.
 * A `kid` in the header picks that key from a JWKS (unknown kid: refused);
 * without one every key of the right type is tried.
 *
 * ES256 signatures in JWS are the raw 64-byte r||s; OpenSSL wants DER, so
 * they are converted (and any other length is refused).
 *
 * Claims: exp and nbf are honoured with PROFD_JWT_LEEWAY_S seconds of skew
 * (exp is optional; a token without it never expires - issue tokens with exp).
 * iss and aud are checked when configured (aud may be a string or an array).
 * `sub` is required: it is the rate-limit and audit identity. The admin role
 * is found in a `roles` array or a `role` string; its absence is 403, every
 * other failure 401. Reasons never contain the token or any part of it.
 *
 * Header and payload pass the strict RFC 8259 check (profd_json_check) before
 * json-c: json-c keeps a \u0000 inside a string, and a C comparison then
 * stops at it ("admin\u0000nope" was admin). Every claim is also compared
 * over its full length (string_is), never as a C string.
 *
 * Key reloads (maybe_reload) log what happened: a file that cannot be used
 * keeps the old keys with a warning, and a valid JWKS with no keys revokes
 * them all, so emptying the file is a way to revoke without a restart. */
#include <json-c/json.h>
#include <math.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "jwt_internal.h"
#include "profd/log.h"
#include "profd/session.h"

#define RELOAD_CHECK_S 10

struct profd_jwt_keys {
    char *secret;
    char *path;
    char *issuer, *audience, *role;
    pthread_mutex_t lock;
    profd_jwk_set set;
    struct timespec mtime;
    int64_t checked_s;
    bool missing_logged;
};

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

profd_jwt_keys *profd_jwt_keys_new(const profd_jwt_settings *s, profd_error *err)
{
    profd_jwt_keys *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    pthread_mutex_init(&k->lock, NULL);
    k->secret = dup_or_null(s->secret);
    k->path = dup_or_null(s->public_key_path);
    k->issuer = dup_or_null(s->issuer);
    k->audience = dup_or_null(s->audience);
    k->role = strdup(s->admin_role && *s->admin_role ? s->admin_role : "admin");
    if (k->path) {
        struct stat st;
        if (stat(k->path, &st) == 0)
            k->mtime = st.st_mtim;
        if (api__jwk_set_load(&k->set, k->path, err) != API_JWK_LOADED) {
            profd_jwt_keys_free(k);
            return NULL;
        }
    }
    return k;
}

void profd_jwt_keys_free(profd_jwt_keys *k)
{
    if (!k)
        return;
    api__jwk_set_clear(&k->set);
    if (k->secret)
        OPENSSL_cleanse(k->secret, strlen(k->secret));
    free(k->secret);
    free(k->path);
    free(k->issuer);
    free(k->audience);
    free(k->role);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

bool profd_jwt_keys_empty(const profd_jwt_keys *k)
{
    return !k->secret && !k->path;
}

/* Re-read the key file when it changed. A file that cannot be used keeps the
 * old keys, and says so once per change of the file (or once while it is
 * missing); a valid JWKS without keys revokes every key. */
static void maybe_reload(profd_jwt_keys *k, int64_t now_s)
{
    if (!k->path || now_s - k->checked_s < RELOAD_CHECK_S)
        return;
    k->checked_s = now_s;
    struct stat st;
    if (stat(k->path, &st) != 0) {
        if (!k->missing_logged)
            LOG_W(NULL, "auth.keys_reload_failed",
                  "cannot read PROFD_JWT_PUBLIC_KEY %s: %m; keeping the %d key(s) loaded before",
                  k->path, k->set.n);
        k->missing_logged = true;
        return;
    }
    k->missing_logged = false;
    if (st.st_mtim.tv_sec == k->mtime.tv_sec && st.st_mtim.tv_nsec == k->mtime.tv_nsec)
        return;
    k->mtime = st.st_mtim;
    profd_jwk_set fresh;
    profd_error err;
    switch (api__jwk_set_load(&fresh, k->path, &err)) {
    case API_JWK_ERROR:
        api__jwk_set_clear(&fresh);
        LOG_W(NULL, "auth.keys_reload_failed", "%s; keeping the %d key(s) loaded before", err.msg,
              k->set.n);
        return;
    case API_JWK_EMPTY:
        LOG_W(NULL, "auth.keys_revoked",
              "%s: all %d key(s) revoked, RS256 and ES256 tokens are refused until keys are "
              "published again",
              err.msg, k->set.n);
        break;
    case API_JWK_LOADED:
        LOG_I(NULL, "auth.keys_reloaded", "PROFD_JWT_PUBLIC_KEY %s: %d key(s)", k->path, fresh.n);
        break;
    }
    api__jwk_set_clear(&k->set);
    k->set = fresh;
}

typedef struct token {
    const char *signing_input; /* header.payload */
    size_t signing_len;
    unsigned char sig[1024];
    long sig_len;
    json_object *header, *payload;
} token;

static json_object *decode_json(const char *p, size_t n)
{
    if (n == 0 || n > PROFD_JWT_MAX_LEN)
        return NULL;
    unsigned char *buf = malloc(n * 3 / 4 + 4);
    if (!buf)
        return NULL;
    long len = profd_b64url_decode(p, n, buf);
    json_object *o = NULL;
    /* Strict RFC 8259 first: json-c would keep a \u0000 inside a claim (and
     * cut a member name at it), so "admin\u0000x" would compare equal to
     * "admin" and "roles\u0000" would silently become "roles". */
    const char *why;
    size_t at;
    if (len > 0 && profd_json_check((const char *)buf, (size_t)len, &why, &at) == 0) {
        json_tokener *tok = json_tokener_new();
        o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
        if (json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != (size_t)len) {
            json_object_put(o);
            o = NULL;
        }
        json_tokener_free(tok);
    }
    free(buf);
    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

/* Split and decode; the reason is set on failure. */
static int split(const char *jwt, token *t, char *reason, size_t rl)
{
    size_t len = strlen(jwt);
    const char *d1 = memchr(jwt, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - jwt)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - jwt))) {
        snprintf(reason, rl, "malformed token: expected three dot-separated parts");
        return -1;
    }
    t->signing_input = jwt;
    t->signing_len = (size_t)(d2 - jwt);
    t->header = decode_json(jwt, (size_t)(d1 - jwt));
    t->payload = decode_json(d1 + 1, (size_t)(d2 - d1 - 1));
    size_t slen = len - (size_t)(d2 + 1 - jwt);
    t->sig_len = slen <= sizeof t->sig * 4 / 3 ? profd_b64url_decode(d2 + 1, slen, t->sig) : -1;
    if (!t->header || !t->payload) {
        snprintf(reason, rl, "malformed token: header or payload is not base64url JSON");
        return -1;
    }
    if (t->sig_len < 0) {
        snprintf(reason, rl, "malformed token: signature is not base64url");
        return -1;
    }
    return 0;
}

static const char *member_str(json_object *o, const char *name)
{
    json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    /* A string with a NUL inside is no claim value at all (the strict check
     * has refused it already; this keeps the rule local). */
    return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

/* A JSON string equal to want over its whole length. */
static bool string_is(json_object *v, const char *want)
{
    if (!v || !json_object_is_type(v, json_type_string))
        return false;
    size_t n = (size_t)json_object_get_string_len(v);
    return n == strlen(want) && memcmp(json_object_get_string(v), want, n) == 0;
}

static int verify_hs256(const profd_jwt_keys *k, const token *t)
{
    unsigned char mac[32];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), k->secret, (int)strlen(k->secret),
              (const unsigned char *)t->signing_input, t->signing_len, mac, &maclen))
        return -1;
    if (t->sig_len != 32 || CRYPTO_memcmp(mac, t->sig, 32) != 0)
        return -1;
    return 0;
}

/* JWS r||s (32 + 32 bytes) to DER; returns the DER length or -1. */
static int es256_to_der(const unsigned char *sig, long len, unsigned char *der, size_t cap)
{
    if (len != 64)
        return -1;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return -1;
    }
    int n = i2d_ECDSA_SIG(es, NULL);
    if (n <= 0 || (size_t)n > cap) {
        ECDSA_SIG_free(es);
        return -1;
    }
    unsigned char *p = der;
    n = i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);
    return n;
}

static int verify_with(EVP_PKEY *pkey, const char *alg, const token *t)
{
    const unsigned char *sig = t->sig;
    size_t siglen = (size_t)t->sig_len;
    unsigned char der[80];
    if (strcmp(alg, "ES256") == 0) {
        int n = es256_to_der(t->sig, t->sig_len, der, sizeof der);
        if (n < 0)
            return -1;
        sig = der;
        siglen = (size_t)n;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
             EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)t->signing_input,
                              t->signing_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* Collect candidate keys (with a reference each) under the lock. */
static int candidates(profd_jwt_keys *k, const char *alg, const char *kid, int64_t now_s,
                      EVP_PKEY **out, int max, bool *kid_unknown)
{
    int n = 0;
    *kid_unknown = false;
    pthread_mutex_lock(&k->lock);
    maybe_reload(k, now_s);
    bool kid_seen = false;
    for (int i = 0; i < k->set.n && n < max; i++) {
        const profd_jwk *j = &k->set.keys[i];
        if (kid && j->has_kid) {
            if (strcmp(kid, j->kid) != 0)
                continue;
            kid_seen = true;
        }
        if (strcmp(j->alg, alg) != 0)
            continue;
        EVP_PKEY_up_ref(j->pkey);
        out[n++] = j->pkey;
    }
    bool any_kids = false;
    for (int i = 0; i < k->set.n; i++)
        any_kids |= k->set.keys[i].has_kid;
    if (kid && any_kids && !kid_seen)
        *kid_unknown = true;
    pthread_mutex_unlock(&k->lock);
    return n;
}

static int verify_asym(profd_jwt_keys *k, const char *alg, const token *t, int64_t now_s,
                       char *reason, size_t rl)
{
    if (!k->path) {
        snprintf(reason, rl, "%s tokens are not accepted: no PROFD_JWT_PUBLIC_KEY configured", alg);
        return -1;
    }
    json_object *kv = NULL;
    const char *kid = member_str(t->header, "kid");
    if (json_object_object_get_ex(t->header, "kid", &kv) && !kid) {
        snprintf(reason, rl, "token header kid is not a key id string");
        return -1;
    }
    EVP_PKEY *keys[PROFD_JWK_MAX];
    bool kid_unknown;
    int n = candidates(k, alg, kid, now_s, keys, PROFD_JWK_MAX, &kid_unknown);
    int rc = -1;
    for (int i = 0; i < n; i++) {
        if (rc < 0 && verify_with(keys[i], alg, t) == 0)
            rc = 0;
        EVP_PKEY_free(keys[i]);
    }
    if (rc < 0) {
        if (kid_unknown)
            snprintf(reason, rl, "unknown key id (kid)");
        else if (n == 0)
            snprintf(reason, rl, "no configured key for %s", alg);
        else
            snprintf(reason, rl, "signature verification failed");
    }
    return rc;
}

static int check_signature(profd_jwt_keys *k, const token *t, int64_t now_s, char *reason,
                           size_t rl)
{
    const char *alg = member_str(t->header, "alg");
    if (!alg) {
        snprintf(reason, rl, "token header has no alg");
        return -1;
    }
    if (strcasecmp(alg, "none") == 0) {
        snprintf(reason, rl, "unsigned tokens (alg none) are not accepted");
        return -1;
    }
    json_object *crit;
    if (json_object_object_get_ex(t->header, "crit", &crit)) {
        snprintf(reason, rl, "token header has unsupported critical extensions");
        return -1;
    }
    if (strcmp(alg, "HS256") == 0) {
        if (!k->secret) {
            snprintf(reason, rl, "HS256 tokens are not accepted: no PROFD_JWT_SECRET configured");
            return -1;
        }
        if (verify_hs256(k, t) < 0) {
            snprintf(reason, rl, "signature verification failed");
            return -1;
        }
        return 0;
    }
    if (strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0)
        return verify_asym(k, alg, t, now_s, reason, rl);
    snprintf(reason, rl, "unsupported alg (accepted: HS256, RS256, ES256)");
    return -1;
}

/* A NumericDate claim: 1 present (in *v), 0 absent, -1 wrong type. */
static int numeric_date(json_object *p, const char *name, double *v)
{
    json_object *o;
    if (!json_object_object_get_ex(p, name, &o))
        return 0;
    if (!json_object_is_type(o, json_type_int) && !json_object_is_type(o, json_type_double))
        return -1;
    *v = json_object_get_double(o);
    return isfinite(*v) ? 1 : -1;
}

static int check_times(json_object *p, int64_t now_s, char *reason, size_t rl)
{
    double v;
    int r = numeric_date(p, "exp", &v);
    if (r < 0 || (r > 0 && (double)now_s >= v + PROFD_JWT_LEEWAY_S)) {
        snprintf(reason, rl, r < 0 ? "exp claim is not a number" : "token has expired");
        return -1;
    }
    r = numeric_date(p, "nbf", &v);
    if (r < 0 || (r > 0 && (double)now_s + PROFD_JWT_LEEWAY_S < v)) {
        snprintf(reason, rl, r < 0 ? "nbf claim is not a number" : "token is not valid yet (nbf)");
        return -1;
    }
    return 0;
}

static bool aud_matches(json_object *p, const char *want)
{
    json_object *a;
    if (!json_object_object_get_ex(p, "aud", &a))
        return false;
    if (json_object_is_type(a, json_type_string))
        return string_is(a, want);
    if (!json_object_is_type(a, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(a); i++)
        if (string_is(json_object_array_get_idx(a, i), want))
            return true;
    return false;
}

static int check_claims(const profd_jwt_keys *k, json_object *p, char *reason, size_t rl)
{
    json_object *iss = NULL;
    if (k->issuer && (!json_object_object_get_ex(p, "iss", &iss) || !string_is(iss, k->issuer))) {
        snprintf(reason, rl, "token issuer (iss) is not the configured one");
        return -1;
    }
    if (k->audience && !aud_matches(p, k->audience)) {
        snprintf(reason, rl, "token audience (aud) does not include the configured one");
        return -1;
    }
    const char *sub = member_str(p, "sub");
    if (!sub || !*sub || strlen(sub) >= sizeof(((profd_jwt_claims *)0)->sub)) {
        snprintf(reason, rl, "token has no usable subject (sub)");
        return -1;
    }
    return 0;
}

static bool has_role(json_object *p, const char *role)
{
    json_object *one = NULL, *roles;
    if (json_object_object_get_ex(p, "role", &one) && string_is(one, role))
        return true;
    if (!json_object_object_get_ex(p, "roles", &roles) ||
        !json_object_is_type(roles, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(roles); i++)
        if (string_is(json_object_array_get_idx(roles, i), role))
            return true;
    return false;
}

profd_auth profd_jwt_verify(profd_jwt_keys *k, const char *jwt, int64_t now_s,
                            profd_jwt_claims *out, char *reason, size_t rl)
{
    memset(out, 0, sizeof *out);
    snprintf(reason, rl, "invalid token");
    if (!jwt || !*jwt || strlen(jwt) > PROFD_JWT_MAX_LEN) {
        snprintf(reason, rl, jwt && *jwt ? "token too long" : "missing token");
        return PROFD_AUTH_INVALID;
    }
    if (profd_jwt_keys_empty(k)) {
        snprintf(reason, rl, "no JWT key is configured (PROFD_JWT_SECRET or PROFD_JWT_PUBLIC_KEY)");
        return PROFD_AUTH_INVALID;
    }
    token t;
    memset(&t, 0, sizeof t);
    profd_auth rc = PROFD_AUTH_INVALID;
    if (split(jwt, &t, reason, rl) == 0 && check_signature(k, &t, now_s, reason, rl) == 0 &&
        check_times(t.payload, now_s, reason, rl) == 0 &&
        check_claims(k, t.payload, reason, rl) == 0) {
        profd_strlcpy(out->sub, member_str(t.payload, "sub"), sizeof out->sub);
        out->admin = has_role(t.payload, k->role);
        out->viewer = has_role(t.payload, PROFD_VIEWER_ROLE);
        rc = out->admin ? PROFD_AUTH_OK : PROFD_AUTH_FORBIDDEN;
        if (!out->admin)
            snprintf(reason, rl, "token lacks the required role '%s'", k->role);
        else
            reason[0] = '\0';
    }
    json_object_put(t.header);
    json_object_put(t.payload);
    return rc;
}

profd_auth profd_jwt_authorize(profd_jwt_keys *k, const char *header, int64_t now_s,
                               profd_jwt_claims *out, char *reason, size_t rl)
{
    memset(out, 0, sizeof *out);
    if (!header || !*header) {
        snprintf(reason, rl, "missing Authorization header (expected: Bearer <JWT>)");
        return PROFD_AUTH_INVALID;
    }
    if (strncasecmp(header, "Bearer ", 7) != 0) {
        snprintf(reason, rl, "Authorization must use the Bearer scheme");
        return PROFD_AUTH_INVALID;
    }
    const char *p = header + 7;
    while (*p == ' ')
        p++;
    return profd_jwt_verify(k, p, now_s, out, reason, rl);
}

char *profd_jwt_sign_hs256(const char *secret, const char *claims_json)
{
    static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t cl = strlen(claims_json);
    size_t cap = (sizeof hdr + cl) * 4 / 3 + 128;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t n = profd_b64_encode((const unsigned char *)hdr, sizeof hdr - 1, true, out);
    out[n++] = '.';
    n += profd_b64_encode((const unsigned char *)claims_json, cl, true, out + n);
    unsigned char mac[32];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)out, n, mac, &maclen)) {
        free(out);
        return NULL;
    }
    out[n++] = '.';
    profd_b64_encode(mac, maclen, true, out + n);
    return out;
}
