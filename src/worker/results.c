/* results.c - what a finished capture leaves behind: rendered files in the
 * blob store, the session record, and events.
 *
 * The raw sampler output is rendered once into the three objects of the
 * storage layout (stacks.txt is the normalised input for reprocessing and
 * diffs). Files are written to the session's spool directory first and stay
 * there if the upload fails, so a finished capture is never lost. Session
 * writes retry while the store is unreachable: a Redis restart delays a
 * record, it does not drop it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "profd/log.h"
#include "profd/metrics.h"
#include "profd/render.h"

const worker_output worker_outputs[WORKER_OUTPUTS] = {
    {"stacks.txt", PROFD_FMT_COLLAPSED, "text/plain; charset=utf-8"},
    {"profile.json", PROFD_FMT_SPEEDSCOPE, "application/json"},
    {"flamegraph.html", PROFD_FMT_HTML, "text/html; charset=utf-8"},
};

int worker_render(profd_session *s, const char *input, const char *dir, int first, profd_error *err)
{
    profd_profile *p = profd_profile_new();
    if (!p) {
        profd_error_set(err, PROFD_E_SAMPLER_FAILED, "out of memory reading the samples");
        return -1;
    }
    char title[160], started[32], rate[32], samples[32] = "", pid[32];
    snprintf(title, sizeof title, "%s: %d s profile", s->service_name, s->duration_seconds);
    profd_rfc3339(s->started_at, started);
    snprintf(rate, sizeof rate, "%d Hz", s->sample_rate_hz);
    snprintf(pid, sizeof pid, "%ld", s->pid);
    const char *details[] = {"session", s->session_id, "host",    s->host, "pid",
                             pid,       "started",     started,   "rate",  rate,
                             "sampler", s->sampler,    "samples", samples, NULL};
    profd_render_opts o = {.title = title, .details = details};
    int rc = profd_profile_read_path(p, input, &o, err);
    if (rc == 0) {
        s->sample_count = (long)profd_profile_total(p);
        snprintf(samples, sizeof samples, "%ld", s->sample_count);
        char path[1400];
        for (int i = first; rc == 0 && i < WORKER_OUTPUTS; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, worker_outputs[i].file);
            rc = profd_render_path(p, worker_outputs[i].format, &o, path, err);
        }
    }
    if (rc != 0 && !err->code)
        err->code = PROFD_E_SAMPLER_FAILED;
    profd_profile_free(p);
    return rc;
}

static int upload_all(profd_worker *w, profd_session *s, const char *dir, profd_error *err)
{
    char *objects[] = {s->stacks_object, s->raw_data_object, s->flame_graph_object};
    profd_blob_meta meta = {s->session_id, s->service_name};
    char path[1400];
    for (int i = 0; i < WORKER_OUTPUTS; i++) {
        char object[256];
        snprintf(object, sizeof object, "sessions/%s/%s", s->session_id, worker_outputs[i].file);
        snprintf(path, sizeof path, "%s/%s", dir, worker_outputs[i].file);
        /* A retried session may find its own earlier upload: replace it. */
        int64_t gen = s->attempt > 1 ? PROFD_GEN_ANY : PROFD_GEN_NEW;
        if (w->blob->ops->put_file(w->blob, object, path, worker_outputs[i].content_type, &meta,
                                   gen, NULL, err) != 0) {
            if (!err->code)
                err->code = PROFD_E_UPLOAD;
            return -1;
        }
        profd_strlcpy(objects[i], object, 256);
        struct stat st;
        if (stat(path, &st) == 0)
            profd_metrics_bytes_stored((long long)st.st_size);
    }
    return 0;
}

int worker_store_results(profd_worker *w, profd_session *s, const char *raw, profd_error *err)
{
    char dir[1100];
    profd_strlcpy(dir, raw, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    if (worker_render(s, raw, dir, 0, err) != 0)
        return -1;
    return upload_all(w, s, dir, err);
}

static void fill_links(profd_worker *w, profd_session *s)
{
    profd_error err = {0};
    s->flame_graph_url[0] = s->raw_data_url[0] = '\0';
    if (s->flame_graph_object[0])
        w->blob->ops->link(w->blob, s->flame_graph_object, w->cfg->signed_url_ttl,
                           s->flame_graph_url, sizeof s->flame_graph_url, &err);
    if (s->raw_data_object[0])
        w->blob->ops->link(w->blob, s->raw_data_object, w->cfg->signed_url_ttl, s->raw_data_url,
                           sizeof s->raw_data_url, &err);
}

void worker_publish(profd_worker *w, const char *type, profd_session *s)
{
    profd_error err = {0};
    fill_links(w, s);
    char *ev = profd_event_to_string(type, s);
    if (!ev)
        return;
    if (w->bus->ops->publish(w->bus, PROFD_TOPIC_EVENTS, s->session_id, ev, strlen(ev), NULL, 0,
                             &err) != 0)
        LOG_E(s->session_id, "event.failed", "could not publish %s: %s", type, err.msg);
    free(ev);
}

int worker_put(profd_worker *w, profd_session *s)
{
    profd_error err = {0};
    int64_t give_up = profd_mono_ms() + 10 * 60 * 1000;
    bool warned = false;
    while (w->store->ops->put(w->store, s, &err) != 0) {
        if (profd_mono_ms() > give_up) {
            LOG_E(s->session_id, "store.gave_up", "could not record the session: %s", err.msg);
            return -1;
        }
        if (!warned)
            LOG_W(s->session_id, "store.retrying", "%s; retrying until the store is back", err.msg);
        warned = true;
        usleep(500 * 1000);
    }
    return 0;
}

void worker_fail(profd_worker *w, profd_session *s, const char *code, const char *msg)
{
    profd_error err = {0};
    profd_session_fail(s, code, msg);
    worker_put(w, s);
    w->store->ops->lease(w->store, s->session_id, 0, &err);
    worker_publish(w, "session.failed", s);
    profd_metrics_session_finished("failed");
    LOG_W(s->session_id, "session.failed", "%s: %s", code, msg);
}

bool worker_claim_and_fail(profd_worker *w, profd_session *s, const char *code, const char *msg)
{
    char key[128];
    profd_error err = {0};
    snprintf(key, sizeof key, CLAIM_KEY_FMT, s->session_id);
    if (w->store->ops->claim(w->store, key, w->owner, w->cfg->lease_seconds * 1000, &err) <= 0)
        return false;
    worker_fail(w, s, code, msg);
    w->store->ops->release(w->store, key, w->owner, &err);
    return true;
}
