/* usage.c - usage errors and bounded integer flags for every command
 * (include/profd/cli.h). In core, not in src/cli/, so that a module that parses
 * a command's arguments itself (the sampler, for `profd sample record`) links
 * without the executable's sources. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "profd/cli.h"

int profd_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "profd %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'profd help %s')\n", cmd);
    return PROFD_EXIT_USAGE;
}

int profd_parse_int(const char *cmd, const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < lo || v > hi) {
        profd_usage_error(cmd, "%s needs an integer from %ld to %ld, got '%s'", flag, lo, hi,
                          s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}
