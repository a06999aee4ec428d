/* retry.h - when and how long to wait before trying a GCS request again. */
#ifndef PROFD_BLOB_RETRY_H
#define PROFD_BLOB_RETRY_H

#include <stdbool.h>
#include <stdint.h>

typedef struct profd_retry {
    int max_attempts;    /* attempts in all, >= 1 */
    int64_t deadline_ms; /* monotonic time after which no new attempt starts */
    int base_ms;         /* first backoff ceiling; doubles each attempt */
    int max_backoff_ms;  /* ceiling of one wait */
    int attempt;         /* attempts made so far */
} profd_retry;

void profd_retry_start(profd_retry *r, int max_attempts, int total_ms, int base_ms);
/* 408, 429 and 5xx, and status 0 (no response: reset, refused, timeout). */
bool profd_retry_status(long status);
/* After a failed attempt: sleep the backoff (full jitter: uniform in
 * [0, min(max_backoff, base * 2^(attempt-1))], at least Retry-After when the
 * server sent one) and return true, or return false when attempts or the
 * deadline are used up. */
bool profd_retry_wait(profd_retry *r, const char *retry_after);

#endif
