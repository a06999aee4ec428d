/* results.c - what a finished capture leaves behind: rendered files in the
 * blob store, the session record, and events.
 *
 * The raw sampler output is rendered once into the artefacts of the storage
 * layout (profd_artifacts in session.h; stacks.txt is the normalised input
 * for reprocessing and diffs) by profd_session_render, the same function
 * reprocess uses. Files are written to the session's spool directory first
 * and stay there if the upload fails, so a finished capture is never lost;
 * the objects already uploaded by a failed upload are removed again, so the
 * bucket never holds a part of a failed session.
 * Session writes retry while the store is unreachable: a Redis restart delays
 * a record, it does not drop it. When a write finally gives up, the lease
 * entry is left in place so the sweeper, not silence, decides the session's
 * fate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "profd/log.h"
#include "profd/metrics.h"

/* A failed upload takes back the objects this call already stored, so a
 * failed session leaves no stacks.txt or profile.json behind in the bucket
 * (the spool keeps the capture). A removal that fails is logged by name. */
static void take_back(profd_worker *w, profd_session *s, int n)
{
    for (int i = 0; i < n; i++) {
        char *object = profd_session_artifact_object(s, i);
        profd_error err = {0};
        if (object[0] && w->blob->ops->remove(w->blob, object, &err) != 0)
            LOG_W(s->session_id, "upload.orphan", "could not remove %s after the failed upload: %s",
                  object, err.msg);
        object[0] = '\0';
    }
}

static int upload_all(profd_worker *w, profd_session *s, const char *dir, profd_error *err)
{
    profd_blob_meta meta = {s->session_id, s->service_name};
    char path[1400];
    for (int i = 0; i < PROFD_ARTIFACTS; i++) {
        const profd_artifact *a = &profd_artifacts[i];
        char object[256];
        if (profd_session_object(s->session_id, a->file, object, sizeof object) != 0) {
            profd_error_set(err, PROFD_E_UPLOAD, "object name too long for %s", a->file);
            return -1;
        }
        snprintf(path, sizeof path, "%s/%s", dir, a->file);
        /* A retried session may find its own earlier upload: replace it. */
        int64_t gen = s->attempt > 1 ? PROFD_GEN_ANY : PROFD_GEN_NEW;
        if (w->blob->ops->put_file(w->blob, object, path, a->content_type, &meta, gen, NULL, err) !=
            0) {
            if (!err->code)
                err->code = PROFD_E_UPLOAD;
            take_back(w, s, i);
            return -1;
        }
        profd_strlcpy(profd_session_artifact_object(s, i), object, 256);
        struct stat st;
        if (stat(path, &st) == 0)
            profd_metrics_bytes_stored((long long)st.st_size);
    }
    return 0;
}

int worker__store_results(profd_worker *w, profd_session *s, const char *raw, profd_error *err)
{
    char dir[1100];
    profd_strlcpy(dir, raw, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    if (profd_session_render(s, raw, dir, PROFD_ART_STACKS, err) != 0)
        return -1;
    return upload_all(w, s, dir, err);
}

void worker__publish(profd_worker *w, const char *type, profd_session *s)
{
    profd_error err = {0};
    profd_session_links(w->blob, w->cfg->signed_url_ttl, s);
    char *ev = profd_event_to_string(type, s);
    if (!ev)
        return;
    if (w->bus->ops->publish(w->bus, PROFD_TOPIC_EVENTS, s->session_id, ev, strlen(ev), NULL, 0,
                             &err) != 0)
        LOG_E(s->session_id, "event.failed", "could not publish %s: %s", type, err.msg);
    free(ev);
}

int worker__put(profd_worker *w, profd_session *s)
{
    profd_error err = {0};
    int64_t give_up = profd_mono_ms() + WORKER_PUT_GIVE_UP_MS;
    bool warned = false;
    while (w->store->ops->put(w->store, s, &err) != 0) {
        if (profd_mono_ms() > give_up) {
            LOG_E(s->session_id, "store.gave_up", "could not record the session: %s", err.msg);
            return -1;
        }
        if (!warned)
            LOG_W(s->session_id, "store.retrying", "%s; retrying for up to %d min", err.msg,
                  WORKER_PUT_GIVE_UP_MS / 60000);
        warned = true;
        usleep(500 * 1000);
    }
    return 0;
}

void worker__lease(profd_worker *w, const char *sid, int64_t deadline_ms)
{
    profd_error err = {0};
    if (w->store->ops->lease(w->store, sid, deadline_ms, &err) != 0)
        LOG_W(sid, "lease.index_failed", "cannot %s the lease entry: %s (the sweeper will see it)",
              deadline_ms ? "move" : "drop", err.msg);
}

void worker__release(profd_worker *w, const char *key, const char *sid)
{
    profd_error err = {0};
    if (w->store->ops->release(w->store, key, w->owner, &err) != 0)
        LOG_D(sid, "claim.release_failed", "%s: %s (it expires by itself)", key, err.msg);
}

void worker__fail(profd_worker *w, profd_session *s, const char *code, const char *msg)
{
    profd_session_fail(s, code, msg);
    /* Unrecorded: keep the lease entry, so the sweeper fails it again later. */
    if (worker__put(w, s) == 0)
        worker__lease(w, s->session_id, 0);
    worker__publish(w, "session.failed", s);
    profd_metrics_session_finished("failed");
    LOG_W(s->session_id, "session.failed", "%s: %s", code, msg);
}

bool worker__claim_and_fail(profd_worker *w, profd_session *s, const char *code, const char *msg)
{
    char key[128];
    profd_error err = {0};
    snprintf(key, sizeof key, CLAIM_KEY_FMT, s->session_id);
    if (w->store->ops->claim(w->store, key, w->owner, w->cfg->lease_seconds * 1000, &err) !=
        PROFD_CLAIM_WON)
        return false;
    worker__fail(w, s, code, msg);
    worker__release(w, key, s->session_id);
    return true;
}
