/* cleanup.c - remove old sessions: store records, index entries and blobs.
 *
 * Records carry a TTL, so Redis forgets them by itself, but their blobs have
 * no TTL and would stay forever. Cleanup therefore works from both ends:
 *   1. every session created before the cutoff (the store's time index) is
 *      removed with its index entries; entries whose record already expired
 *      are dropped too;
 *   2. the blob store is listed under sessions/ and every object older than
 *      the cutoff goes, as do the objects of the sessions removed in step 1
 *      (a reprocessed session's files are newer than its record), so blobs
 *      whose records expired long ago go as well.
 * Listing comes first and removal second (the GCS listing pages by name, the
 * file listing is a snapshot anyway). A dry run walks the same path and
 * removes nothing. A time budget lets the periodic run inside a worker stop
 * early; the next run carries on where it stopped, since nothing is
 * remembered between runs.
 *
 * Periodic cleanup is the worker's hook (src/worker/hooks.c): it decides
 * when, under the store claim PROFD_CLEANUP_CLAIM, and calls
 * profd_cleanup_run with a time budget. Object names follow the session
 * layout (session.h): everything lives under PROFD_OBJECT_PREFIX. */
#include <stdlib.h>
#include <string.h>

#include "profd/batch.h"
#include "profd/log.h"

#define DAY_MS (86400LL * 1000)

typedef struct object {
    char *name;
    int64_t mtime_ms, size;
} object;

typedef struct objects {
    object *v;
    size_t n, cap;
    int64_t deadline;
    bool partial, oom;
} objects;

static bool over(int64_t deadline)
{
    return deadline > 0 && profd_mono_ms() > deadline;
}

static int collect(const char *name, int64_t mtime_ms, int64_t size, void *arg)
{
    objects *os = arg;
    if (over(os->deadline)) {
        os->partial = true;
        return 1;
    }
    if (os->n == os->cap) {
        size_t cap = os->cap ? os->cap * 2 : 256;
        object *v = realloc(os->v, cap * sizeof *v);
        if (!v) {
            os->oom = true;
            return 1;
        }
        os->v = v;
        os->cap = cap;
    }
    object *o = &os->v[os->n];
    if (!(o->name = strdup(name))) {
        os->oom = true;
        return 1;
    }
    o->mtime_ms = mtime_ms;
    o->size = size;
    os->n++;
    return 0;
}

static void objects_free(objects *os)
{
    for (size_t i = 0; i < os->n; i++)
        free(os->v[i].name);
    free(os->v);
}

static int by_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Is "sessions/{id}/..." one of the (sorted) removed ids? */
static bool of_removed(const char *name, const profd_id_list *gone)
{
    char key[PROFD_UUID_LEN + 1];
    if (gone->n == 0 || !profd_session_object_id(name, key))
        return false;
    return bsearch(key, gone->ids, (size_t)gone->n, sizeof *gone->ids, by_id) != NULL;
}

static void list_line(const profd_cleanup_opts *o, const char *fmt, const char *what, int64_t ms,
                      int64_t size)
{
    if (!o->listing)
        return;
    char at[32];
    profd_rfc3339(ms, at);
    fprintf(o->listing, fmt, what, at, (long long)size);
}

/* Step 1. Ids handled (removed, or found expired) are added to gone. */
static int remove_sessions(profd_store *st, const profd_cleanup_opts *o, int64_t cutoff,
                           profd_cleanup_stats *stats, profd_id_list *gone, profd_error *err)
{
    profd_id_list old = {0};
    if (profd_batch_select(st, INT64_MIN, cutoff - 1, &old, err) != 0) {
        profd_id_list_free(&old);
        return -1;
    }
    for (int i = 0; i < old.n; i++) {
        if (over(o->deadline_mono)) {
            stats->partial = true;
            break;
        }
        const char *id = old.ids[i];
        profd_error e = {0};
        profd_session s;
        profd_lookup_result rc =
            o->dry_run ? st->ops->get(st, id, &s, &e) : st->ops->remove(st, id, &e);
        if (o->dry_run)
            profd_session_free(&s);
        if (rc == PROFD_LOOKUP_ERROR) {
            LOG_W(id, "cleanup.failed", "cannot remove the session: %s", e.msg);
            stats->failed++;
            continue;
        }
        if (rc == PROFD_LOOKUP_FOUND)
            stats->sessions++;
        else
            stats->stale_entries++;
        list_line(o,
                  rc == PROFD_LOOKUP_FOUND ? "session %s created %s\n"
                                           : "index entry %s (record expired), created %s\n",
                  id, old.created[i], 0);
        if (profd_id_list_add(gone, id, old.created[i]) != 0) {
            profd_id_list_free(&old);
            profd_error_set(err, NULL, "out of memory");
            return -1;
        }
    }
    profd_id_list_free(&old);
    if (gone->n > 1)
        qsort(gone->ids, (size_t)gone->n, sizeof *gone->ids, by_id);
    return 0;
}

/* Step 2. */
static int remove_objects(profd_blob *b, const profd_cleanup_opts *o, int64_t cutoff,
                          const profd_id_list *gone, profd_cleanup_stats *stats, profd_error *err)
{
    objects os = {.deadline = o->deadline_mono};
    if (b->ops->list(b, PROFD_OBJECT_PREFIX, collect, &os, err) != 0 || os.oom) {
        if (os.oom)
            profd_error_set(err, NULL, "out of memory listing the blob store");
        objects_free(&os);
        return -1;
    }
    stats->partial |= os.partial;
    for (size_t i = 0; i < os.n; i++) {
        object *ob = &os.v[i];
        if (!(ob->mtime_ms < cutoff || of_removed(ob->name, gone)))
            continue;
        if (over(o->deadline_mono)) {
            stats->partial = true;
            break;
        }
        profd_error e = {0};
        if (!o->dry_run && b->ops->remove(b, ob->name, &e) != 0) {
            LOG_W(NULL, "cleanup.failed", "cannot remove %s: %s", ob->name, e.msg);
            stats->failed++;
            continue;
        }
        stats->objects++;
        stats->bytes += ob->size;
        list_line(o, "object %s modified %s (%lld bytes)\n", ob->name, ob->mtime_ms, ob->size);
    }
    objects_free(&os);
    return 0;
}

int profd_cleanup_run(profd_store *st, profd_blob *b, const profd_cleanup_opts *o,
                      profd_cleanup_stats *stats, profd_error *err)
{
    memset(stats, 0, sizeof *stats);
    int64_t cutoff = o->cutoff_ms > 0 ? o->cutoff_ms : profd_now_ms() - (int64_t)o->days * DAY_MS;
    profd_id_list gone = {0};
    int rc = remove_sessions(st, o, cutoff, stats, &gone, err);
    if (rc == 0)
        rc = remove_objects(b, o, cutoff, &gone, stats, err);
    profd_id_list_free(&gone);
    return rc;
}

static void human(int64_t bytes, char *out, size_t len)
{
    const char *units[] = {"bytes", "kB", "MB", "GB", "TB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(out, len, "%lld bytes", (long long)bytes);
    else
        snprintf(out, len, "%.1f %s", v, units[u]);
}

void profd_cleanup_summary(const profd_cleanup_stats *s, bool dry_run, char *out, size_t outlen)
{
    const char *verb = dry_run ? "would be removed" : "removed";
    char size[32], stale[64] = "", failed[48] = "";
    human(s->bytes, size, sizeof size);
    if (s->stale_entries)
        snprintf(stale, sizeof stale, " (and %ld index entries of expired records)",
                 s->stale_entries);
    if (s->failed)
        snprintf(failed, sizeof failed, "; %ld removals failed", s->failed);
    snprintf(out, outlen, "sessions: %ld %s%s; objects: %ld %s (%s)%s%s", s->sessions, verb, stale,
             s->objects, verb, size, failed,
             s->partial ? "; stopped at the time budget, the next run continues" : "");
}
