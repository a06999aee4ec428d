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
 * Per tick: the thread list is read, and each thread is judged from
 * /proc/PID/task/TID/stat (state 'R' = active, tasks.c keeps the files open)
 * unless --idle, or by the GIL with --gil. Only the threads to be read are
 * stopped (pausing mode, pause.c: seized, read, detached within the sample)
 * or read as they run (--nonblocking, a torn read retried up to TORN_RETRIES
 * times and counted). When the main thread exits while others run, reading
 * goes on through a live thread until the process is gone. SIGINT/SIGTERM end
 * the loop early and the collected samples are still written (exit 0), as
 * py-spy does; so does the
 * target exiting ("Stopped sampling because process exited"). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profd/cli.h"
#include "profd/sampler.h"
#include "pysampler.h"

#define TORN_RETRIES 5

typedef struct opts {
    long pid, rate, duration;
    const char *format, *out;
    bool nonblocking, idle, threads, gil;
} opts;

typedef struct stats {
    long taken, expected, missed, torn, errors;
    double lag_sum_ms, lag_max_ms;
    double read_us_sum, stop_us_sum;
    double elapsed_s; /* wall time of the loop */
} stats;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

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
        } else if (strcmp(a, "--subprocesses") == 0 || strcmp(a, "-s") == 0 ||
                   strcmp(a, "--native") == 0 || strcmp(a, "-n") == 0) {
            fprintf(stderr,
                    "profd sample: warning: %s is not supported by the built-in sampler "
                    "and is ignored\n",
                    a);
        } else {
            return profd_usage_error("sample", "unknown flag '%s'", a);
        }
    }
    if (!o->pid)
        return profd_usage_error("sample", "--pid is required");
    if (!o->out)
        return profd_usage_error("sample", "-o FILE is required");
    return 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool dead_state(char st)
{
    return st == 0 || st == 'Z' || st == 'X';
}

/* The process lives while any of its threads does: an exited main thread stays a zombie while
 * the others run on. */
static bool alive(pid_t pid)
{
    if (!dead_state(py_task_state(pid, pid)))
        return true;
    pid_t one;
    return py_tasks_list(pid, &one, 1, true) > 0;
}

typedef struct run {
    const opts *o;
    py_target t; /* t.pid: the thread whose address space we read (the main one until it exits) */
    py_code_cache *cc;
    py_stacks s;
    py_pauser pz;
    py_tasks tasks;
    py_output *out;
    stats st;
    bool exited, write_failed;
    int64_t end_ns; /* start + duration: the hard bound */
    uint64_t rng;
    FILE *file; /* -o, opened before sampling so a bad path fails at once */
    /* pausing: the threads to stop this tick */
    int nwant;
    pid_t want[PY_MAX_THREADS];
    bool want_all; /* a wanted thread has no known tid: stop every thread */
} run;

/* Is this thread to be read at this tick (before --gil, which needs no /proc)? */
static bool thread_active(run *r, const py_thread *th)
{
    if (r->o->gil && !r->t.L->free_threaded && !th->holds_gil)
        return false; /* free-threaded: no GIL, --gil reads every thread (warned at start) */
    if (th->tid <= 0)
        return true;
    if (r->o->idle && th->tid != r->o->pid)
        return true; /* only the main thread can linger as a zombie; others vanish at exit */
    char st = py_tasks_state(&r->tasks, th->tid);
    if (dead_state(st))
        return false; /* an exited thread's state lingers in the list: nothing to read */
    return r->o->idle || st == 'R';
}

/* nonblocking: read the active threads. */
static bool want_active(void *ctx, const py_thread *th)
{
    return thread_active(ctx, th);
}

/* pausing, first pass: note which threads to stop, read none. */
static bool plan_stop(void *ctx, const py_thread *th)
{
    run *r = ctx;
    if (!thread_active(r, th))
        return false;
    if (th->tid <= 0)
        r->want_all = true;
    else if (r->nwant < PY_MAX_THREADS)
        r->want[r->nwant++] = (pid_t)th->tid;
    return false;
}

/* pausing, second pass: read the threads that we hold stopped. */
static bool want_stopped(void *ctx, const py_thread *th)
{
    run *r = ctx;
    if (th->tid <= 0)
        return r->want_all;
    if (!py_pause_is_stopped(&r->pz, (pid_t)th->tid))
        return false;
    for (int i = 0; i < r->nwant; i++)
        if (r->want[i] == (pid_t)th->tid)
            return true;
    return false;
}

/* How long a stop may wait for its threads: 50 ms, never past the end of the capture. */
static int stop_timeout_ms(const run *r)
{
    int64_t left = (r->end_ns - now_ns()) / 1000000 + 1;
    return left < 1 ? 1 : left > 50 ? 50 : (int)left;
}

static int read_paused(run *r)
{
    py_filter plan = {plan_stop, r}, held = {want_stopped, r};
    py_pause_poll(&r->pz);
    r->nwant = 0;
    r->want_all = false;
    if (py_read_stacks(&r->t, r->cc, &r->s, false, &plan) != 0)
        return -1;
    if (r->want_all) /* a thread of unknown tid: stop them all */
        r->nwant = py_tasks_list((pid_t)r->o->pid, r->want, PY_MAX_THREADS, true);
    if (r->nwant <= 0)
        return 0; /* nothing active: nothing to stop */
    int64_t t0 = now_ns();
    int n = py_pause_stop(&r->pz, r->want, r->nwant, stop_timeout_ms(r));
    r->st.stop_us_sum += (double)(now_ns() - t0) / 1000.0;
    int rc = n > 0 ? py_read_stacks(&r->t, r->cc, &r->s, false, &held) : 0;
    py_pause_release(&r->pz);
    return rc;
}

static int read_nonblocking(run *r)
{
    py_filter active = {want_active, r};
    int rc = py_read_stacks(&r->t, r->cc, &r->s, true, &active);
    for (int k = 0; rc != 0 && k < TORN_RETRIES; k++) {
        r->st.torn++;
        rc = py_read_stacks(&r->t, r->cc, &r->s, true, &active);
    }
    return rc;
}

/* How a sample ended. */
enum sample_result {
    SAMPLE_OK,
    SAMPLE_FAILED, /* a read failed (torn, or a thread went away): counted as an error */
    SAMPLE_GONE,   /* the process has exited */
    SAMPLE_RETRY,  /* the main thread has exited: reading through a live thread now */
};

/* After a failed read: the target is gone, or its main thread has exited (its address space
 * is then read through a live thread), or the read was torn. */
static enum sample_result after_failure(run *r)
{
    pid_t pid = (pid_t)r->o->pid;
    if (!alive(pid))
        return SAMPLE_GONE;
    if (r->t.pid == pid && dead_state(py_task_state(pid, pid))) {
        pid_t live;
        if (py_tasks_list(pid, &live, 1, true) == 1) {
            r->t.pid = live;
            return SAMPLE_RETRY;
        }
    }
    return SAMPLE_FAILED;
}

static enum sample_result sample_once(run *r)
{
    const opts *o = r->o;
    pid_t pid = (pid_t)o->pid;
    int64_t t0 = now_ns();
    py_tasks_sweep(&r->tasks);
    int rc = o->nonblocking ? read_nonblocking(r) : read_paused(r);
    r->st.read_us_sum += (double)(now_ns() - t0) / 1000.0;
    if (rc != 0) {
        enum sample_result why = after_failure(r);
        if (why != SAMPLE_RETRY)
            return why;
        rc = o->nonblocking ? read_nonblocking(r) : read_paused(r);
        if (rc != 0)
            return alive(pid) ? SAMPLE_FAILED : SAMPLE_GONE;
    }
    for (int i = 0; i < r->s.nthreads; i++) {
        const py_thread *th = &r->s.threads[i];
        if (!th->skipped && th->depth > 0)
            py_output_add(r->out, pid, th, o->threads);
    }
    return SAMPLE_OK;
}

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
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop_requested)
        ;
    return !stop_requested;
}

static void loop(run *r)
{
    const opts *o = r->o;
    int64_t period = 1000000000LL / o->rate, start = now_ns();
    r->end_ns = start + o->duration * 1000000000LL;
    r->st.expected = o->rate * o->duration;
    r->rng = (uint64_t)start ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
    for (int64_t due = start + next_interval(r, period); due <= r->end_ns;
         due += next_interval(r, period)) {
        if (!sleep_until(due))
            break;
        int64_t late = now_ns() - due;
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
        enum sample_result rc = sample_once(r);
        if (rc == SAMPLE_GONE) {
            r->exited = true;
            break;
        }
        if (rc == SAMPLE_OK)
            r->st.taken++;
        else
            r->st.errors++;
    }
    r->st.elapsed_s = (double)(now_ns() - start) / 1e9;
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

static void summary(const run *r)
{
    const stats *s = &r->st;
    double n = s->taken ? (double)s->taken : 1.0;
    char cost[96], written[4200];
    if (r->o->nonblocking)
        snprintf(cost, sizeof(cost), "%.1f us per sample reading", s->read_us_sum / n);
    else
        snprintf(cost, sizeof(cost), "%.1f us per sample with the target paused (%.1f stopping it)",
                 s->read_us_sum / n, s->stop_us_sum / n);
    if (r->write_failed)
        snprintf(written, sizeof(written), "no stacks written (writing %s failed)", r->o->out);
    else
        snprintf(written, sizeof(written), "%ld stacks written to %s", py_output_samples(r->out),
                 r->o->out);
    if (r->exited)
        fprintf(stderr, "Stopped sampling because process exited\n");
    else if (stop_requested)
        fprintf(stderr, "Stopped sampling because Control-C pressed\n");
    fprintf(stderr,
            "profd sample: Python %s, %s mode: %ld samples taken of %ld expected (%ld missed, "
            "%ld errors), %.1f Hz achieved over %.2f s (random intervals, mean %.3f ms), lag mean "
            "%.3f ms max %.3f ms, %ld torn stacks retried, %s, %s\n",
            r->t.build, r->o->nonblocking ? "nonblocking" : "pausing", s->taken, s->expected,
            s->missed, s->errors, s->elapsed_s > 0 ? (double)s->taken / s->elapsed_s : 0.0,
            s->elapsed_s, 1000.0 / (double)r->o->rate, s->lag_sum_ms / n, s->lag_max_ms, s->torn,
            cost, written);
}

/* A process that has exited and was not reaped yet: only its zombie main thread is left. */
static bool is_zombie(pid_t pid)
{
    char st = py_task_state(pid, pid);
    return (st == 'Z' || st == 'X') && !alive(pid);
}

/* The tracer of a thread (TracerPid in its status), 0 if none or unknown. */
static long tracer_of(pid_t pid, pid_t tid)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
    FILE *f = fopen(path, "r");
    long tracer = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "TracerPid: %ld", &tracer) == 1)
            break;
    if (f)
        fclose(f);
    return tracer;
}

/* Pausing mode: can we trace it? One stop and release of a live thread. Another sampler that
 * also traces one sample at a time (a second profd) holds a thread for a millisecond or so: a
 * refusal while some tracer holds the thread is retried for up to 250 ms, and only a tracer that
 * stays (a debugger, strace, a sampler holding the whole capture) makes it fail. */
static int probe_pause(run *r, char *msg, size_t len)
{
    pid_t pid = (pid_t)r->o->pid, live;
    py_pause_init(&r->pz, pid);
    if (py_tasks_list(pid, &live, 1, true) != 1)
        live = pid;
    int e = -EPERM;
    for (int tries = 0; e == -EPERM && tries < 50; tries++) {
        if (tries > 0) {
            if (tracer_of(pid, live) <= 0)
                break; /* refused with no tracer: not ours to trace */
            nanosleep(&(struct timespec){0, 5000000}, NULL);
        }
        e = py_pause_stop(&r->pz, &live, 1, 1000);
        py_pause_release(&r->pz);
    }
    if (e == -EPERM) {
        snprintf(msg, len, "%s", PROFD_PERMISSION_DENIED);
        return -1;
    }
    if (e <= 0 && !alive(pid)) {
        snprintf(msg, len, "Failed to profile process: no such process (pid %d)", (int)pid);
        return -1;
    }
    return 0;
}

static int start(run *r, char *msg, size_t len)
{
    pid_t pid = (pid_t)r->o->pid;
    if (is_zombie(pid)) {
        snprintf(msg, len,
                 "Failed to profile process: pid %d is a zombie (it has exited and its parent "
                 "has not reaped it yet)",
                 (int)pid);
        return -1;
    }
    /* An exited main thread has no address space left to show (its maps are empty): locate and
     * read through a live thread, which shares it. */
    pid_t reader = pid;
    if (dead_state(py_task_state(pid, pid)) && py_tasks_list(pid, &reader, 1, true) != 1)
        reader = pid;
    int rc = py_locate(reader, &r->t, msg, len);
    if (rc != PY_OK)
        return -1;
    if (r->t.warning[0])
        fprintf(stderr, "%s\n", r->t.warning);
    if (r->o->gil && r->t.L->free_threaded)
        fprintf(stderr,
                "profd sample: warning: --gil has no meaning for free-threaded Python %s (it has "
                "no GIL); every thread is sampled\n",
                r->t.version);
    r->file = fopen(r->o->out, "w");
    if (!r->file) {
        snprintf(msg, len, "profd sample: cannot write %s: %s", r->o->out, strerror(errno));
        return -1;
    }
    if (!r->o->nonblocking && probe_pause(r, msg, len) != 0)
        return -1;
    py_tasks_init(&r->tasks, pid);
    py_tid_calibrate(&r->t, pid);
    r->cc = py_code_cache_new();
    r->out = py_output_new();
    if (!r->cc || !r->out || py_stacks_init(&r->s) != 0) {
        snprintf(msg, len, "profd sample: out of memory");
        return -1;
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
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
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
        if (!r->o->nonblocking)
            py_pause_finish(&r->pz, 200);
        if (write_output(r) != 0)
            rc = PROFD_EXIT_FAIL;
        summary(r);
    }
    if (r->file)
        fclose(r->file);
    py_code_cache_free(r->cc);
    py_output_free(r->out);
    py_stacks_free(&r->s);
    py_tasks_free(&r->tasks);
    free(r);
    return rc;
}
