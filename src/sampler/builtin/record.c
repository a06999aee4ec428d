/* record.c - `profd sample record`: flags, the sampling loop, the summary.
 *
 * The loop runs on absolute deadlines: tick k is due at start + k/rate
 * (clock_nanosleep TIMER_ABSTIME on CLOCK_MONOTONIC), so time spent sampling
 * never accumulates as drift. A tick that could not start within one interval
 * of its deadline is counted as missed, not made up in a burst; the summary
 * reports samples taken, samples expected (rate x duration), missed ticks and
 * the lag (how late taken samples started, mean and max).
 *
 * Per tick: judge idleness from /proc/PID/task/TID/stat (state 'R' = active)
 * unless --idle, stop the threads (default) or not (--nonblocking), read all
 * stacks, resume, and hand the stacks that pass the filters (--idle, --gil)
 * to output.c. In --nonblocking mode a torn read is retried up to
 * TORN_RETRIES times and counted. SIGINT/SIGTERM end the loop early and the
 * collected samples are still written (exit 0), as py-spy does; so does the
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

static bool alive(pid_t pid)
{
    char st = py_task_state(pid, pid);
    return st != 0 && st != 'Z' && st != 'X';
}

static bool active(const opts *o, pid_t pid, const py_thread *th)
{
    if (o->idle || th->tid <= 0)
        return true;
    char st = py_task_state(pid, th->tid);
    return st == 'R' || st == 0;
}

typedef struct run {
    const opts *o;
    py_target t;
    py_code_cache *cc;
    py_stacks s;
    py_pauser pz;
    py_output *out;
    stats st;
    bool exited;
    FILE *file; /* -o, opened before sampling so a bad path fails at once */
} run;

/* Which threads were running before we stopped them: judged per tid. */
typedef struct states {
    int n;
    long tid[PY_MAX_THREADS];
    char st[PY_MAX_THREADS];
} states;

static int sample_once(run *r)
{
    const opts *o = r->o;
    pid_t pid = (pid_t)o->pid;
    states ss = {0};
    if (!o->nonblocking) {
        /* States first: a stopped thread reads as 't'. */
        if (!o->idle)
            for (int i = 0; i < r->pz.n && ss.n < PY_MAX_THREADS; i++, ss.n++) {
                ss.tid[ss.n] = r->pz.tids[i];
                ss.st[ss.n] = py_task_state(pid, r->pz.tids[i]);
            }
    }
    int64_t t0 = now_ns();
    if (!o->nonblocking && py_pause_stop(&r->pz) != 0)
        return -ESRCH;
    r->st.stop_us_sum += (double)(now_ns() - t0) / 1000.0;
    int rc = py_read_stacks(&r->t, r->cc, &r->s, o->nonblocking);
    for (int k = 0; rc != 0 && o->nonblocking && k < TORN_RETRIES; k++) {
        r->st.torn++;
        rc = py_read_stacks(&r->t, r->cc, &r->s, true);
    }
    if (!o->nonblocking)
        py_pause_resume(&r->pz);
    r->st.read_us_sum += (double)(now_ns() - t0) / 1000.0;
    if (rc != 0)
        return alive(pid) ? -EIO : -ESRCH;
    for (int i = 0; i < r->s.nthreads; i++) {
        const py_thread *th = &r->s.threads[i];
        if (th->depth == 0 || (o->gil && !r->t.L->free_threaded && !th->holds_gil))
            continue;
        bool act = true;
        if (!o->idle && !o->nonblocking) {
            for (int k = 0; k < ss.n; k++)
                if (ss.tid[k] == th->tid)
                    act = ss.st[k] == 'R';
        } else {
            act = active(o, pid, th);
        }
        if (act)
            py_output_add(r->out, pid, th, o->threads);
    }
    return 0;
}

static void loop(run *r)
{
    const opts *o = r->o;
    int64_t interval = 1000000000LL / o->rate, start = now_ns();
    r->st.expected = o->rate * o->duration;
    for (long k = 1; k <= r->st.expected && !stop_requested; k++) {
        int64_t due = start + k * interval;
        struct timespec ts = {(time_t)(due / 1000000000LL), (long)(due % 1000000000LL)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
               !stop_requested)
            ;
        if (stop_requested)
            break;
        int64_t late = now_ns() - due;
        if (late > interval) {
            long skip = (long)(late / interval);
            r->st.missed += skip;
            k += skip;
            if (k > r->st.expected)
                break;
            late -= skip * interval;
        }
        double ms = (double)late / 1e6;
        r->st.lag_sum_ms += ms;
        if (ms > r->st.lag_max_ms)
            r->st.lag_max_ms = ms;
        int rc = sample_once(r);
        if (rc == -ESRCH) {
            r->exited = true;
            break;
        }
        if (rc == 0)
            r->st.taken++;
        else
            r->st.errors++;
    }
}

static int write_output(run *r)
{
    const opts *o = r->o;
    FILE *f = r->file;
    r->file = NULL;
    int rc = strcmp(o->format, "raw") == 0 ? py_output_write_raw(r->out, f)
                                           : py_output_write_speedscope(r->out, f, (int)o->rate);
    if (fclose(f) != 0 || rc != 0) {
        fprintf(stderr, "profd sample: cannot write %s: %s\n", o->out, strerror(errno));
        return -1;
    }
    return 0;
}

static void summary(const run *r)
{
    const stats *s = &r->st;
    double n = s->taken ? (double)s->taken : 1.0;
    char cost[96];
    if (r->o->nonblocking)
        snprintf(cost, sizeof(cost), "%.1f us per sample reading", s->read_us_sum / n);
    else
        snprintf(cost, sizeof(cost), "%.1f us per sample with the target paused (%.1f stopping it)",
                 s->read_us_sum / n, s->stop_us_sum / n);
    if (r->exited)
        fprintf(stderr, "Stopped sampling because process exited\n");
    else if (stop_requested)
        fprintf(stderr, "Stopped sampling because Control-C pressed\n");
    fprintf(stderr,
            "profd sample: Python %s, %s mode: %ld samples taken of %ld expected (%ld missed, "
            "%ld errors), lag mean %.3f ms max %.3f ms, %ld torn stacks retried, %s, %ld stacks "
            "written to %s\n",
            r->t.build, r->o->nonblocking ? "nonblocking" : "pausing", s->taken, s->expected,
            s->missed, s->errors, s->lag_sum_ms / n, s->lag_max_ms, s->torn, cost,
            py_output_samples(r->out), r->o->out);
}

static int start(run *r, char *msg, size_t len)
{
    pid_t pid = (pid_t)r->o->pid;
    int rc = py_locate(pid, &r->t, msg, len);
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
    if (!r->o->nonblocking) {
        int e = py_pause_attach(&r->pz, pid);
        if (e == -EPERM) {
            snprintf(msg, len, "%s", PROFD_PERMISSION_DENIED);
            return -1;
        }
        if (e != 0) {
            snprintf(msg, len, "Failed to profile process: no such process (pid %d)", (int)pid);
            return -1;
        }
    }
    py_tid_calibrate(&r->t);
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
            py_pause_detach(&r->pz);
        if (write_output(r) != 0)
            rc = PROFD_EXIT_FAIL;
        summary(r);
    }
    if (r->file)
        fclose(r->file);
    py_code_cache_free(r->cc);
    py_output_free(r->out);
    py_stacks_free(&r->s);
    free(r);
    return rc;
}
