/* ratelimit.c - session starts per token subject per minute.
 *
 * A fixed window: the counter "ratelimit:{h}:{minute}" is incremented
 * with store->ops->incr (INCR + EXPIRE in Redis, so every API replica shares
 * it; the memory store under `profd serve`). The subject is hashed into the
 * key so that any string a token carries is a safe key. A fixed window can
 * let 2x the limit through around a minute boundary; for a limit meant to
 * stop runaway scripts that is acceptable, and it costs one round trip.
 * Retry-After is the time left in the current window. */
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "profd/api.h"

void profd_ratelimit_key(const char *subject, int64_t now_s, char *out, size_t len)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)subject, strlen(subject), md);
    char hex[33];
    profd_hex(md, 16, hex);
    snprintf(out, len, "ratelimit:%s:%lld", hex, (long long)(now_s / 60));
}

profd_rate_result profd_ratelimit_check(profd_store *st, const char *subject, int per_minute,
                                        int64_t now_s, int *retry_after_s, profd_error *err)
{
    char key[128];
    profd_ratelimit_key(subject, now_s, key, sizeof key);
    long n = st->ops->incr(st, key, 60, err);
    if (n < 0)
        return PROFD_RATE_ERROR;
    if (n <= per_minute)
        return PROFD_RATE_ALLOWED;
    *retry_after_s = (int)(60 - now_s % 60);
    return PROFD_RATE_LIMITED;
}
