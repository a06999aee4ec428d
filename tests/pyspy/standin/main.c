/* main.c - a stand-in for `py-spy record`, for tests and benchmarks.
 *
 * py-spy cannot be installed on the build machines, yet the worker must be
 * tested against something that behaves like it: the same command line, the
 * same messages on stdout and stderr, the same exit codes and the same output
 * formats. This program copies the behaviour of py-spy 0.4.1 (read from its
 * source: src/config.rs, src/main.rs, src/sampler.rs, src/flamegraph.rs,
 * src/speedscope.rs; see docs/capture.md for the exact claims) without
 * reading any Python memory. It checks that the target exists the way py-spy
 * does (readlink /proc/PID/exe), then samples a deterministic synthetic call
 * tree at the requested rate for the requested duration, stopping early when
 * the target exits or on Ctrl-C, and writes what it collected.
 *
 * Stacks come from PYSPY_STANDIN_STACKS (collapsed "frames count" lines,
 * replayed in proportion to their counts) or from a built-in tree named after
 * the target's /proc/PID/comm. PYSPY_STANDIN_MODE simulates failures:
 * permission, notpython, exit, hang, crash, stop. PYSPY_STANDIN_LOG appends
 * "MONOTONIC_SECONDS PID ARGV..." at start, for tests and the latency bench.
 *
 * The program is cut by concern; standin.h lists the files. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "standin.h"

static void log_start(int argc, char **argv)
{
    const char *path = getenv("PYSPY_STANDIN_LOG");
    if (!path || !*path)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char line[8192];
    int n = snprintf(line, sizeof line, "%lld.%09ld %ld", (long long)ts.tv_sec, ts.tv_nsec,
                     (long)getpid());
    for (int i = 0; i < argc && n < (int)sizeof line - 2; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " %s", argv[i]);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, line, (size_t)n); /* one write: whole lines under O_APPEND */
        (void)w;
        close(fd);
    }
}

/* clap's infer_subcommands: any unique prefix of a subcommand name selects it. */
static const char *infer_subcommand(const char *a)
{
    static const char *subs[] = {"record", "top", "dump", "help"};
    const char *hit = NULL;
    size_t n = strlen(a);
    for (int i = 0; i < 4; i++)
        if (!strncmp(subs[i], a, n)) {
            if (hit)
                return NULL;
            hit = subs[i];
        }
    return hit;
}

int main(int argc, char **argv)
{
    log_start(argc, argv);
    if (argc < 2) {
        help(stderr);
        return 2;
    }
    const char *a = argv[1];
    if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
        printf("py-spy " VERSION "\n");
        return 0;
    }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
        help(stdout);
        return 0;
    }
    const char *sub = a[0] == '-' ? NULL : infer_subcommand(a);
    if (a[0] == '-') {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "Found argument '%s' which wasn't expected, or isn't valid in this context\n\n"
                 "\tIf you tried to supply `%s` as a value rather than a flag, use `-- %s`",
                 a, a, a);
        fprintf(stderr,
                "error: %s\n\nUSAGE:\n    py-spy <SUBCOMMAND>\n\nFor more information try "
                "--help\n",
                msg);
        return 2;
    }
    if (!sub) {
        fprintf(stderr,
                "error: The subcommand '%s' wasn't recognized\n\nUSAGE:\n    py-spy "
                "<SUBCOMMAND>\n\nFor more information try --help\n",
                a);
        return 2;
    }
    if (!strcmp(sub, "help")) {
        help(stdout);
        return 0;
    }
    if (strcmp(sub, "record")) {
        fprintf(stderr, "Error: the py-spy stand-in implements only 'record', not '%s'\n", sub);
        return 1;
    }
    return record(argc - 2, argv + 2);
}
