/* base64.c - base64 (RFC 4648) in the two alphabets profd speaks, one codec.
 *
 * Encoding: the standard alphabet with padding (GCS checksums, signBlob
 * payloads) or base64url without padding (JWS, JWT). Decoding comes in two
 * strengths. Tokens are decoded strictly: a JWT has exactly one encoding, so
 * padding, characters outside the URL alphabet, a length that cannot occur
 * and non-zero bits left over in the last character are all rejected;
 * otherwise two different strings would verify as the same token. Replies
 * from Google (signBlob, Pub/Sub message data) are decoded leniently: either
 * alphabet, padding ends the data; only a character that is not base64 or a
 * lone last one (no encoder writes that) is refused. */
#include <stdlib.h>

#include "profd/util.h"

static const char standard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char urlsafe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t profd_b64_encode(const unsigned char *in, size_t len, bool url, char *out)
{
    const char *abc = url ? urlsafe : standard;
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = abc[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0);
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = abc[(v >> 6) & 63];
        else if (!url)
            out[o++] = '=';
        if (!url)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

char *profd_b64(const unsigned char *in, size_t len, bool url)
{
    char *out = malloc(len / 3 * 4 + 5);
    if (out)
        profd_b64_encode(in, len, url, out);
    return out;
}

/* A character's value; url_only: refuse '+' and '/'. -1 if not base64. */
static int value_of(unsigned char c, bool url_only)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || (c == '+' && !url_only))
        return 62;
    if (c == '_' || (c == '/' && !url_only))
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
        int v = value_of((unsigned char)in[i], true);
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

int profd_b64_decode(const char *in, unsigned char *out, size_t *outlen)
{
    unsigned v = 0;
    int bits = 0;
    size_t o = 0, n = 0;
    for (const char *p = in; *p && *p != '='; p++, n++) {
        int d = value_of((unsigned char)*p, false);
        if (d < 0)
            return -1;
        v = (v << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(v >> bits);
        }
    }
    if (n % 4 == 1) /* a lone last character carries no whole byte */
        return -1;
    *outlen = o;
    return 0;
}
