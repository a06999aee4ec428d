/* batch.h - work over many stored sessions: reprocess and cleanup
 * (docs/reprocess.md, docs/cleanup.md; src/batch/).
 *
 * Reprocess re-renders a completed session from its stored stacks.txt with the
 * current renderer and rewrites profile.json and flamegraph.html in place
 * (each put names the generation it replaces). Cleanup removes sessions older
 * than N days from the store and objects older than N days from the blob
 * store. Both are safe to run twice and to run from several places at once:
 * a claim in the store keeps two runs off the same session, and the periodic
 * cleanup inside the workers is done by whichever worker holds the "cleanup"
 * claim. The `profd reprocess` and `profd cleanup` commands drive these; the
 * worker calls them from its hooks (src/worker/hooks.c) for reprocess
 * messages and its periodic cleanup. This module knows nothing of the worker:
 * the dependency points worker -> batch only. */
#ifndef PROFD_BATCH_H
#define PROFD_BATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "blob.h"
#include "bus.h"
#include "config.h"
#include "store.h"

/* ---- selecting sessions ----------------------------------------------------------- */

typedef struct profd_id_list {
    char (*ids)[PROFD_UUID_LEN + 1];
    int64_t *created;
    int n, cap;
} profd_id_list;

/* Every id in the store's time index with min_ms <= created_at <= max_ms,
 * newest first (paged through store->ops->scan), appended to out. 0 ok, -1 error. */
PROFD_MUST_USE int profd_batch_select(profd_store *st, int64_t min_ms, int64_t max_ms,
                                      profd_id_list *out, profd_error *err);
/* Append one id. 0 ok, -1 out of memory. */
PROFD_MUST_USE int profd_id_list_add(profd_id_list *l, const char *id, int64_t created);
void profd_id_list_free(profd_id_list *l);

/* ---- reprocess -------------------------------------------------------------------- */

/* Result of profd_reprocess_one. */
typedef enum {
    PROFD_BATCH_FAILED = -1, /* err->msg says what failed; a retry may succeed */
    PROFD_BATCH_SKIPPED = 0, /* nothing to do (err->msg says why) */
    PROFD_BATCH_DONE = 1,    /* re-rendered and recorded */
} profd_batch_result;

/* Result of profd_reprocess_check. */
typedef enum {
    PROFD_REPROCESS_CHECK_FAILED = -1, /* the store failed (err->msg) */
    PROFD_REPROCESS_INELIGIBLE = 0,    /* not completed, no stacks, or gone (err->msg) */
    PROFD_REPROCESS_ELIGIBLE = 1,
} profd_reprocess_check_result;

/* Claim key prefix of a session being reprocessed ("reprocess:{id}"). */
#define PROFD_REPROCESS_CLAIM "reprocess:"

/* Re-render one stored session from its stacks.txt and rewrite its
 * profile.json and flamegraph.html; then record reprocessed_at = now and
 * renderer = "profd " PROFD_VERSION. Holds the claim "reprocess:{id}" while it
 * works, so two runs never do one session at once. Returns PROFD_BATCH_DONE,
 * PROFD_BATCH_SKIPPED (err->msg says why: not completed, no stacks, record
 * gone, claimed by another run), or PROFD_BATCH_FAILED (err->msg). */
PROFD_MUST_USE profd_batch_result profd_reprocess_one(const profd_config *cfg, profd_store *st,
                                                      profd_blob *b, const char *id,
                                                      profd_error *err);
/* Whether a session can be reprocessed (completed, with a stacks object). */
PROFD_MUST_USE profd_reprocess_check_result profd_reprocess_check(profd_store *st, const char *id,
                                                                  profd_error *err);
/* Publish one queue job {"version":1,"type":"reprocess","session_id":...}.
 * 0 ok, -1 with err. A job is not a session: nothing is recorded or announced
 * (profd_session_enqueue is for new sessions), the worker that takes it
 * updates the existing record. */
PROFD_MUST_USE int profd_reprocess_enqueue(profd_bus *bus, const char *id, profd_error *err);
/* Claim key prefix of a queued job ("reprocess-job:{delivery}/{id}"): the
 * first worker to claim a delivery runs it. */
#define PROFD_REPROCESS_JOB_CLAIM "reprocess-job:"

/* ---- cleanup ---------------------------------------------------------------------- */

typedef struct profd_cleanup_stats {
    long sessions;      /* records removed (or, dry run, that would be) */
    long stale_entries; /* index entries whose record had already expired */
    long objects;       /* blobs removed (or that would be) */
    int64_t bytes;      /* their total size */
    long failed;        /* removals that failed (logged) */
    bool partial;       /* stopped at the time budget */
} profd_cleanup_stats;

typedef struct profd_cleanup_opts {
    int days;              /* >= 1 for the command; the cutoff is now - days */
    int64_t cutoff_ms;     /* if > 0, used instead of days (tests, the worker) */
    bool dry_run;          /* remove nothing, list what would go */
    FILE *listing;         /* one line per session and object (NULL: none) */
    int64_t deadline_mono; /* stop when profd_mono_ms() passes it (0: no limit) */
} profd_cleanup_opts;

/* Remove records and index entries of sessions created before the cutoff,
 * then every object under sessions/ older than the cutoff or belonging to a
 * session removed now. 0 ok (see stats->failed), -1 when the store or the
 * blob listing failed (err). */
PROFD_MUST_USE int profd_cleanup_run(profd_store *st, profd_blob *b, const profd_cleanup_opts *o,
                                     profd_cleanup_stats *stats, profd_error *err);
/* "12 removed; objects: 36 removed (4.1 MB)" style summary into out. */
void profd_cleanup_summary(const profd_cleanup_stats *s, bool dry_run, char *out, size_t outlen);

/* Claim key of the periodic cleanup. */
#define PROFD_CLEANUP_CLAIM "cleanup"

#endif
