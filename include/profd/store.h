/* store.h - the session store: records with a TTL, newest-first indexes, and
 * expiring claims.
 *
 * Claims are the one coordination primitive: a key owned by one holder until it
 * expires. The worker uses them for the per-session lease, the per-target lock,
 * the once-only DLQ publish and the sweeper; the API for idempotency keys.
 * Redis (hiredis) is the real implementation, memory serves tests and serve. */
#ifndef PROFD_STORE_H
#define PROFD_STORE_H

#include <stdint.h>

#include "config.h"
#include "session.h"

typedef struct profd_store profd_store;

typedef struct profd_list_filter {
    const char *service; /* NULL: any */
    int status;          /* -1: any, else profd_status */
    int limit;           /* 1..100 */
} profd_list_filter;

/* Results of the operations that end more than two ways. The values are
 * fixed (error -1, the "no" case 0, the "yes" case 1), so `rc < 0` reads as
 * "failed" for all of them; compare with the names. */
typedef enum {
    PROFD_CREATE_ERROR = -1,
    PROFD_CREATE_EXISTS = 0, /* the id was taken: nothing changed */
    PROFD_CREATE_DONE = 1,
} profd_create_result;
typedef enum {
    PROFD_LOOKUP_ERROR = -1,
    PROFD_LOOKUP_ABSENT = 0,
    PROFD_LOOKUP_FOUND = 1,
} profd_lookup_result; /* get and remove */
typedef enum {
    PROFD_CLAIM_ERROR = -1,
    PROFD_CLAIM_HELD = 0, /* another owner holds it */
    PROFD_CLAIM_WON = 1,  /* ours now (or already ours) */
} profd_claim_result;
typedef enum {
    PROFD_RENEW_ERROR = -1,
    PROFD_RENEW_LOST = 0,    /* another owner holds it now */
    PROFD_RENEW_KEPT = 1,    /* extended */
    PROFD_RENEW_RETAKEN = 2, /* the key was gone (the store lost data) and is ours again */
} profd_renew_result;

typedef struct profd_store_ops {
    /* Create the record if absent (index it by time, service, status). */
    PROFD_MUST_USE profd_create_result (*create)(profd_store *st, const profd_session *s,
                                                 profd_error *err);
    /* out is initialised whatever the result; profd_session_free it. */
    PROFD_MUST_USE profd_lookup_result (*get)(profd_store *st, const char *id, profd_session *out,
                                              profd_error *err);
    /* Overwrite the record and move its status index entry; TTL restarts. 0 ok, -1 error. */
    PROFD_MUST_USE int (*put)(profd_store *st, const profd_session *s, profd_error *err);
    /* Newest first. Returns n (>= 0) sessions written to out (caller frees each), -1 error. */
    int (*list)(profd_store *st, const profd_list_filter *f, profd_session *out, int max,
                profd_error *err);
    /* Claim key for owner for ttl_ms if free (or already owner's). */
    PROFD_MUST_USE profd_claim_result (*claim)(profd_store *st, const char *key, const char *owner,
                                               int ttl_ms, profd_error *err);
    /* Extend owner's claim by ttl_ms. */
    PROFD_MUST_USE profd_renew_result (*renew)(profd_store *st, const char *key, const char *owner,
                                               int ttl_ms, profd_error *err);
    /* Delete the claim if owner holds it. 0 ok, -1 error. */
    int (*release)(profd_store *st, const char *key, const char *owner, profd_error *err);
    /* Running-session lease index: deadline_ms = 0 removes the session. 0 ok, -1 error (the
     * sweeper then sees a stale deadline: a lease the owner failed to move is retried or
     * failed as worker_lost, so the caller must at least log it). */
    PROFD_MUST_USE int (*lease)(profd_store *st, const char *id, int64_t deadline_ms,
                                profd_error *err);
    /* Ids in the lease index whose deadline is before now_ms; returns n, -1 error. */
    int (*expired)(profd_store *st, int64_t now_ms, char (*ids)[PROFD_UUID_LEN + 1], int max,
                   profd_error *err);
    /* Ids of queued sessions created before before_ms (oldest first); n or -1. */
    int (*queued_before)(profd_store *st, int64_t before_ms, char (*ids)[PROFD_UUID_LEN + 1],
                         int max, profd_error *err);
    /* Atomic counter in a window: returns the count after increment, -1 error. */
    long (*incr)(profd_store *st, const char *key, int window_s, profd_error *err);
    /* Delete a record and its index entries (FOUND: it was there). */
    PROFD_MUST_USE profd_lookup_result (*remove)(profd_store *st, const char *id, profd_error *err);
    int (*ping)(profd_store *st, profd_error *err);
    void (*close)(profd_store *st);
    /* Page through the time index (every session, by created_at), newest first:
     * ids with min_ms <= created_at <= max_ms, after skipping the first skip of
     * them; each one's created_at in created[] (may be NULL). The index may
     * name records that have already expired (get says 0; remove drops the
     * entry). Returns n (>= 0), -1 error. For batch jobs: reprocess, cleanup. */
    int (*scan)(profd_store *st, int64_t min_ms, int64_t max_ms, int skip,
                char (*ids)[PROFD_UUID_LEN + 1], int64_t *created, int max, profd_error *err);
} profd_store_ops;

struct profd_store {
    const profd_store_ops *ops;
    int ttl_seconds;
};

/* From cfg->redis_url; "memory" (or an empty URL) gives the memory store. */
profd_store *profd_store_open(const profd_config *cfg, profd_error *err);
profd_store *profd_store_redis_open(const char *url, int ttl_seconds, profd_error *err);
/* The same, with the TLS files of a rediss:// URL (PROFD_REDIS_CA, _CERT,
 * _KEY; NULL or "": system CA store, no client certificate). Ignored for
 * redis:// URLs. docs/reliability.md, "Redis over TLS". */
profd_store *profd_store_redis_open_tls(const char *url, int ttl_seconds, const char *ca,
                                        const char *cert, const char *key, profd_error *err);
profd_store *profd_store_memory_open(int ttl_seconds);

#endif
