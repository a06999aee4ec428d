/* proc.c - one sample of one process: which threads, stopped or not, read, unwound, written.
 *
 * The target and every process that --subprocesses follows (children.c) are
 * sampled by the same code, so they get the same care: each thread is judged
 * from /proc/PID/task/TID/stat (state 'R' = active; tasks.c keeps the files
 * open) unless --idle, or by the GIL with --gil (meaningless on a
 * free-threaded build: every thread is read). In pausing mode only the
 * threads to be read are stopped, for the length of the sample (pause.c:
 * seized, read, detached), in two passes over the thread list: the first
 * notes which threads to stop and reads none, the second reads those that
 * are held. --native unwinds them (native.c) while they are still held.
 * --nonblocking reads as the threads run, a torn read retried up to
 * TORN_RETRIES times and counted. When the main thread exits while others
 * run, reading goes on through a live thread until the process is gone.
 * Each stack then gets its thread name (threadnames.c) and its process
 * frames (--subprocesses), and goes to output.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profd/sampler.h"
#include "pysampler.h"

#define TORN_RETRIES 5

int64_t py_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool dead_state(char st)
{
    return st == 0 || st == 'Z' || st == 'X';
}

/* An exited main thread stays a zombie while the others run on. */
bool py_proc_alive(pid_t pid)
{
    if (!dead_state(py_task_state(pid, pid)))
        return true;
    pid_t one;
    return py_tasks_list(pid, &one, 1, true) > 0;
}

/* Is this thread to be read at this tick (before --gil, which needs no /proc)? */
static bool thread_active(py_proc *p, const py_thread *th)
{
    if (p->o->gil && !p->t.L->free_threaded && !th->holds_gil)
        return false; /* free-threaded: no GIL, --gil reads every thread (warned at start) */
    if (th->tid <= 0)
        return true;
    if (p->o->idle) /* only the main thread can linger as a zombie; others vanish at exit */
        return th->tid != p->pid || py_tasks_alive(&p->tasks, th->tid);
    char st = py_tasks_state(&p->tasks, th->tid);
    if (dead_state(st))
        return false; /* an exited thread's state lingers in the list: nothing to read */
    return st == 'R';
}

/* nonblocking: read the active threads. */
static bool want_active(void *ctx, const py_thread *th)
{
    return thread_active(ctx, th);
}

/* pausing, first pass: note which threads to stop, read none. */
static bool plan_stop(void *ctx, const py_thread *th)
{
    py_proc *p = ctx;
    if (!thread_active(p, th))
        return false;
    if (th->tid <= 0)
        p->want_all = true;
    else if (p->nwant < PY_MAX_THREADS)
        p->want[p->nwant++] = (pid_t)th->tid;
    return false;
}

/* pausing, second pass: read the threads that we hold stopped. */
static bool want_stopped(void *ctx, const py_thread *th)
{
    py_proc *p = ctx;
    if (th->tid <= 0)
        return p->want_all;
    if (!py_pause_is_stopped(&p->pz, (pid_t)th->tid))
        return false;
    for (int i = 0; i < p->nwant; i++)
        if (p->want[i] == (pid_t)th->tid)
            return true;
    return false;
}

/* How long a stop may wait for its threads: 50 ms, never past the end of the capture. */
static int stop_timeout_ms(int64_t end_ns)
{
    int64_t left = (end_ns - py_now_ns()) / 1000000 + 1;
    return left < 1 ? 1 : left > 50 ? 50 : (int)left;
}

/* --native: unwind the threads that will be written, while they are held. */
static void unwind_held(py_proc *p, const py_stacks *s)
{
    py_native_begin(p->nat);
    for (int i = 0; i < s->nthreads; i++) {
        const py_thread *th = &s->threads[i];
        if (!th->skipped && th->depth > 0)
            py_native_unwind(p->nat, th->tid);
    }
}

static int read_paused(py_proc *p, py_stacks *s, int64_t end_ns)
{
    py_filter plan = {plan_stop, p}, held = {want_stopped, p};
    py_pause_poll(&p->pz);
    p->nwant = 0;
    p->want_all = false;
    if (py_read_stacks(&p->t, p->cc, s, false, &plan) != 0)
        return -1;
    if (p->want_all) /* a thread of unknown tid: stop them all */
        p->nwant = py_tasks_list(p->pid, p->want, PY_MAX_THREADS, true);
    if (p->nwant <= 0)
        return 0; /* nothing active: nothing to stop (every thread read as skipped) */
    int64_t t0 = py_now_ns();
    int n = py_pause_stop(&p->pz, p->want, p->nwant, stop_timeout_ms(end_ns));
    p->stop_us_sum += (double)(py_now_ns() - t0) / 1000.0;
    int rc = n > 0 ? py_read_stacks(&p->t, p->cc, s, false, &held) : 0;
    if (rc == 0 && n > 0 && p->nat)
        unwind_held(p, s);
    py_pause_release(&p->pz);
    return rc;
}

static int read_nonblocking(py_proc *p, py_stacks *s)
{
    py_filter active = {want_active, p};
    int rc = py_read_stacks(&p->t, p->cc, s, true, &active);
    for (int k = 0; rc != 0 && k < TORN_RETRIES; k++) {
        p->torn++;
        rc = py_read_stacks(&p->t, p->cc, s, true, &active);
    }
    return rc;
}

/* After a failed read: the process is gone, or its main thread has exited (its address space
 * is then read through a live thread: true, try again), or the read was torn. */
static bool read_through_live_thread(py_proc *p)
{
    if (p->t.pid != p->pid || !dead_state(py_task_state(p->pid, p->pid)))
        return false;
    pid_t live;
    if (py_tasks_list(p->pid, &live, 1, true) != 1)
        return false;
    p->t.pid = live;
    return true;
}

static int read_once(py_proc *p, py_stacks *s, int64_t end_ns)
{
    return p->o->nonblocking ? read_nonblocking(p, s) : read_paused(p, s, end_ns);
}

/* Names, process frames and native frames, then the output. */
static void emit(py_proc *p, py_thread *th, py_output *out)
{
    th->name = py_names_get(&p->names, &p->t, th->thread_id); /* speedscope names them always */
    th->roots = p->roots;
    if (p->nat)
        py_native_merge(p->nat, th);
    py_output_add(out, p->pid, th, p->o->threads);
}

enum py_sample_result py_proc_sample(py_proc *p, py_stacks *s, int64_t end_ns, py_output *out)
{
    int64_t t0 = py_now_ns();
    py_tasks_sweep(&p->tasks);
    int rc = read_once(p, s, end_ns);
    if (rc != 0 && py_proc_alive(p->pid) && read_through_live_thread(p))
        rc = read_once(p, s, end_ns);
    p->read_us_sum += (double)(py_now_ns() - t0) / 1000.0;
    if (rc != 0)
        return py_proc_alive(p->pid) ? PY_SAMPLE_FAILED : PY_SAMPLE_GONE;
    for (int i = 0; i < s->nthreads; i++) {
        py_thread *th = &s->threads[i];
        if (!th->skipped && th->depth > 0)
            emit(p, th, out);
    }
    return PY_SAMPLE_OK;
}

/* A process that has exited and was not reaped yet: only its zombie main thread is left. */
static bool is_zombie(pid_t pid)
{
    char st = py_task_state(pid, pid);
    return (st == 'Z' || st == 'X') && !py_proc_alive(pid);
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
static int probe_pause(py_proc *p, char *msg, size_t len)
{
    pid_t live;
    py_pause_init(&p->pz, p->pid);
    if (py_tasks_list(p->pid, &live, 1, true) != 1)
        live = p->pid;
    int e = -EPERM;
    for (int tries = 0; e == -EPERM && tries < 50; tries++) {
        if (tries > 0) {
            if (tracer_of(p->pid, live) <= 0)
                break; /* refused with no tracer: not ours to trace */
            nanosleep(&(struct timespec){0, 5000000}, NULL);
        }
        e = py_pause_stop(&p->pz, &live, 1, 1000);
        py_pause_release(&p->pz);
    }
    if (e == -EPERM) {
        snprintf(msg, len, "%s", PROFD_PERMISSION_DENIED);
        return -1;
    }
    if (e <= 0 && !py_proc_alive(p->pid)) {
        snprintf(msg, len, "Failed to profile process: no such process (pid %d)", (int)p->pid);
        return -1;
    }
    return 0;
}

static int open_steps(py_proc *p, char *msg, size_t len)
{
    if (is_zombie(p->pid)) {
        snprintf(msg, len,
                 "Failed to profile process: pid %d is a zombie (it has exited and its parent "
                 "has not reaped it yet)",
                 (int)p->pid);
        return -1;
    }
    /* An exited main thread has no address space left to show (its maps are empty): locate and
     * read through a live thread, which shares it. */
    pid_t reader = p->pid;
    if (dead_state(py_task_state(p->pid, p->pid)) && py_tasks_list(p->pid, &reader, 1, true) != 1)
        reader = p->pid;
    int rc = py_locate(reader, &p->t, msg, len);
    if (rc != PY_OK && reader == p->pid && dead_state(py_task_state(p->pid, p->pid)) &&
        py_tasks_list(p->pid, &reader, 1, true) == 1)
        rc = py_locate(reader, &p->t, msg, len); /* the main thread exited while we looked */
    if (rc != PY_OK)
        return -1;
    if (!p->o->nonblocking && probe_pause(p, msg, len) != 0)
        return -1;
    py_tasks_init(&p->tasks, p->pid);
    py_tid_calibrate(&p->t, p->pid);
    py_names_init(&p->names);
    p->cc = py_code_cache_new();
    if (!p->cc) {
        snprintf(msg, len, "profd sample: out of memory");
        return -1;
    }
    if (p->o->native && !(p->nat = py_native_new(p->pid))) {
        snprintf(msg, len, "profd sample: --native: libdw cannot read the modules of pid %d",
                 (int)p->pid);
        return -1;
    }
    return 0;
}

int py_proc_open(py_proc *p, pid_t pid, const py_proc_opts *o, char *msg, size_t len)
{
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    p->o = o;
    if (open_steps(p, msg, len) == 0)
        return PY_OK;
    py_proc_close(p);
    return -1;
}

void py_proc_close(py_proc *p)
{
    if (p->cc && !p->o->nonblocking)
        py_pause_finish(&p->pz, 200);
    py_code_cache_free(p->cc);
    p->cc = NULL;
    py_native_free(p->nat);
    p->nat = NULL;
    py_tasks_free(&p->tasks);
}
