/* record.c - `py-spy record`: check, sample, write.
 *
 * Validates the options the way py-spy does (the same mistake gets the same
 * message and exit code), checks the target, then samples the call tree on
 * py-spy's timer (one interval every 1/rate seconds from the start) until the
 * duration is up, the target exits or Control-C, and writes the chosen format
 * followed by py-spy's closing lines. PYSPY_STANDIN_MODE=hang misbehaves at
 * once; exit, crash and stop at interval PYSPY_STANDIN_EXIT_AFTER (default:
 * half the duration, or one second when there is none). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "standin.h"

volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void hang_forever(void)
{
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    for (;;)
        pause();
}

static const char *default_output(long pid, const char *format, char *buf, size_t len)
{
    const char *ext =
        !strcmp(format, "flamegraph") ? "svg" : (!strcmp(format, "raw") ? "txt" : "json");
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char ts[64];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S%z", &tm);
    /* RFC 3339 offset: +hh:mm */
    size_t l = strlen(ts);
    if (l > 4) {
        memmove(ts + l - 1, ts + l - 2, 3);
        ts[l - 2] = ':';
    }
    snprintf(buf, len, "%ld-%s.%s", pid, ts, ext);
    return buf;
}

int record(int argc, char **argv)
{
    opts o = {0};
    parse_record(argc, argv, &o);
    if (!o.pid_s && !o.program)
        usage_error("The following required arguments were not provided:\n    --pid <pid>");
    long rate = parse_u64("rate", o.rate_s ? o.rate_s : "100");
    const char *format = check_format(o.format ? o.format : "flamegraph");
    long duration = -1;
    if (o.duration_s && strcmp(o.duration_s, "unlimited")) {
        char *end;
        errno = 0;
        duration = strtol(o.duration_s, &end, 10);
        if (!*o.duration_s || *end || errno || duration < 0)
            panic_parse("invalid duration", o.duration_s);
    }
    if (o.nolineno && o.function) {
        fprintf(stderr, "--function & --nolinenos can't be used together\n");
        return 1;
    }
    if (o.nonblocking && o.native) {
        fprintf(stderr, "Can't get native stack traces with the --nonblocking option.\n");
        return 1;
    }
    if (!o.pid_s) {
        fprintf(stderr, "Error: the py-spy stand-in cannot launch programs; use --pid\n");
        return 1;
    }
    long pid = parse_pid(o.pid_s);
    if (rate == 0) { /* Timer::new(0.0): an infinite interval, which Duration rejects */
        fprintf(stderr, "thread '<unnamed>' panicked at 'can not convert float seconds to "
                        "Duration: value is either too big or NaN'\n");
        return 101;
    }
    const char *mode = getenv("PYSPY_STANDIN_MODE");
    mode = mode ? mode : "";
    check_target(pid, mode);

    const char *replay = getenv("PYSPY_STANDIN_STACKS");
    if (replay && *replay) {
        if (replay_file(replay) < 0) {
            fprintf(stderr, "Error: %s (os error %d)\n", strerror(errno), errno);
            return 1;
        }
        threads[0] = (thread){pid, "MainThread"};
        nthreads = 1;
    } else {
        builtin_tree(pid);
    }
    char outbuf[512];
    const char *out = o.output ? o.output : default_output(pid, format, outbuf, sizeof outbuf);

    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    if (duration >= 0)
        printf(LEDE "Sampling process %ld times a second for %ld seconds. Press Control-C to "
                    "exit.\n\n",
               rate, duration);
    else
        printf(LEDE "Sampling process %ld times a second. Press Control-C to exit.\n\n", rate);
    fflush(stdout);
    if (!strcmp(mode, "hang"))
        hang_forever();

    long max_intervals = duration >= 0 ? duration * rate : -1;
    long capacity = max_intervals > 0 ? max_intervals * nthreads + 16 : 1 << 16;
    long *sequence = malloc((size_t)capacity * sizeof *sequence), nseq = 0;
    const char *exit_message = "Stopped sampling because process exited";
    long samples = 0, intervals = 0, twist_at = max_intervals > 0 ? max_intervals / 2 : rate;
    const char *after = getenv("PYSPY_STANDIN_EXIT_AFTER"); /* samples before the twist */
    if (after && *after)
        twist_at = atol(after);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0;; i++) {
        if (target_exe_errno(pid))
            break; /* the sampling thread ends: "process exited" */
        if (interrupted) {
            exit_message = "Stopped sampling because Control-C pressed";
            break;
        }
        intervals++;
        if (max_intervals >= 0 && intervals >= max_intervals) {
            exit_message = "";
            break;
        }
        if (i == twist_at && !strcmp(mode, "exit"))
            break;
        if (i == twist_at && !strcmp(mode, "crash")) {
            fprintf(stderr,
                    "Segmentation fault in the py-spy stand-in (PYSPY_STANDIN_MODE=crash)\n");
            signal(SIGSEGV, SIG_DFL); /* not a sanitizer's handler: die of the signal */
            raise(SIGSEGV);
        }
        if (i == twist_at && !strcmp(mode, "stop"))
            raise(SIGSTOP);
        for (int th = 0; th < nthreads; th++) {
            stack *s = stack_for(th, i);
            if (!s || !(o.idle || s->active) || (o.gil && !s->gil))
                continue;
            s->count++;
            samples++;
            if (nseq < capacity)
                sequence[nseq++] = s - stacks;
        }
        /* Timer: the next sample is due at start + (i + 1) / rate. */
        long long due_ns = (long long)(i + 1) * 1000000000LL / rate;
        struct timespec due = {start.tv_sec + (time_t)(due_ns / 1000000000LL),
                               start.tv_nsec + (long)(due_ns % 1000000000LL)};
        if (due.tv_nsec >= 1000000000L) {
            due.tv_sec++;
            due.tv_nsec -= 1000000000L;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR && !interrupted)
            ;
    }
    if (*exit_message)
        printf("\n" LEDE "%s\n", exit_message);

    FILE *f = fopen(out, "w");
    if (!f) {
        int e = errno;
        fprintf(stderr, "Error: %s (os error %d)\n", strerror(e), e);
        return 1;
    }
    if (!strcmp(format, "raw"))
        write_raw(f, &o, pid);
    else if (!strcmp(format, "speedscope"))
        write_speedscope(f, &o, pid, rate, sequence, nseq);
    else if (!strcmp(format, "chrometrace"))
        write_chrometrace(f, &o, pid, rate, sequence, nseq);
    else
        write_flamegraph(f, &o, pid, samples ? samples : 1);
    if (fclose(f) != 0) {
        fprintf(stderr, "Error: %s (os error %d)\n", strerror(errno), errno);
        return 1;
    }
    free(sequence);
    if (!strcmp(format, "raw"))
        printf(LEDE "Wrote raw flamegraph data to '%s'. Samples: %ld Errors: 0\n" LEDE
                    "You can use the flamegraph.pl script from "
                    "https://github.com/brendangregg/flamegraph to generate a SVG\n",
               out, samples);
    else if (!strcmp(format, "speedscope"))
        printf(LEDE "Wrote speedscope file to '%s'. Samples: %ld Errors: 0\n" LEDE
                    "Visit https://www.speedscope.app/ to view\n",
               out, samples);
    else if (!strcmp(format, "chrometrace"))
        printf(LEDE "Wrote chrome trace to '%s'. Samples: %ld Errors: 0\n" LEDE
                    "Visit chrome://tracing or https://ui.perfetto.dev/ to view\n",
               out, samples);
    else
        printf(LEDE "Wrote flamegraph data to '%s'. Samples: %ld Errors: 0\n", out, samples);
    return 0;
}
