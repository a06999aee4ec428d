/* render.c - format names and the dispatch from a format to its writer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static const char *const format_names[] = {"html", "svg", "speedscope", "collapsed", "pprof"};

int profd_format_parse(const char *s, profd_format *out)
{
    for (int i = 0; s && i < 5; i++)
        if (strcmp(s, format_names[i]) == 0) {
            *out = (profd_format)i;
            return 0;
        }
    if (s && (strcmp(s, "folded") == 0 || strcmp(s, "raw") == 0)) {
        *out = PROFD_FMT_COLLAPSED;
        return 0;
    }
    return -1;
}

int profd_render(const profd_profile *p, profd_format f, const profd_render_opts *o, FILE *out,
                 profd_error *err)
{
    static const profd_render_opts defaults;
    if (!o)
        o = &defaults;
    if (!p || !out) {
        profd_error_set(err, NULL, "render called without a profile or an output");
        return -1;
    }
    if (f != PROFD_FMT_HTML && !render__profile_view(p)) {
        profd_error_set(err, NULL, "out of memory while rendering");
        return -1;
    }
    int rc;
    switch (f) {
    case PROFD_FMT_HTML:
        return render__html(p, NULL, o, out, err);
    case PROFD_FMT_SVG:
        rc = render__svg(p, o, out);
        break;
    case PROFD_FMT_SPEEDSCOPE:
        rc = render__speedscope(p, o, out);
        break;
    case PROFD_FMT_COLLAPSED:
        rc = render__collapsed(p, out);
        break;
    case PROFD_FMT_PPROF:
        return render__pprof(p, out, err);
    default:
        profd_error_set(err, NULL, "unknown output format");
        return -1;
    }
    if (rc < 0)
        profd_error_set(err, NULL, "cannot write output: %s", strerror(errno));
    return rc;
}

int profd_render_diff(const profd_profile *before, const profd_profile *after,
                      const profd_render_opts *o, FILE *out, profd_error *err)
{
    static const profd_render_opts defaults;
    if (!before || !after || !out) {
        profd_error_set(err, NULL, "diff needs two profiles and an output");
        return -1;
    }
    if (!render__profile_view(after) || !render__profile_view(before)) {
        profd_error_set(err, NULL, "out of memory while rendering");
        return -1;
    }
    return render__html(after, before, o ? o : &defaults, out, err);
}

/* Written to PATH.tmp.PID then renamed, so readers never see half a file. */
int profd_render_path(const profd_profile *p, profd_format f, const profd_render_opts *o,
                      const char *path, profd_error *err)
{
    if (!path || strcmp(path, "-") == 0) {
        int rc = profd_render(p, f, o, stdout, err);
        if (fflush(stdout) != 0 && rc == 0) {
            profd_error_set(err, NULL, "cannot write output: %s", strerror(errno));
            rc = -1;
        }
        return rc;
    }
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp) {
        profd_error_set(err, NULL, "output path is too long: %s", path);
        return -1;
    }
    FILE *f_out = fopen(tmp, "wb");
    if (!f_out) {
        profd_error_set(err, NULL, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = profd_render(p, f, o, f_out, err);
    if (fclose(f_out) != 0 && rc == 0) {
        profd_error_set(err, NULL, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        profd_error_set(err, NULL, "cannot create %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc < 0)
        unlink(tmp);
    return rc;
}
