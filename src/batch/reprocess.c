/* reprocess.c - re-render stored sessions with the current renderer.
 *
 * A completed session keeps its collapsed stacks (sessions/{id}/stacks.txt),
 * the renderer's whole input, so a better renderer can be applied to old
 * captures without the target: download stacks.txt, render profile.json and
 * flamegraph.html into a temporary directory, and put each one back naming
 * the generation it replaces (blob.h: a rewrite must never clobber a newer
 * write it did not see). The record then gets
 * reprocessed_at = now and renderer = "profd VERSION".
 *
 * Safe to repeat and to run concurrently: the same stacks give the same
 * files, and the claim "reprocess:{id}" keeps two runs (two workers, or a
 * worker and `profd reprocess --local`) off one session at a time. A queue job
 * is done once across the workers: with Kafka every worker reads every
 * request, so the first to claim the delivery ("reprocess-job:{delivery}")
 * does it and the others acknowledge and move on; that claim is the worker's
 * hook (src/worker/hooks.c), this file only publishes jobs.
 *
 * The files and their object names come from the session's storage layout
 * (profd_artifacts, session.h) and the rendering is the capture's own
 * (profd_session_render, lifecycle.h), so a reprocessed session has exactly
 * the files a fresh capture has.
 *
 * Selecting sessions (profd_batch_select) pages through the store's time
 * index newest first. Several sessions can share a created_at millisecond,
 * so a page ends on a score, and the next page starts at that same score
 * skipping the ids already seen there: no id is lost or repeated at a page
 * boundary. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profd/batch.h"
#include "profd/lifecycle.h"
#include "profd/log.h"

#define PAGE 500
#define CLAIM_TTL_MS (10 * 60 * 1000)

/* ---- id lists and selection -------------------------------------------------------- */

int profd_id_list_add(profd_id_list *l, const char *id, int64_t created)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        void *ids = realloc(l->ids, (size_t)cap * sizeof *l->ids);
        if (!ids)
            return -1;
        l->ids = ids;
        int64_t *cr = realloc(l->created, (size_t)cap * sizeof *l->created);
        if (!cr)
            return -1;
        l->created = cr;
        l->cap = cap;
    }
    profd_strlcpy(l->ids[l->n], id, PROFD_UUID_LEN + 1);
    l->created[l->n++] = created;
    return 0;
}

void profd_id_list_free(profd_id_list *l)
{
    free(l->ids);
    free(l->created);
    memset(l, 0, sizeof *l);
}

int profd_batch_select(profd_store *st, int64_t min_ms, int64_t max_ms, profd_id_list *out,
                       profd_error *err)
{
    char(*ids)[PROFD_UUID_LEN + 1] = malloc(PAGE * sizeof *ids);
    int64_t *created = malloc(PAGE * sizeof *created);
    int skip = 0, rc = 0;
    while (ids && created) {
        int n = st->ops->scan(st, min_ms, max_ms, skip, ids, created, PAGE, err);
        if (n < 0) {
            rc = -1;
            break;
        }
        for (int i = 0; i < n; i++)
            if (profd_id_list_add(out, ids[i], created[i]) != 0)
                goto oom;
        if (n < PAGE)
            break;
        /* Next page: from the last score, past the ids already taken there. */
        int64_t last = created[n - 1];
        int same = 0;
        while (same < n && created[n - 1 - same] == last)
            same++;
        skip = last == max_ms ? skip + same : same;
        max_ms = last;
    }
    if (!ids || !created)
        goto oom;
    free(ids);
    free(created);
    return rc;
oom:
    free(ids);
    free(created);
    profd_error_set(err, NULL, "out of memory listing sessions");
    return -1;
}

/* ---- one session ------------------------------------------------------------------- */

/* Completed, with a stacks object; else false with the reason in err. */
static bool eligible(const profd_session *s, profd_error *err)
{
    if (s->status != PROFD_COMPLETED) {
        profd_error_set(err, NULL, "not completed (%s)", profd_status_name(s->status));
        return false;
    }
    if (!s->stacks_object[0]) {
        profd_error_set(err, NULL, "no %s stored", profd_artifacts[PROFD_ART_STACKS].file);
        return false;
    }
    return true;
}

profd_reprocess_check_result profd_reprocess_check(profd_store *st, const char *id,
                                                   profd_error *err)
{
    profd_session s;
    profd_reprocess_check_result rc = PROFD_REPROCESS_INELIGIBLE;
    switch (st->ops->get(st, id, &s, err)) {
    case PROFD_LOOKUP_ERROR:
        rc = PROFD_REPROCESS_CHECK_FAILED;
        break;
    case PROFD_LOOKUP_ABSENT:
        profd_error_set(err, NULL, "record gone (expired or removed)");
        break;
    case PROFD_LOOKUP_FOUND:
        rc = eligible(&s, err) ? PROFD_REPROCESS_ELIGIBLE : PROFD_REPROCESS_INELIGIBLE;
        break;
    }
    profd_session_free(&s);
    return rc;
}

/* The capture's own rendering, from the stored stacks: every artefact but
 * stacks.txt itself. */
static int render(profd_session *s, const char *dir, profd_error *err)
{
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, profd_artifacts[PROFD_ART_STACKS].file);
    return profd_session_render(s, path, dir, PROFD_ART_STACKS + 1, err);
}

/* Put one file back over the generation it replaces (new if absent). */
static int rewrite(profd_blob *b, const profd_session *s, const char *object, const char *path,
                   const char *content_type, profd_error *err)
{
    int64_t gen = 0;
    int found = b->ops->stat(b, object, &gen, NULL, NULL, err);
    if (found < 0)
        return -1;
    profd_blob_meta meta = {s->session_id, s->service_name};
    return b->ops->put_file(b, object, path, content_type, &meta, found ? gen : PROFD_GEN_NEW, NULL,
                            err);
}

/* Every artefact but stacks.txt, under the name the record has (or the
 * layout's name when it has none yet). */
static int upload(profd_blob *b, profd_session *s, const char *dir, profd_error *err)
{
    for (int i = PROFD_ART_STACKS + 1; i < PROFD_ARTIFACTS; i++) {
        const profd_artifact *a = &profd_artifacts[i];
        char *name = profd_session_artifact_object(s, i);
        char object[256], path[1400];
        if (name[0])
            profd_strlcpy(object, name, sizeof object);
        else if (profd_session_object(s->session_id, a->file, object, sizeof object) != 0) {
            profd_error_set(err, NULL, "object name too long for %s", a->file);
            return -1;
        }
        snprintf(path, sizeof path, "%s/%s", dir, a->file);
        if (rewrite(b, s, object, path, a->content_type, err) != 0)
            return -1;
        profd_strlcpy(name, object, 256);
    }
    return 0;
}

static void remove_dir(const char *dir)
{
    char path[1400];
    for (int i = 0; i < PROFD_ARTIFACTS; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, profd_artifacts[i].file);
        unlink(path);
    }
    rmdir(dir);
}

static int make_dir(const profd_config *cfg, char *dir, size_t len, profd_error *err)
{
    const char *base = cfg->spool_dir[0] ? cfg->spool_dir : "/tmp";
    if (profd_mkdir_p(base, 0700) != 0 ||
        snprintf(dir, len, "%s/reprocess-XXXXXX", base) >= (int)len || !mkdtemp(dir)) {
        profd_error_set(err, NULL, "cannot make a work directory in %s (PROFD_SPOOL_DIR)", base);
        return -1;
    }
    return 0;
}

/* Record the new renderer; the record is read again so nothing written
 * meanwhile (labels, links) is lost. */
static profd_batch_result record(profd_store *st, const profd_session *done, profd_error *err)
{
    profd_session cur;
    profd_lookup_result found = st->ops->get(st, done->session_id, &cur, err);
    if (found != PROFD_LOOKUP_FOUND) {
        profd_session_free(&cur);
        if (found == PROFD_LOOKUP_ABSENT)
            profd_error_set(err, NULL, "record removed while reprocessing");
        return found == PROFD_LOOKUP_ABSENT ? PROFD_BATCH_SKIPPED : PROFD_BATCH_FAILED;
    }
    cur.reprocessed_at = profd_now_ms();
    profd_strlcpy(cur.renderer, "profd " PROFD_VERSION, sizeof cur.renderer);
    cur.sample_count = done->sample_count;
    profd_strlcpy(cur.raw_data_object, done->raw_data_object, sizeof cur.raw_data_object);
    profd_strlcpy(cur.flame_graph_object, done->flame_graph_object, sizeof cur.flame_graph_object);
    profd_batch_result rc =
        st->ops->put(st, &cur, err) == 0 ? PROFD_BATCH_DONE : PROFD_BATCH_FAILED;
    profd_session_free(&cur);
    return rc;
}

static profd_batch_result reprocess_claimed(const profd_config *cfg, profd_store *st, profd_blob *b,
                                            const char *id, profd_error *err)
{
    profd_session s;
    profd_lookup_result found = st->ops->get(st, id, &s, err);
    if (found != PROFD_LOOKUP_FOUND) {
        profd_session_free(&s);
        if (found == PROFD_LOOKUP_ABSENT)
            profd_error_set(err, NULL, "record gone (expired or removed)");
        return found == PROFD_LOOKUP_ABSENT ? PROFD_BATCH_SKIPPED : PROFD_BATCH_FAILED;
    }
    profd_batch_result rc = eligible(&s, err) ? PROFD_BATCH_DONE : PROFD_BATCH_SKIPPED;
    char dir[1100], path[1400];
    if (rc == PROFD_BATCH_DONE && make_dir(cfg, dir, sizeof dir, err) != 0)
        rc = PROFD_BATCH_FAILED;
    if (rc != PROFD_BATCH_DONE) {
        profd_session_free(&s);
        return rc;
    }
    snprintf(path, sizeof path, "%s/%s", dir, profd_artifacts[PROFD_ART_STACKS].file);
    int got = b->ops->get_file(b, s.stacks_object, path, err);
    if (got != 0) {
        int exists = b->ops->stat(b, s.stacks_object, NULL, NULL, NULL, err);
        if (exists == 0)
            profd_error_set(err, NULL, "%s is missing from the blob store",
                            profd_artifacts[PROFD_ART_STACKS].file);
        rc = exists == 0 ? PROFD_BATCH_SKIPPED : PROFD_BATCH_FAILED;
    } else if (render(&s, dir, err) != 0 || upload(b, &s, dir, err) != 0) {
        rc = PROFD_BATCH_FAILED;
    } else {
        rc = record(st, &s, err);
    }
    remove_dir(dir);
    profd_session_free(&s);
    return rc;
}

static void make_owner(const profd_config *cfg, char *out, size_t len)
{
    char rnd[PROFD_UUID_LEN + 1];
    profd_uuid4(rnd);
    snprintf(out, len, "%s/%d/%.8s", cfg->host, (int)getpid(), rnd);
}

profd_batch_result profd_reprocess_one(const profd_config *cfg, profd_store *st, profd_blob *b,
                                       const char *id, profd_error *err)
{
    if (!profd_uuid_valid(id)) {
        profd_error_set(err, PROFD_E_INVALID, "session id '%.40s' is not a UUID", id);
        return PROFD_BATCH_FAILED;
    }
    char key[128], owner[400];
    snprintf(key, sizeof key, PROFD_REPROCESS_CLAIM "%s", id);
    make_owner(cfg, owner, sizeof owner);
    profd_claim_result won = st->ops->claim(st, key, owner, CLAIM_TTL_MS, err);
    if (won != PROFD_CLAIM_WON) {
        if (won == PROFD_CLAIM_HELD)
            profd_error_set(err, NULL, "being reprocessed by another run");
        return won == PROFD_CLAIM_HELD ? PROFD_BATCH_SKIPPED : PROFD_BATCH_FAILED;
    }
    profd_batch_result rc = reprocess_claimed(cfg, st, b, id, err);
    profd_error rel = {0};
    st->ops->release(st, key, owner, &rel);
    return rc;
}

/* ---- the queue ------------------------------------------------------------------------ */

int profd_reprocess_enqueue(profd_bus *bus, const char *id, profd_error *err)
{
    char at[32], msg[256];
    profd_rfc3339(profd_now_ms(), at);
    int n = snprintf(msg, sizeof msg,
                     "{\"version\":1,\"type\":\"reprocess\",\"session_id\":\"%s\","
                     "\"trigger\":\"reprocess\",\"requested_at\":\"%s\"}",
                     id, at);
    return bus->ops->publish(bus, PROFD_TOPIC_REQUESTS, id, msg, (size_t)n, NULL, 0, err);
}
