/* file_link.c - links to objects of the file store.
 *
 * With an API base URL and a key (profd_blob_file_set_link_base), a link is
 * "{base}/api/v1/files/{object}?expires=UNIX&signature=HEX" where HEX is
 * HMAC-SHA256(key, object "\n" expires): the API serves the file to whoever
 * holds the link until it expires, without a bearer token, so a browser or
 * speedscope's #profileURL= can open it. The signature covers the decoded
 * object name and the expiry, so neither can be changed. Without a base, a
 * plain file:///path link (local use only). */
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_internal.h"

static void sign(const char *key, const char *object, const char *expires, char hex[65])
{
    char msg[2048];
    int n = snprintf(msg, sizeof msg, "%s\n%s", object, expires);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, (size_t)n, mac, &maclen);
    profd_hex(mac, maclen, hex);
}

int blob__file_link(profd_blob *b, const char *object, int ttl_s, char *out, size_t outlen,
                    profd_error *err)
{
    file_blob *fb = (file_blob *)b;
    if (!profd_blob_name_valid(object, err))
        return -1;
    int n;
    if (!fb->link_base[0] || !fb->key[0]) {
        char enc[(PATH_MAX + 1100) * 3];
        char path[PATH_MAX + 1100];
        snprintf(path, sizeof path, "%s/%s", fb->dir, object);
        if (blob__urlencode(path, true, enc, sizeof enc) != 0)
            n = -1;
        else
            n = snprintf(out, outlen, "file://%s", enc);
    } else {
        char expires[32], hex[65], enc[4096];
        snprintf(expires, sizeof expires, "%lld", (long long)(profd_now_ms() / 1000 + ttl_s));
        sign(fb->key, object, expires, hex);
        if (blob__urlencode(object, true, enc, sizeof enc) != 0)
            n = -1;
        else
            n = snprintf(out, outlen, "%s/api/v1/files/%s?expires=%s&signature=%s", fb->link_base,
                         enc, expires, hex);
    }
    if (n < 0 || (size_t)n >= outlen) {
        profd_error_set(err, NULL, "link to object %s does not fit in %zu bytes", object, outlen);
        return -1;
    }
    return 0;
}

int profd_blob_file_verify(const char *key, const char *object, const char *expires,
                           const char *signature, int64_t now_s)
{
    if (!key || !key[0] || !object || !expires || !signature || !expires[0] ||
        strlen(expires) > 18 || strlen(signature) != 64 || strlen(object) > 1024)
        return -1;
    for (const char *p = expires; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    char hex[65], given[65];
    sign(key, object, expires, hex);
    /* Hex case must not matter, and the compare must take the same time
     * wherever the first difference is. */
    for (int i = 0; i < 64; i++) {
        char c = signature[i];
        given[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
    }
    given[64] = '\0';
    if (CRYPTO_memcmp(hex, given, 64) != 0)
        return -1;
    if (strtoll(expires, NULL, 10) <= now_s)
        return -2;
    return 0;
}
