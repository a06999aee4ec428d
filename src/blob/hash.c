/* hash.c - the checksums GCS reports for an object: CRC32C and MD5.
 *
 * GCS returns both base64-encoded (crc32c big-endian). We compute them over
 * the exact bytes we send and compare with the response, so corruption in
 * transit or a wrong object is caught before a session links to it. CRC32C
 * (Castagnoli, reflected polynomial 0x82F63B78) uses a 256-entry table built
 * once; MD5 comes from OpenSSL's EVP interface. */
#include "gcs_internal.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static uint32_t table[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
}

uint32_t blob__crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&once, build);
    const unsigned char *p = data;
    crc = ~crc;
    while (len--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

void blob__hashes_init(profd_hashes *h)
{
    h->crc = 0;
    h->md5 = EVP_MD_CTX_new();
    if (h->md5)
        EVP_DigestInit_ex(h->md5, EVP_md5(), NULL);
}

void blob__hashes_update(profd_hashes *h, const void *data, size_t len)
{
    h->crc = blob__crc32c(h->crc, data, len);
    if (h->md5)
        EVP_DigestUpdate(h->md5, data, len);
}

void blob__hashes_final(profd_hashes *h, char crc_b64[16], char md5_b64[32])
{
    unsigned char be[4] = {h->crc >> 24, (h->crc >> 16) & 0xff, (h->crc >> 8) & 0xff,
                           h->crc & 0xff};
    char *c = profd_b64(be, 4, false);
    profd_strlcpy(crc_b64, c ? c : "", 16);
    free(c);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    md5_b64[0] = '\0';
    if (h->md5 && EVP_DigestFinal_ex(h->md5, d, &dl) == 1) {
        char *m = profd_b64(d, dl, false);
        profd_strlcpy(md5_b64, m ? m : "", 32);
        free(m);
    }
    EVP_MD_CTX_free(h->md5);
    h->md5 = NULL;
}
