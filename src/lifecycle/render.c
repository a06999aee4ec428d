/* render.c - a session's artefacts from its samples.
 *
 * One function renders for both paths that produce artefacts: a finished
 * capture (the worker, from the sampler's raw output, every artefact) and a
 * reprocess (from the stored stacks.txt, every artefact but stacks.txt
 * itself). Sharing it is what makes a reprocessed flame graph look like a
 * fresh one: same title, same header details, same table of outputs. The
 * input is streamed into one call tree and each output is a walk of it, so
 * the files always agree on sample totals. */
#include <stdio.h>

#include "profd/lifecycle.h"
#include "profd/render.h"

int profd_session_render(profd_session *s, const char *input, const char *dir, int first,
                         profd_error *err)
{
    profd_profile *p = profd_profile_new();
    if (!p) {
        profd_error_set(err, PROFD_E_SAMPLER_FAILED, "out of memory reading the samples");
        return -1;
    }
    bool memory = s->profile_type == PROFD_PROFILE_MEMORY;
    char title[160], started[32], rate[32], samples[32] = "", pid[32], blocks[32] = "";
    snprintf(title, sizeof title, "%s: %d s %sprofile", s->service_name, s->duration_seconds,
             memory ? "memory " : "");
    profd_rfc3339(s->started_at, started);
    snprintf(rate, sizeof rate, "%d Hz", s->sample_rate_hz);
    snprintf(pid, sizeof pid, "%ld", s->pid);
    if (memory && s->blocks_total >= 0)
        snprintf(blocks, sizeof blocks, "%lld", s->blocks_total);
    const char *cpu_details[] = {"session", s->session_id, "host",    s->host, "pid",
                                 pid,       "started",     started,   "rate",  rate,
                                 "sampler", s->sampler,    "samples", samples, NULL};
    /* A memory graph's widths are bytes allocated during the window and live at its end. */
    const char *mem_details[] = {
        "session", s->session_id, "host",  s->host, "pid",
        pid,       "started",     started, "unit",  "bytes live at the end of the window",
        "sampler", s->sampler,    "bytes", samples, "blocks",
        blocks,    NULL};
    profd_render_opts o = {
        .title = title, .details = memory ? mem_details : cpu_details, .bytes = memory};
    int rc = profd_profile_read_path(p, input, &o, err);
    if (rc == 0) {
        uint64_t total = profd_profile_total(p);
        snprintf(samples, sizeof samples, "%llu", (unsigned long long)total);
        if (!memory)
            s->sample_count = (long)total;
        else if (s->bytes_total < 0)
            s->bytes_total = (long long)total;
        char path[1400];
        for (int i = first; rc == 0 && i < PROFD_ARTIFACTS; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, profd_artifacts[i].file);
            rc = profd_render_path(p, profd_artifacts[i].format, &o, path, err);
        }
    }
    if (rc != 0 && !err->code)
        err->code = PROFD_E_SAMPLER_FAILED;
    profd_profile_free(p);
    return rc;
}
