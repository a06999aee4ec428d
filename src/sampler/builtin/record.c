/* record.c - `profd sample record`: flags, the sampling loop, the summary.
 *
 * Timing. Sample k+1 is due at the deadline of sample k plus an interval drawn
 * uniformly from [T/2, 3T/2] (T = 1/rate), slept to with clock_nanosleep
 * TIMER_ABSTIME on CLOCK_MONOTONIC: the mean rate is the asked rate and time
 * spent sampling never accumulates as drift, but no sample is in lockstep
 * with a periodic target (fixed ticks at 100 Hz saw a 7 ms / 3 ms loop on
 * 10 ms ticks as 10-100 % in one function; docs/builtin-sampler.md "Timing").
 * A sample that could not start within one mean interval of its deadline is
 * counted as missed, not made up in a burst. The capture ends at start +
 * duration whatever happens (a hard bound: waits inside a sample are capped
 * by it too); the summary reports samples taken and expected (rate x
 * duration), the achieved rate, missed ticks and the lag (how late samples
 * started, mean and max).
 *
 * Per tick: one sample of the target (proc.c: which threads, stopped or not,
 * read, unwound with --native, named) and, with --subprocesses, of each
 * Python process among its descendants (children.c), each rooted at its
 * `process PID:"cmdline"` frames. SIGINT/SIGTERM end the loop early and the
 * collected samples are still written (exit 0), as py-spy does; so does the
 * target exiting ("Stopped sampling because process exited"). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "profd/cli.h"
#include "profd/sampler.h"
#include "pysampler.h"

typedef struct opts {
    long pid, rate, duration;
    const char *format, *out;
    bool nonblocking, idle, threads, gil, subprocesses, native;
    bool live; /* --live: snapshots to <output>.live while recording (the worker's console view) */
} opts;

typedef struct stats {
    long taken, expected, missed, errors;
    double lag_sum_ms, lag_max_ms;
    double elapsed_s; /* wall time of the loop */
} stats;

static const char *value(int argc, char **argv, int *i, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (eq && strncmp(arg, "--", 2) == 0)
        return eq + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static bool is(const char *arg, const char *s, const char *l)
{
    size_t n = strlen(l);
    return (s && strcmp(arg, s) == 0) || strcmp(arg, l) == 0 ||
           (strncmp(arg, l, n) == 0 && arg[n] == '=');
}

static int parse(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof(*o));
    o->rate = 100;
    o->duration = 10;
    o->format = "raw";
    if (argc < 2 || strcmp(argv[1], "record") != 0)
        return profd_usage_error("sample", "expected 'record' or 'memory', got '%s'",
                                 argc < 2 ? "" : argv[1]);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (is(a, "-p", "--pid") || is(a, "-r", "--rate") || is(a, "-d", "--duration")) {
            const char *v = value(argc, argv, &i, a);
            long *dst = a[1] == 'p' || a[2] == 'p'   ? &o->pid
                        : a[1] == 'r' || a[2] == 'r' ? &o->rate
                                                     : &o->duration;
            long hi = dst == &o->pid ? 4194304 : dst == &o->rate ? 10000 : 86400;
            char flag[32];
            snprintf(flag, sizeof(flag), "%.*s", (int)strcspn(a, "="), a);
            if (profd_parse_int("sample", flag, v, 1, hi, dst) != 0)
                return PROFD_EXIT_USAGE;
        } else if (is(a, "-f", "--format")) {
            o->format = value(argc, argv, &i, a);
            if (!o->format || (strcmp(o->format, "raw") && strcmp(o->format, "speedscope")))
                return profd_usage_error("sample", "--format must be raw or speedscope, got '%s'",
                                         o->format ? o->format : "");
        } else if (is(a, "-o", "--output")) {
            o->out = value(argc, argv, &i, a);
            if (!o->out || !*o->out)
                return profd_usage_error("sample", "-o needs a file name");
        } else if (strcmp(a, "--nonblocking") == 0) {
            o->nonblocking = true;
        } else if (strcmp(a, "--idle") == 0 || strcmp(a, "-i") == 0) {
            o->idle = true;
        } else if (strcmp(a, "--threads") == 0 || strcmp(a, "-t") == 0) {
            o->threads = true;
        } else if (strcmp(a, "--gil") == 0 || strcmp(a, "-g") == 0) {
            o->gil = true;
        } else if (strcmp(a, "--subprocesses") == 0 || strcmp(a, "-s") == 0) {
            o->subprocesses = true;
        } else if (strcmp(a, "--native") == 0 || strcmp(a, "-n") == 0) {
            o->native = true;
        } else if (strcmp(a, "--live") == 0) {
            o->live = true;
        } else {
            return profd_usage_error("sample", "unknown flag '%s'", a);
        }
    }
    if (!o->pid)
        return profd_usage_error("sample", "--pid is required");
    if (!o->out)
        return profd_usage_error("sample", "-o FILE is required");
    if (o->native && o->nonblocking)
        return profd_usage_error("sample",
                                 "can't get native stack traces with the --nonblocking option "
                                 "(--native unwinds stopped threads: drop --nonblocking)");
    return 0;
}

typedef struct run {
    const opts *o;
    py_proc_opts po;
    py_proc p; /* the target */
    py_stacks s;
    py_output *out;
    py_family *fam; /* --subprocesses */
    stats st;
    bool opened, exited, write_failed;
    int64_t end_ns; /* start + duration: the hard bound */
    uint64_t rng;
    FILE *file;   /* -o, opened before sampling so a bad path fails at once */
    py_live live; /* live.c: partial stacks for the console */
} run;

/* The next interval: uniform in [T/2, 3T/2] (mean T), xorshift64*. See docs/builtin-sampler.md
 * ("Timing") for why random, and why this distribution. */
static int64_t next_interval(run *r, int64_t period)
{
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    uint64_t x = r->rng * 2685821657736338717ULL;
    return period / 2 + (int64_t)(x % (uint64_t)period);
}

static bool sleep_until(int64_t due)
{
    struct timespec ts = {(time_t)(due / 1000000000LL), (long)(due % 1000000000LL)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
           !py_stop_requested())
        ;
    return !py_stop_requested();
}

static void loop(run *r)
{
    const opts *o = r->o;
    int64_t period = 1000000000LL / o->rate, start = py_now_ns();
    r->end_ns = start + o->duration * 1000000000LL;
    r->st.expected = o->rate * o->duration;
    r->rng = (uint64_t)start ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
    /* Wake at the deadline, not up to 50 us later (the default timer slack): at 1,000 Hz the
     * slack is 5 % of an interval. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    for (int64_t due = start + next_interval(r, period); due <= r->end_ns;
         due += next_interval(r, period)) {
        if (!o->nonblocking)
            py_pause_linger(&r->p.pz, due); /* a late thread is let go the moment it stops */
        if (!sleep_until(due))
            break;
        int64_t late = py_now_ns() - due;
        if (late > period) { /* could not start within one mean interval: missed, not made up */
            long skip = (long)(late / period);
            r->st.missed += skip;
            due += skip * period;
            late -= skip * period;
            if (due > r->end_ns)
                break;
        }
        double ms = (double)late / 1e6;
        r->st.lag_sum_ms += ms;
        if (ms > r->st.lag_max_ms)
            r->st.lag_max_ms = ms;
        enum py_sample_result rc = py_proc_sample(&r->p, &r->s, r->end_ns, r->out);
        if (rc == PY_SAMPLE_GONE) {
            r->exited = true;
            break;
        }
        if (r->fam)
            py_family_tick(r->fam, &r->s, r->end_ns, r->out);
        if (rc == PY_SAMPLE_OK)
            r->st.taken++;
        else
            r->st.errors++;
        if (o->live)
            py_live_tick(&r->live, r->out, o->out);
    }
    r->st.elapsed_s = (double)(py_now_ns() - start) / 1e9;
}

static int write_output(run *r)
{
    const opts *o = r->o;
    FILE *f = r->file;
    r->file = NULL;
    errno = 0;
    int rc = strcmp(o->format, "raw") == 0 ? py_output_write_raw(r->out, f)
                                           : py_output_write_speedscope(r->out, f, (int)o->rate);
    int err = errno;
    if (fclose(f) != 0 || rc != 0) {
        if (rc != 0 && err)
            errno = err;
        fprintf(stderr, "profd sample: cannot write %s: %s\n", o->out, strerror(errno));
        r->write_failed = true;
        return -1;
    }
    return 0;
}

/* The lines of --native and --subprocesses. */
static void features_summary(const run *r)
{
    if (r->p.nat) {
        const py_native_stats *ns = py_native_stats_of(r->p.nat);
        fprintf(stderr,
                "profd sample: native: %ld thread stacks unwound, %.1f us each with the target "
                "paused, %.1f native frames each, %ld merged, %ld kept Python-only\n",
                ns->unwinds, ns->unwinds ? ns->unwind_us / (double)ns->unwinds : 0.0,
                ns->unwinds ? (double)ns->frames / (double)ns->unwinds : 0.0, ns->merged,
                ns->failed);
    }
    if (r->fam) {
        const py_family_stats *fs = py_family_stats_of(r->fam);
        fprintf(stderr,
                "profd sample: subprocesses: %ld found, %ld Python, %ld exited, %ld stacks "
                "written\n",
                fs->found, fs->python, fs->exited, fs->stacks);
    }
}

static void summary(const run *r)
{
    const stats *s = &r->st;
    const py_proc *p = &r->p;
    double n = s->taken ? (double)s->taken : 1.0;
    char cost[96], written[4200];
    if (r->o->nonblocking)
        snprintf(cost, sizeof(cost), "%.1f us per sample reading", p->read_us_sum / n);
    else
        snprintf(cost, sizeof(cost), "%.1f us per sample with the target paused (%.1f stopping it)",
                 p->read_us_sum / n, p->stop_us_sum / n);
    if (r->write_failed)
        snprintf(written, sizeof(written), "no stacks written (writing %s failed)", r->o->out);
    else
        snprintf(written, sizeof(written), "%ld stacks written to %s", py_output_samples(r->out),
                 r->o->out);
    if (r->exited)
        fprintf(stderr, "Stopped sampling because process exited\n");
    else if (py_stop_requested())
        fprintf(stderr, "Stopped sampling because Control-C pressed\n");
    fprintf(stderr,
            "profd sample: Python %s, %s mode: %ld samples taken of %ld expected (%ld missed, "
            "%ld errors), %.1f Hz achieved over %.2f s (random intervals, mean %.3f ms), lag mean "
            "%.3f ms max %.3f ms, %ld torn stacks retried, %s, %s\n",
            p->t.build, r->o->nonblocking ? "nonblocking" : "pausing", s->taken, s->expected,
            s->missed, s->errors, s->elapsed_s > 0 ? (double)s->taken / s->elapsed_s : 0.0,
            s->elapsed_s, 1000.0 / (double)r->o->rate, s->lag_sum_ms / n, s->lag_max_ms, p->torn,
            cost, written);
    features_summary(r);
}

static int start(run *r, char *msg, size_t len)
{
    const opts *o = r->o;
    r->po = (py_proc_opts){o->nonblocking, o->idle, o->gil, o->threads, o->native};
    if (py_proc_open(&r->p, (pid_t)o->pid, &r->po, msg, len) != PY_OK)
        return -1;
    r->opened = true;
    if (r->p.t.warning[0])
        fprintf(stderr, "%s\n", r->p.t.warning);
    if (o->gil && r->p.t.L->free_threaded)
        fprintf(stderr,
                "profd sample: warning: --gil has no meaning for free-threaded Python %s (it has "
                "no GIL); every thread is sampled\n",
                r->p.t.version);
    r->file = fopen(o->out, "w");
    if (!r->file) {
        snprintf(msg, len, "profd sample: cannot write %s: %s", o->out, strerror(errno));
        return -1;
    }
    r->out = py_output_new();
    if (!r->out || py_stacks_init(&r->s) != 0) {
        snprintf(msg, len, "profd sample: out of memory");
        return -1;
    }
    if (o->subprocesses) {
        if (!(r->fam = py_family_new((pid_t)o->pid, &r->po))) {
            snprintf(msg, len, "profd sample: out of memory");
            return -1;
        }
        r->p.roots = py_family_root_frames(r->fam);
    }
    return 0;
}

int profd_sample_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "memory") == 0)
        return py_memory_main(argc - 1, argv + 1);
    opts o;
    int prc = parse(argc, argv, &o);
    if (prc != 0)
        return prc;
    py_stop_catch();
    run *r = calloc(1, sizeof(*r));
    if (!r)
        return PROFD_EXIT_FAIL;
    r->o = &o;
    char msg[512];
    int rc = PROFD_EXIT_OK;
    if (start(r, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "%s\n", msg);
        rc = PROFD_EXIT_FAIL;
    } else {
        loop(r);
        if (write_output(r) != 0)
            rc = PROFD_EXIT_FAIL;
        py_live_end(&r->live, r->o->out);
        summary(r);
    }
    if (r->file)
        fclose(r->file);
    if (r->opened)
        py_proc_close(&r->p);
    py_family_free(r->fam);
    py_output_free(r->out);
    py_stacks_free(&r->s);
    free(r);
    return rc;
}
