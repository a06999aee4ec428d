/* links.c - the key and base URL of file:// links made by the API.
 *
 * With a file blob store, session links point back at this API
 * (/api/v1/files/...) and carry an HMAC signature. The key must be the same
 * in every API replica that may receive the link, and must not be the JWT
 * secret itself: it is derived from it (HMAC-SHA256 of a fixed label under
 * PROFD_JWT_SECRET), so replicas sharing a secret share links too. Without a
 * secret (public-key tokens, or `profd serve`'s generated secret being
 * per-process anyway) a random per-process key is used: links then die with
 * the process, which their short lifetime makes acceptable. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "profd/api.h"

void profd_api_link_key(const profd_config *cfg, char *out, size_t len)
{
    unsigned char key[32];
    unsigned int n = sizeof key;
    static const char label[] = "profd file links v1";
    if (cfg->jwt_secret[0])
        HMAC(EVP_sha256(), cfg->jwt_secret, (int)strlen(cfg->jwt_secret),
             (const unsigned char *)label, sizeof label - 1, key, &n);
    else
        RAND_bytes(key, sizeof key);
    out[0] = '\0';
    if (len > 0)
        profd_hex(key, n < (len - 1) / 2 ? n : (len - 1) / 2, out);
}

void profd_api_base_url(const char *listen, int port, char *out, size_t len)
{
    char host[256] = "127.0.0.1";
    const char *colon = strrchr(listen, ':');
    size_t hl = colon ? (size_t)(colon - listen) : 0;
    if (hl > 0 && hl < sizeof host) {
        memcpy(host, listen, hl);
        host[hl] = '\0';
    }
    /* A wildcard address is no place to send a browser. */
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0 || strcmp(host, "::") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    snprintf(out, len, "http://%s:%d", host, port);
}
