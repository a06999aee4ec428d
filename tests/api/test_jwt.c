/* test_jwt.c - the auth matrix of the API's JWT verification, with tokens
 * minted here with OpenSSL (HS256, RS256, ES256 over freshly generated keys),
 * written to real PEM and JWKS files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "profd/api.h"

#define NOW 1700000000LL

static EVP_PKEY *rsa1, *rsa2, *ec1;
static char dir[] = "/tmp/profd-jwt-XXXXXX";
static char pem_rsa[256], pem_ec[256], jwks[256], pem_bytes[8192];

static char *b64(const unsigned char *p, size_t n)
{
    char *o = malloc(n * 4 / 3 + 8);
    profd_b64_encode(p, n, true, o);
    return o;
}

/* header.payload.signature with the given algorithm and key. */
static char *mint(const char *header, const char *payload, const char *alg, EVP_PKEY *key,
                  const char *secret, size_t secret_len)
{
    char *h = b64((const unsigned char *)header, strlen(header));
    char *p = b64((const unsigned char *)payload, strlen(payload));
    char *in = malloc(strlen(h) + strlen(p) + 2);
    sprintf(in, "%s.%s", h, p);
    unsigned char sig[1024];
    size_t siglen = 0;
    if (strcmp(alg, "HS256") == 0) {
        unsigned int l = 0;
        HMAC(EVP_sha256(), secret, (int)secret_len, (unsigned char *)in, strlen(in), sig, &l);
        siglen = l;
    } else if (strcmp(alg, "none") != 0) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned char der[1024];
        size_t derlen = sizeof der;
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
        assert_int_equal(EVP_DigestSign(ctx, der, &derlen, (unsigned char *)in, strlen(in)), 1);
        EVP_MD_CTX_free(ctx);
        if (strcmp(alg, "ES256") == 0) { /* DER -> r||s */
            const unsigned char *d = der;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &d, (long)derlen);
            const BIGNUM *r, *s;
            ECDSA_SIG_get0(es, &r, &s);
            BN_bn2binpad(r, sig, 32);
            BN_bn2binpad(s, sig + 32, 32);
            siglen = 64;
            ECDSA_SIG_free(es);
        } else {
            memcpy(sig, der, derlen);
            siglen = derlen;
        }
    }
    char *s = b64(sig, siglen);
    char *tok = malloc(strlen(in) + strlen(s) + 2);
    sprintf(tok, "%s.%s", in, s);
    free(h);
    free(p);
    free(in);
    free(s);
    return tok;
}

static char *hs(const char *payload, const char *secret)
{
    return mint("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, "HS256", NULL, secret,
                strlen(secret));
}

static void write_pem(EVP_PKEY *k, const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    PEM_write_PUBKEY(f, k);
    fclose(f);
}

static char *bn_b64(EVP_PKEY *k, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    unsigned char buf[512];
    int n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64(buf, (size_t)n);
}

static void write_jwks(const char *path, bool with_rsa1)
{
    char *n1 = bn_b64(rsa1, OSSL_PKEY_PARAM_RSA_N, 0), *e1 = bn_b64(rsa1, OSSL_PKEY_PARAM_RSA_E, 0);
    char *n2 = bn_b64(rsa2, OSSL_PKEY_PARAM_RSA_N, 0), *e2 = bn_b64(rsa2, OSSL_PKEY_PARAM_RSA_E, 0);
    char *x = bn_b64(ec1, OSSL_PKEY_PARAM_EC_PUB_X, 32),
         *y = bn_b64(ec1, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"keys\":[");
    if (with_rsa1)
        fprintf(f, "{\"kty\":\"RSA\",\"kid\":\"k1\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"},",
                n1, e1);
    fprintf(f,
            "{\"kty\":\"RSA\",\"kid\":\"k2\",\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"},"
            "{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
            n2, e2, x, y);
    fclose(f);
    free(n1), free(e1), free(n2), free(e2), free(x), free(y);
}

static int setup(void **state)
{
    (void)state;
    rsa1 = EVP_RSA_gen(2048);
    rsa2 = EVP_RSA_gen(2048);
    ec1 = EVP_EC_gen("P-256");
    assert_non_null(mkdtemp(dir));
    snprintf(pem_rsa, sizeof pem_rsa, "%s/rsa.pem", dir);
    snprintf(pem_ec, sizeof pem_ec, "%s/ec.pem", dir);
    snprintf(jwks, sizeof jwks, "%s/jwks.json", dir);
    write_pem(rsa1, pem_rsa);
    write_pem(ec1, pem_ec);
    write_jwks(jwks, true);
    FILE *f = fopen(pem_rsa, "r");
    size_t n = fread(pem_bytes, 1, sizeof pem_bytes - 1, f);
    pem_bytes[n] = '\0';
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(pem_rsa), unlink(pem_ec), unlink(jwks), rmdir(dir);
    EVP_PKEY_free(rsa1), EVP_PKEY_free(rsa2), EVP_PKEY_free(ec1);
    return 0;
}

static profd_jwt_keys *keys(const char *secret, const char *path, const char *iss, const char *aud)
{
    profd_jwt_settings s = {secret, path, iss, aud, "admin"};
    profd_error err;
    profd_jwt_keys *k = profd_jwt_keys_new(&s, &err);
    assert_non_null(k);
    return k;
}

static profd_auth check(profd_jwt_keys *k, const char *tok, char *reason)
{
    profd_jwt_claims c;
    profd_auth a = profd_jwt_verify(k, tok, NOW, &c, reason, 256);
    if (strlen(tok) > 8)
        assert_null(strstr(reason, tok)); /* never echoes the token */
    return a;
}

/* Verify tok (freed here): want, with why in the reason when given. */
static void expect(profd_jwt_keys *k, char *tok, profd_auth want, const char *why)
{
    char reason[256] = "";
    assert_int_equal(check(k, tok, reason), want);
    if (why)
        assert_non_null(strstr(reason, why));
    free(tok);
}

#define ADMIN "{\"sub\":\"alice\",\"roles\":[\"viewer\",\"admin\"],\"exp\":1700000600}"

static void test_b64url_strict(void **state)
{
    (void)state;
    unsigned char out[16];
    assert_int_equal(profd_b64url_decode("YWJj", 4, out), 3);
    assert_memory_equal(out, "abc", 3);
    assert_int_equal(profd_b64url_decode("YWI", 3, out), 2);
    assert_int_equal(profd_b64url_decode("YWI=", 4, out), -1); /* padding */
    assert_int_equal(profd_b64url_decode("YWJ", 3, out), -1);  /* stray bits */
    assert_int_equal(profd_b64url_decode("Y", 1, out), -1);    /* impossible length */
    assert_int_equal(profd_b64url_decode("YW+j", 4, out), -1); /* not the URL alphabet */
    assert_int_equal(profd_b64url_decode("_-8", 3, out), 2);
    char enc[8];
    unsigned char raw[2] = {0xff, 0xef};
    profd_b64_encode(raw, 2, true, enc);
    assert_string_equal(enc, "_-8");
}

static void test_hs256_ok_and_roles(void **state)
{
    (void)state;
    profd_jwt_keys *k = keys("s3cret", NULL, NULL, NULL);
    char reason[256];
    profd_jwt_claims c;
    char *t = hs(ADMIN, "s3cret");
    assert_int_equal(profd_jwt_verify(k, t, NOW, &c, reason, sizeof reason), PROFD_AUTH_OK);
    assert_string_equal(c.sub, "alice");
    assert_true(c.admin);
    free(t);
    expect(k, hs("{\"sub\":\"bob\",\"role\":\"admin\"}", "s3cret"), PROFD_AUTH_OK, NULL);
    expect(k, hs("{\"sub\":\"carol\",\"roles\":[\"viewer\"]}", "s3cret"), PROFD_AUTH_FORBIDDEN,
           "role");
    expect(k, hs("{\"sub\":\"dave\",\"role\":\"administrator\"}", "s3cret"), PROFD_AUTH_FORBIDDEN,
           NULL);
    expect(k, hs("{\"roles\":[\"admin\"]}", "s3cret"), PROFD_AUTH_INVALID, NULL); /* no sub */
    expect(k, hs(ADMIN, "other-secret"), PROFD_AUTH_INVALID, "signature");
    /* The minting helper makes tokens this verifier accepts. */
    expect(k, profd_jwt_sign_hs256("s3cret", ADMIN), PROFD_AUTH_OK, NULL);
    profd_jwt_keys_free(k);
}

static void test_times(void **state)
{
    (void)state;
    profd_jwt_keys *k = keys("s3cret", NULL, NULL, NULL);
    expect(k, hs("{\"sub\":\"a\",\"role\":\"admin\",\"exp\":1699999000}", "s3cret"),
           PROFD_AUTH_INVALID, "expired");
    /* Within the leeway an expired token still passes. */
    expect(k, hs("{\"sub\":\"a\",\"role\":\"admin\",\"exp\":1699999990}", "s3cret"), PROFD_AUTH_OK,
           NULL);
    expect(k, hs("{\"sub\":\"a\",\"role\":\"admin\",\"nbf\":1700000600}", "s3cret"),
           PROFD_AUTH_INVALID, "nbf");
    expect(k, hs("{\"sub\":\"a\",\"role\":\"admin\",\"nbf\":1700000010}", "s3cret"), PROFD_AUTH_OK,
           NULL);
    expect(k, hs("{\"sub\":\"a\",\"role\":\"admin\",\"exp\":\"tomorrow\"}", "s3cret"),
           PROFD_AUTH_INVALID, NULL);
    profd_jwt_keys_free(k);
}

static void test_iss_aud(void **state)
{
    (void)state;
    profd_jwt_keys *k = keys("s3cret", NULL, "https://idp", "profd");
    expect(k,
           hs("{\"sub\":\"a\",\"role\":\"admin\",\"iss\":\"https://idp\",\"aud\":\"profd\"}",
              "s3cret"),
           PROFD_AUTH_OK, NULL);
    expect(
        k,
        hs("{\"sub\":\"a\",\"role\":\"admin\",\"iss\":\"https://idp\",\"aud\":[\"x\",\"profd\"]}",
           "s3cret"),
        PROFD_AUTH_OK, NULL);
    expect(k,
           hs("{\"sub\":\"a\",\"role\":\"admin\",\"iss\":\"https://evil\",\"aud\":\"profd\"}",
              "s3cret"),
           PROFD_AUTH_INVALID, "iss");
    expect(
        k,
        hs("{\"sub\":\"a\",\"role\":\"admin\",\"iss\":\"https://idp\",\"aud\":[\"x\"]}", "s3cret"),
        PROFD_AUTH_INVALID, "aud");
    expect(k, hs("{\"sub\":\"a\",\"role\":\"admin\",\"iss\":\"https://idp\"}", "s3cret"),
           PROFD_AUTH_INVALID, NULL);
    profd_jwt_keys_free(k);
}

static void test_none_and_malformed(void **state)
{
    (void)state;
    profd_jwt_keys *k = keys("s3cret", NULL, NULL, NULL);
    char reason[256];
    expect(k, mint("{\"alg\":\"none\"}", ADMIN, "none", NULL, NULL, 0), PROFD_AUTH_INVALID, "none");
    expect(k, mint("{\"alg\":\"NoNe\"}", ADMIN, "none", NULL, NULL, 0), PROFD_AUTH_INVALID, NULL);
    expect(k, mint("{\"alg\":\"HS512\"}", ADMIN, "HS256", NULL, "s3cret", 6), PROFD_AUTH_INVALID,
           NULL);
    /* Tampered payload, original signature. */
    char *t = hs(ADMIN, "s3cret");
    char *forged = hs("{\"sub\":\"mallory\",\"roles\":[\"admin\"],\"exp\":1700000600}", "x");
    char *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.');
    char *fdot1 = strchr(forged, '.'), *fdot2 = strrchr(forged, '.');
    char spliced[4096];
    snprintf(spliced, sizeof spliced, "%.*s.%.*s%s", (int)(dot1 - t), t, (int)(fdot2 - fdot1 - 1),
             fdot1 + 1, dot2);
    assert_int_equal(check(k, spliced, reason), PROFD_AUTH_INVALID);
    /* Padding or a foreign character in the signature. */
    snprintf(spliced, sizeof spliced, "%s=", t);
    assert_int_equal(check(k, spliced, reason), PROFD_AUTH_INVALID);
    snprintf(spliced, sizeof spliced, "%s", t);
    spliced[strlen(spliced) - 3] = '+';
    assert_int_equal(check(k, spliced, reason), PROFD_AUTH_INVALID);
    free(t);
    free(forged);
    const char *bad[] = {"", "a", "a.b", "a.b.c.d", "...", "e30.e30.", "!!.e30.abc", "e30.e30"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(check(k, bad[i], reason), PROFD_AUTH_INVALID);
    profd_jwt_keys_free(k);
}

static void test_header_parsing(void **state)
{
    (void)state;
    profd_jwt_keys *k = keys("s3cret", NULL, NULL, NULL);
    char reason[256];
    profd_jwt_claims c;
    char *t = hs(ADMIN, "s3cret");
    char hdr[4096];
    snprintf(hdr, sizeof hdr, "Bearer %s", t);
    assert_int_equal(profd_jwt_authorize(k, hdr, NOW, &c, reason, sizeof reason), PROFD_AUTH_OK);
    snprintf(hdr, sizeof hdr, "Basic %s", t);
    assert_int_equal(profd_jwt_authorize(k, hdr, NOW, &c, reason, sizeof reason),
                     PROFD_AUTH_INVALID);
    assert_int_equal(profd_jwt_authorize(k, NULL, NOW, &c, reason, sizeof reason),
                     PROFD_AUTH_INVALID);
    assert_non_null(strstr(reason, "missing"));
    free(t);
    profd_jwt_keys_free(k);
}

static void test_rs256_pem_and_confusion(void **state)
{
    (void)state;
    profd_jwt_keys *k = keys(NULL, pem_rsa, NULL, NULL);
    expect(k, mint("{\"alg\":\"RS256\"}", ADMIN, "RS256", rsa1, NULL, 0), PROFD_AUTH_OK, NULL);
    expect(k, mint("{\"alg\":\"RS256\"}", ADMIN, "RS256", rsa2, NULL, 0), PROFD_AUTH_INVALID,
           NULL); /* another key */
    /* Algorithm confusion: HS256 with the public key's PEM bytes as the secret. */
    expect(k, mint("{\"alg\":\"HS256\"}", ADMIN, "HS256", NULL, pem_bytes, strlen(pem_bytes)),
           PROFD_AUTH_INVALID, "HS256");
    /* ES256 when only an RSA key exists. */
    expect(k, mint("{\"alg\":\"ES256\"}", ADMIN, "ES256", ec1, NULL, 0), PROFD_AUTH_INVALID, NULL);
    profd_jwt_keys_free(k);
    /* Even with a secret configured too, the public key bytes are never an HMAC key. */
    k = keys("s3cret", pem_rsa, NULL, NULL);
    expect(k, mint("{\"alg\":\"HS256\"}", ADMIN, "HS256", NULL, pem_bytes, strlen(pem_bytes)),
           PROFD_AUTH_INVALID, NULL);
    profd_jwt_keys_free(k);
}

static void test_es256_pem(void **state)
{
    (void)state;
    profd_jwt_keys *k = keys(NULL, pem_ec, NULL, NULL);
    char reason[256];
    char *t = mint("{\"alg\":\"ES256\"}", ADMIN, "ES256", ec1, NULL, 0);
    assert_int_equal(check(k, t, reason), PROFD_AUTH_OK);
    /* A DER signature (what OpenSSL emits) is not a valid JWS signature. */
    free(t);
    expect(k, mint("{\"alg\":\"RS256\"}", ADMIN, "RS256", rsa1, NULL, 0), PROFD_AUTH_INVALID, NULL);
    profd_jwt_keys_free(k);
}

static void test_jwks_kid_rotation(void **state)
{
    (void)state;
    profd_jwt_keys *k = keys(NULL, jwks, NULL, NULL);
    char reason[256];
    expect(k, mint("{\"alg\":\"RS256\",\"kid\":\"k1\"}", ADMIN, "RS256", rsa1, NULL, 0),
           PROFD_AUTH_OK, NULL);
    expect(k, mint("{\"alg\":\"RS256\",\"kid\":\"k2\"}", ADMIN, "RS256", rsa2, NULL, 0),
           PROFD_AUTH_OK, NULL);
    /* Right key, wrong kid: checked against k2 only. */
    expect(k, mint("{\"alg\":\"RS256\",\"kid\":\"k2\"}", ADMIN, "RS256", rsa1, NULL, 0),
           PROFD_AUTH_INVALID, NULL);
    expect(k, mint("{\"alg\":\"RS256\",\"kid\":\"k9\"}", ADMIN, "RS256", rsa1, NULL, 0),
           PROFD_AUTH_INVALID, "kid");
    expect(k, mint("{\"alg\":\"ES256\",\"kid\":\"e1\"}", ADMIN, "ES256", ec1, NULL, 0),
           PROFD_AUTH_OK, NULL);
    /* No kid: every key of the type is tried. */
    expect(k, mint("{\"alg\":\"RS256\"}", ADMIN, "RS256", rsa2, NULL, 0), PROFD_AUTH_OK, NULL);
    profd_jwt_keys_free(k);

    /* Rotation: k1 retired from the file; a fresh load refuses it. */
    char retired[300];
    snprintf(retired, sizeof retired, "%s/jwks2.json", dir);
    write_jwks(retired, false);
    k = keys(NULL, retired, NULL, NULL);
    char *t = mint("{\"alg\":\"RS256\",\"kid\":\"k1\"}", ADMIN, "RS256", rsa1, NULL, 0);
    assert_int_equal(check(k, t, reason), PROFD_AUTH_INVALID);
    /* The file changes (k1 published again): re-read on the next check, no restart. */
    write_jwks(retired, true);
    struct timespec later[2] = {{NOW + 100, 0}, {NOW + 100, 0}};
    utimensat(AT_FDCWD, retired, later, 0);
    profd_jwt_claims c;
    assert_int_equal(profd_jwt_verify(k, t, NOW + 11, &c, reason, sizeof reason), PROFD_AUTH_OK);
    /* A broken file keeps the keys it replaces. */
    FILE *f = fopen(retired, "w");
    fputs("{broken", f);
    fclose(f);
    struct timespec later2[2] = {{NOW + 200, 0}, {NOW + 200, 0}};
    utimensat(AT_FDCWD, retired, later2, 0);
    assert_int_equal(profd_jwt_verify(k, t, NOW + 22, &c, reason, sizeof reason), PROFD_AUTH_OK);
    free(t);
    profd_jwt_keys_free(k);
    unlink(retired);
}

static void test_bad_key_files(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/junk", dir);
    FILE *f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    profd_jwt_settings s = {NULL, path, NULL, NULL, "admin"};
    profd_error err;
    assert_null(profd_jwt_keys_new(&s, &err));
    assert_non_null(strstr(err.msg, "no usable key"));
    s.public_key_path = "/nonexistent/key.pem";
    assert_null(profd_jwt_keys_new(&s, &err));
    assert_non_null(strstr(err.msg, "cannot read"));
    unlink(path);
    profd_jwt_keys *k = keys(NULL, NULL, NULL, NULL);
    assert_true(profd_jwt_keys_empty(k));
    expect(k, hs(ADMIN, "s3cret"), PROFD_AUTH_INVALID, NULL);
    profd_jwt_keys_free(k);
}

/* Any change to a valid token makes it invalid (strict base64url leaves no
 * second spelling), and no input crashes the verifier. */
static void test_mutations(void **state)
{
    (void)state;
    profd_jwt_keys *k = keys("s3cret", jwks, NULL, NULL);
    char *tokens[3] = {hs(ADMIN, "s3cret"),
                       mint("{\"alg\":\"RS256\",\"kid\":\"k1\"}", ADMIN, "RS256", rsa1, NULL, 0),
                       mint("{\"alg\":\"ES256\",\"kid\":\"e1\"}", ADMIN, "ES256", ec1, NULL, 0)};
    static const char chars[] = "AZaz09-_.=+/ \x01\xff";
    char reason[256];
    profd_jwt_claims c;
    srand(7);
    for (int t = 0; t < 3; t++) {
        assert_int_equal(profd_jwt_verify(k, tokens[t], NOW, &c, reason, sizeof reason),
                         PROFD_AUTH_OK);
        size_t len = strlen(tokens[t]);
        char *m = malloc(len + 2);
        for (int i = 0; i < 3000; i++) {
            memcpy(m, tokens[t], len + 1);
            size_t at = (size_t)rand() % len;
            int op = rand() % 3;
            if (op == 0) {
                char ch = chars[rand() % (int)(sizeof chars - 1)];
                if (ch == m[at])
                    continue;
                m[at] = ch;
            } else if (op == 1) {
                memmove(m + at, m + at + 1, len - at); /* delete */
            } else {
                m[at] = '\0'; /* truncate */
            }
            assert_int_not_equal(profd_jwt_verify(k, m, NOW, &c, reason, sizeof reason),
                                 PROFD_AUTH_OK);
        }
        free(m);
        free(tokens[t]);
    }
    profd_jwt_keys_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_strict),
        cmocka_unit_test(test_hs256_ok_and_roles),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_iss_aud),
        cmocka_unit_test(test_none_and_malformed),
        cmocka_unit_test(test_header_parsing),
        cmocka_unit_test(test_rs256_pem_and_confusion),
        cmocka_unit_test(test_es256_pem),
        cmocka_unit_test(test_jwks_kid_rotation),
        cmocka_unit_test(test_bad_key_files),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
