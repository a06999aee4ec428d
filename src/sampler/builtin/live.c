/* live.c - the built-in sampler's live stacks: while it records, every
 * PY_LIVE_PERIOD_MS (a second: with the worker and the API each looking every
 * 0.5 s, a picture then reaches the page at most about 2 s after the last) it writes the merged
 * stacks so far, in the raw collapsed format of the final output, to "<output>.live"
 * (docs/console.md).
 *
 * The worker that runs the capture uploads that file as sessions/{id}/live.txt
 * and puts the sample count so far in the session record, so an API on any
 * host can stream it (GET …/live). The file is written to a temporary name
 * and renamed, so a reader always sees one whole snapshot; it is removed when
 * recording ends (the final output is the truth then). Writing costs one pass
 * over the distinct stacks every second, done between ticks on the sampling
 * thread: a slow write shows as lag in the summary, never as a torn file. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pysampler.h"

#define PY_LIVE_PERIOD_MS 1000

static void live_path(const char *out, char *path, size_t len, const char *suffix)
{
    snprintf(path, len, "%s.live%s", out, suffix);
}

void py_live_tick(py_live *l, const py_output *o, const char *out)
{
    int64_t now = py_now_ns() / 1000000;
    if (!l->next_ms) { /* the first snapshot after one period */
        l->next_ms = now + PY_LIVE_PERIOD_MS;
        return;
    }
    if (now < l->next_ms || !out || strcmp(out, "-") == 0)
        return;
    l->next_ms = now + PY_LIVE_PERIOD_MS;
    char tmp[4200], path[4200];
    live_path(out, tmp, sizeof tmp, ".tmp");
    live_path(out, path, sizeof path, "");
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    int rc = py_output_write_raw(o, f);
    if (fclose(f) != 0 || rc != 0 || rename(tmp, path) != 0)
        unlink(tmp);
    else
        l->written = true;
}

void py_live_end(py_live *l, const char *out)
{
    char path[4200];
    if (!l->written || !out)
        return;
    live_path(out, path, sizeof path, "");
    unlink(path);
}
