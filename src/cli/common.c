/* common.c - usage errors and flag parsing shared by every command. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/cli.h"

volatile sig_atomic_t profd_stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    profd_stop_requested = 1;
}

void profd_install_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

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
