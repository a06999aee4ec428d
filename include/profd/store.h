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

typedef struct profd_store_ops {
    /* Create the record if absent (index it by time, service, status). 1 created, 0 existed
     * (nothing changed), -1 error. */
    int (*create)(profd_store *st, const profd_session *s, profd_error *err);
    /* 1 found, 0 not found, -1 error. out must be profd_session_free'd. */
    int (*get)(profd_store *st, const char *id, profd_session *out, profd_error *err);
    /* Overwrite the record and move its status index entry; TTL restarts. 0 ok, -1 error. */
    int (*put)(profd_store *st, const profd_session *s, profd_error *err);
    /* Newest first. Returns n (>= 0) sessions written to out (caller frees each), -1 error. */
    int (*list)(profd_store *st, const profd_list_filter *f, profd_session *out, int max,
                profd_error *err);
    /* Claim key for owner for ttl_ms if free (or already owner's). 1 won, 0 held by another. */
    int (*claim)(profd_store *st, const char *key, const char *owner, int ttl_ms, profd_error *err);
    /* Extend owner's claim. 1 extended, 0 held by another, 2 key was gone and is retaken. */
    int (*renew)(profd_store *st, const char *key, const char *owner, int ttl_ms, profd_error *err);
    /* Delete the claim if owner holds it. 0 ok, -1 error. */
    int (*release)(profd_store *st, const char *key, const char *owner, profd_error *err);
    /* Running-session lease index: deadline_ms = 0 removes the session. */
    int (*lease)(profd_store *st, const char *id, int64_t deadline_ms, profd_error *err);
    /* Ids in the lease index whose deadline is before now_ms; returns n, -1 error. */
    int (*expired)(profd_store *st, int64_t now_ms, char (*ids)[PROFD_UUID_LEN + 1], int max,
                   profd_error *err);
    /* Ids of queued sessions created before before_ms (oldest first); n or -1. */
    int (*queued_before)(profd_store *st, int64_t before_ms, char (*ids)[PROFD_UUID_LEN + 1],
                         int max, profd_error *err);
    /* Atomic counter in a window: returns the count after increment, -1 error. */
    long (*incr)(profd_store *st, const char *key, int window_s, profd_error *err);
    /* Delete a record and its index entries. 1 deleted, 0 absent, -1 error. */
    int (*remove)(profd_store *st, const char *id, profd_error *err);
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
