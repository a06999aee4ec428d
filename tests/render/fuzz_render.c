/* fuzz_render.c - libFuzzer target for the render module (not a test; build
 * with cmake -DPROFD_FUZZ=ON -DCMAKE_C_COMPILER=clang, run
 * build/tests/render/fuzz_render -close_fd_mask=2 CORPUS, which keeps the
 * bad-line reports off the terminal). Any input is read as collapsed stacks or speedscope JSON and
 * rendered in every format; the collapsed output must read back to the same
 * total (the round trip the worker relies on for reprocessing). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "profd/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    FILE *in = fmemopen((void *)data, size, "r");
    FILE *null = fopen("/dev/null", "w");
    profd_profile *p = profd_profile_new();
    profd_render_opts o = {.title = "fuzz", .min_width_px = 1e-12};
    profd_error err = {0};
    if (in && null && p && profd_profile_read(p, in, &o, &err) == 0) {
        for (int f = PROFD_FMT_HTML; f <= PROFD_FMT_PPROF; f++)
            profd_render(p, (profd_format)f, &o, null, &err);
        char *buf = NULL;
        size_t n = 0;
        FILE *mem = open_memstream(&buf, &n);
        profd_render(p, PROFD_FMT_COLLAPSED, &o, mem, &err);
        fclose(mem);
        profd_profile *q = profd_profile_new();
        FILE *back = n ? fmemopen(buf, n, "r") : NULL;
        if (back && profd_profile_read(q, back, &o, &err) == 0 &&
            profd_profile_total(q) != profd_profile_total(p))
            abort();
        if (back)
            fclose(back);
        profd_profile_free(q);
        free(buf);
    }
    profd_profile_free(p);
    if (in)
        fclose(in);
    if (null)
        fclose(null);
    return 0;
}
