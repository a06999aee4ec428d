/* auth.c - the webhook secret, in the three places senders can put it.
 *
 * Alertmanager's http_config can send a bearer token or basic auth; Cloud
 * Monitoring webhooks cannot set headers, only basic auth or a URL, hence
 * `?auth_token=`. Each candidate is hashed with SHA-256 and compared to the
 * hash of PROFD_ALERT_TOKEN with CRYPTO_memcmp: equal-length digests make the
 * comparison constant-time whatever the candidate's length. An empty
 * configured token matches nothing (the API answers 503 before asking). */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "profd/alert.h"

static bool same_secret(const char *token, const char *candidate, size_t len)
{
    unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), a);
    SHA256((const unsigned char *)candidate, len, b);
    return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

static const char *after_scheme(const char *h, const char *scheme)
{
    size_t n = strlen(scheme);
    if (strncasecmp(h, scheme, n) != 0 || h[n] != ' ')
        return NULL;
    h += n;
    while (*h == ' ')
        h++;
    return h;
}

/* "Basic b64(user:password)": the password matches. */
static bool basic_ok(const char *token, const char *b64)
{
    size_t n = strlen(b64);
    while (n && b64[n - 1] == ' ')
        n--;
    if (n == 0 || n % 4 != 0 || n > 4096)
        return false;
    unsigned char *out = malloc(n / 4 * 3 + 1);
    if (!out)
        return false;
    int len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
    bool ok = false;
    if (len >= 0) {
        for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
            len--;
        const unsigned char *colon = len > 0 ? memchr(out, ':', (size_t)len) : NULL;
        if (colon) {
            size_t plen = (size_t)len - (size_t)(colon + 1 - out);
            ok = same_secret(token, (const char *)colon + 1, plen);
        }
    }
    OPENSSL_cleanse(out, n / 4 * 3 + 1);
    free(out);
    return ok;
}

bool profd_alert_token_ok(const char *token, const char *authorization, const char *query_token)
{
    if (!token || !*token)
        return false;
    bool ok = false;
    if (query_token && *query_token)
        ok = same_secret(token, query_token, strlen(query_token));
    if (!ok && authorization) {
        const char *v;
        if ((v = after_scheme(authorization, "Bearer")) != NULL && *v)
            ok = same_secret(token, v, strlen(v));
        else if ((v = after_scheme(authorization, "Basic")) != NULL)
            ok = basic_ok(token, v);
    }
    return ok;
}
