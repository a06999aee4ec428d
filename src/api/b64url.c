/* b64url.c - base64url (RFC 4648 section 5) without padding, as JWS uses it.
 *
 * Decoding is strict on purpose: a JWT has exactly one encoding, so padding,
 * characters outside the URL alphabet, a length that cannot occur, and
 * non-zero bits left over in the last character are all rejected. Otherwise
 * two different strings would verify as the same token. */
#include <string.h>

#include "profd/api.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long profd_b64url_decode(const char *in, size_t len, unsigned char *out)
{
    if (len % 4 == 1)
        return -1;
    unsigned long acc = 0;
    int bits = 0;
    long n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = value_of((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1UL << bits) - 1;
        }
    }
    if (acc != 0) /* leftover bits must be zero */
        return -1;
    return n;
}

size_t profd_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    size_t n = 0;
    unsigned long acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[n++] = alphabet[(acc >> bits) & 63];
        }
        acc &= (1UL << bits) - 1;
    }
    if (bits > 0)
        out[n++] = alphabet[(acc << (6 - bits)) & 63];
    out[n] = '\0';
    return n;
}
