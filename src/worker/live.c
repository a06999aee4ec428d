/* live.c - the worker's share of the live view (docs/console.md): while a
 * capture runs, upload the sampler's partial stacks and count its samples.
 *
 * The built-in sampler, given --live (capture.c passes it), rewrites
 * "<raw>.live" every second (src/sampler/builtin/live.c); py-spy writes nothing until the end, so
 * with py-spy this does nothing and the console shows progress only. Every WORKER_LIVE_PERIOD_MS (a
 * stat, so it can be often: a snapshot goes out within half a second of being written) the job
 * thread looks at the file; when it changed, it uploads it as sessions/{id}/live.txt (overwriting
 * the previous snapshot) and puts the samples it holds into the record's sample_count, with one
 * store write and no retry: a missed update is replaced by the next one a second later, and the job
 * thread must get back to renewing its lease and watching for cancels. The
 * object is removed when the capture ends: from then on the stored stacks.txt
 * is the picture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "profd/log.h"

#define WORKER_LIVE_PERIOD_MS 500

void worker__live_tick(job *j, const char *raw, worker_live *l)
{
    int64_t now = profd_mono_ms();
    if (now < l->next_mono)
        return;
    l->next_mono = now + WORKER_LIVE_PERIOD_MS;
    char path[1300], object[256];
    snprintf(path, sizeof path, "%s.live", raw);
    struct stat st;
    if (stat(path, &st) != 0)
        return;
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    if (mt == l->mtime_ns && st.st_size == l->size)
        return;
    /* One snapshot: the sampler renames a new file over this name, so ours stays whole. */
    char snap[1400];
    snprintf(snap, sizeof snap, "%s.upload", path);
    if (rename(path, snap) != 0)
        return;
    l->mtime_ns = mt;
    l->size = st.st_size;
    profd_worker *w = j->w;
    profd_error err = {0};
    long n = profd_sampler_count_samples(snap);
    if (profd_session_object(j->s.session_id, "live.txt", object, sizeof object) == 0 &&
        w->blob->ops->put_file(w->blob, object, snap, "text/plain; charset=utf-8", NULL,
                               PROFD_GEN_ANY, NULL, &err) == 0) {
        l->uploaded = true;
        if (n >= 0) {
            j->s.sample_count = n;
            if (w->store->ops->put(w->store, &j->s, &err) != 0)
                LOG_D(j->s.session_id, "live.record_failed", "%s", err.msg);
        }
    } else {
        LOG_D(j->s.session_id, "live.upload_failed", "%s", err.msg);
    }
    remove(snap);
}

void worker__live_end(job *j, worker_live *l)
{
    char object[256];
    profd_error err = {0};
    if (!l->uploaded ||
        profd_session_object(j->s.session_id, "live.txt", object, sizeof object) != 0)
        return;
    if (j->w->blob->ops->remove(j->w->blob, object, &err) != 0)
        LOG_D(j->s.session_id, "live.remove_failed", "%s", err.msg);
}
