/* retry.c - exponential backoff with full jitter, bounded twice.
 *
 * Google's guidance for Cloud Storage: retry 408, 429, 5xx and connection
 * errors, but only for requests that are idempotent (reads always; writes
 * only when a precondition such as ifGenerationMatch makes a repeat
 * harmless; the callers decide that). Waits grow exponentially and are
 * drawn uniformly from [0, ceiling] ("full jitter") so that many clients
 * failing together do not retry together. A Retry-After from the server is a
 * floor. Two bounds stop a retry loop: a number of attempts and a total
 * deadline; a wait that would end past the deadline is not started. */
#include "blob/retry.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <time.h>

#include "profd/util.h"

void profd_retry_start(profd_retry *r, int max_attempts, int total_ms, int base_ms)
{
    r->max_attempts = max_attempts < 1 ? 1 : max_attempts;
    r->deadline_ms = profd_mono_ms() + total_ms;
    r->base_ms = base_ms < 1 ? 1 : base_ms;
    r->max_backoff_ms = 32000;
    r->attempt = 0;
}

bool profd_retry_status(long status)
{
    return status == 0 || status == 408 || status == 429 || (status >= 500 && status <= 599);
}

static int64_t jitter(int64_t ceiling)
{
    uint64_t v = 0;
    if (ceiling <= 0)
        return 0;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
        v = (uint64_t)rand();
    return (int64_t)(v % (uint64_t)(ceiling + 1));
}

bool profd_retry_wait(profd_retry *r, const char *retry_after)
{
    if (r->attempt >= r->max_attempts)
        return false;
    int64_t ceiling = r->base_ms;
    for (int i = 1; i < r->attempt && ceiling < r->max_backoff_ms; i++)
        ceiling *= 2;
    if (ceiling > r->max_backoff_ms)
        ceiling = r->max_backoff_ms;
    int64_t wait = jitter(ceiling);
    if (retry_after && retry_after[0]) {
        /* Seconds only; an HTTP-date is rare from GCS and treated as 1 s. */
        char *end;
        long s = strtol(retry_after, &end, 10);
        int64_t floor_ms = (end != retry_after && *end == '\0' && s >= 0) ? s * 1000 : 1000;
        if (wait < floor_ms)
            wait = floor_ms;
    }
    if (profd_mono_ms() + wait >= r->deadline_ms)
        return false;
    struct timespec ts = {wait / 1000, (wait % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return true;
}
