/* read.c - input detection: speedscope JSON if the first non-space byte is
 * '{', collapsed stacks otherwise. Only the first few KiB are looked at; the
 * bytes already read are handed to the chosen parser. */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define SNIFF 4096

int profd_profile_read(profd_profile *p, FILE *in, const profd_render_opts *o, profd_error *err)
{
    char head[SNIFF];
    size_t n = fread(head, 1, sizeof head, in);
    if (n == 0 && ferror(in)) {
        profd_error_set(err, NULL, "cannot read input: %s", strerror(errno));
        return -1;
    }
    size_t i = 0;
    if (n >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0)
        i = 3; /* UTF-8 byte order mark */
    while (i < n && strchr(" \t\r\n", head[i]))
        i++;
    if (i < n && head[i] == '{')
        return render__read_speedscope(p, in, head + i, n - i, err);
    return render__read_collapsed(p, in, head, n, o, err); /* it drops a BOM at any line start */
}

int profd_profile_read_path(profd_profile *p, const char *path, const profd_render_opts *o,
                            profd_error *err)
{
    if (!path || strcmp(path, "-") == 0)
        return profd_profile_read(p, stdin, o, err);
    FILE *f = fopen(path, "rb");
    if (!f) {
        profd_error_set(err, NULL, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = profd_profile_read(p, f, o, err);
    fclose(f);
    if (rc < 0 && err && strncmp(err->msg, "line ", 5) == 0) {
        char msg[sizeof err->msg + 4096];
        snprintf(msg, sizeof msg, "%s: %s", path, err->msg);
        profd_strlcpy(err->msg, msg, sizeof err->msg);
    }
    return rc;
}
