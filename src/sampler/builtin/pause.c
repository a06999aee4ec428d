/* pause.c - stopping the threads that will be read, for the length of one sample.
 *
 * A thread is traced only while we read it: each sample seizes the threads it
 * is about to read (PTRACE_SEIZE, then PTRACE_INTERRUPT), waits for their
 * stops and lets them go with PTRACE_DETACH. Between samples the target is not
 * traced at all, so nothing of it can wait on us: a signal that arrives
 * between ticks is delivered by the kernel as if we did not exist, a fork, an
 * exec or a wait in the target is not reported to us, and an exited main
 * thread cannot make us wait for a stop that never comes. SEIZE rather than
 * ATTACH matters for safety too: when the tracer dies (even SIGKILLed in the
 * middle of a sample) the kernel detaches its tracees and wakes threads in an
 * INTERRUPT-stop, so the target is never left stopped (tests/sampler_builtin
 * kills samplers mid-sample and checks).
 *
 * Signals during a sample. A signal that reaches a thread while we hold it
 * (or before our INTERRUPT lands) shows up as a signal-delivery-stop. That
 * stop is as good as ours for reading memory, so the thread counts as stopped
 * and the signal is handed back with PTRACE_DETACH(sig), which injects it; the
 * pending INTERRUPT trap is cleared by the detach. The signal is therefore
 * late by at most the length of one sample, never by a tick. A thread in a
 * job-control stop (state T) reports a group-stop: it is read where it is,
 * and the detach leaves it in its group-stop, so SIGSTOP/SIGCONT from others
 * keep their meaning.
 *
 * Waiting. SIGCHLD is blocked in the sampler, so tracee stops queue it;
 * waitpid(WNOHANG) drains the statuses and sigtimedwait sleeps until the next
 * one or the deadline. A thread whose stop has not come by the deadline (it
 * may be stuck in uninterruptible I/O, or starved of CPU) is not read this
 * time; it stays "late" and is detached as soon as its stop arrives: the
 * sampler waits for SIGCHLD while it sleeps to the next tick
 * (py_pause_linger), so a late thread is let go the moment it stops, not a
 * tick later (at 1 Hz that was up to 1.5 s held), and every tick polls for it
 * too (py_pause_poll), because a late thread, stopped by us, reads as not
 * running ('t') and would otherwise never be wanted again. At the end py_pause_finish waits a
 * little for late threads; if any is still pending when we exit, the kernel's exit-time detach
 * frees it. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

#include "pysampler.h"

#define NLATE ((int)(sizeof(((py_pauser *)0)->late) / sizeof(pid_t)))

void py_pause_init(py_pauser *p, pid_t pid)
{
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
}

static int held_index(const py_pauser *p, pid_t tid)
{
    for (int i = 0; i < p->n; i++)
        if (p->tids[i] == tid)
            return i;
    return -1;
}

static int late_index(const py_pauser *p, pid_t tid)
{
    for (int i = 0; i < p->nlate; i++)
        if (p->late[i] == tid)
            return i;
    return -1;
}

static void late_add(py_pauser *p, pid_t tid)
{
    if (p->nlate < NLATE)
        p->late[p->nlate++] = tid;
}

/* A status of a thread from an earlier sample whose stop came after its deadline. */
/* A status of a tracee this sample does not hold: a late one of an earlier sample (of this
 * pauser, or of another one: waitpid(-1) sees every tracee of the sampler, and --subprocesses
 * runs a pauser per process). A stopped one is let go at once, its signal handed back; whoever
 * listed it as late finds it untraced at its next seize. */
static void late_status(py_pauser *p, pid_t tid, int st)
{
    if (WIFSTOPPED(st)) {
        int sig = (st >> 16) == 0 ? WSTOPSIG(st) : 0;
        ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)sig);
    }
    int i = late_index(p, tid);
    if (i >= 0)
        p->late[i] = p->late[--p->nlate];
}

/* One wait status. Returns 1 when a held thread is now accounted for (stopped or gone). */
static int on_status(py_pauser *p, pid_t tid, int st)
{
    int i = held_index(p, tid);
    if (i < 0) {
        late_status(p, tid, st);
        return 0;
    }
    if (p->state[i] != PY_HELD_WAITING)
        return 0;
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
        p->state[i] = PY_HELD_GONE;
        return 1;
    }
    if (!WIFSTOPPED(st))
        return 0;
    /* An interrupt or group stop (event in the high bits), or a signal-delivery-stop: the signal
     * goes back at the detach. */
    p->sig[i] = (st >> 16) == 0 ? WSTOPSIG(st) : 0;
    p->state[i] = PY_HELD_STOPPED;
    return 1;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Drain wait statuses until no held thread is pending or the deadline passes. The first
 * SPIN_NS poll without sleeping: a running thread stops within tens of microseconds, and a
 * sampler that slept would have to be scheduled again before it can read and let go of the
 * threads, time they spend stopped (on a loaded machine, milliseconds). */
#define SPIN_NS 200000
static void collect(py_pauser *p, int pending, int64_t deadline)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    int64_t spin_until = mono_ns() + SPIN_NS;
    for (;;) {
        int st;
        pid_t r;
        while ((r = waitpid(-1, &st, __WALL | WNOHANG)) > 0)
            pending -= on_status(p, r, st);
        if (pending <= 0 || r < 0) /* r < 0: ECHILD, no tracee left */
            return;
        int64_t now = mono_ns(), left = deadline - now;
        if (left <= 0)
            return;
        if (now < spin_until)
            continue;
        struct timespec ts = {(time_t)(left / 1000000000LL), (long)(left % 1000000000LL)};
        sigtimedwait(&chld, NULL, &ts);
    }
}

void py_pause_poll(py_pauser *p)
{
    if (p->nlate > 0)
        collect(p, 0, 0);
}

void py_pause_linger(py_pauser *p, int64_t until_ns)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    while (p->nlate > 0) {
        py_pause_poll(p);
        int64_t left = until_ns - mono_ns();
        if (p->nlate == 0 || left <= 0)
            return;
        struct timespec ts = {(time_t)(left / 1000000000LL), (long)(left % 1000000000LL)};
        sigtimedwait(&chld, NULL, &ts);
    }
}

int py_pause_stop(py_pauser *p, const pid_t *tids, int n, int timeout_ms)
{
    int64_t deadline = mono_ns() + (int64_t)timeout_ms * 1000000LL;
    int pending = 0, perm = 0;
    p->n = 0;
    for (int i = 0; i < n && p->n < PY_MAX_THREADS; i++) {
        int late = late_index(p, tids[i]);
        if (ptrace(PTRACE_SEIZE, tids[i], NULL, NULL) != 0) {
            /* gone, or a late one still traced by us (its stop is pending): not this time */
            perm |= errno == EPERM && late < 0;
            continue;
        }
        if (late >= 0) /* it was let go meanwhile (see late_status): not late any more */
            p->late[late] = p->late[--p->nlate];
        if (ptrace(PTRACE_INTERRUPT, tids[i], NULL, NULL) != 0)
            continue; /* exited between the two calls; its exit status is reaped as late */
        p->tids[p->n] = tids[i];
        p->sig[p->n] = 0;
        p->state[p->n] = PY_HELD_WAITING;
        p->n++;
        pending++;
    }
    if (p->n == 0 && perm)
        return -EPERM;
    collect(p, pending, deadline);
    int stopped = 0;
    for (int i = 0; i < p->n; i++)
        stopped += p->state[i] == PY_HELD_STOPPED;
    return stopped;
}

bool py_pause_is_stopped(const py_pauser *p, pid_t tid)
{
    int i = held_index(p, tid);
    return i >= 0 && p->state[i] == PY_HELD_STOPPED;
}

void py_pause_release(py_pauser *p)
{
    for (int i = 0; i < p->n; i++) {
        if (p->state[i] == PY_HELD_STOPPED)
            ptrace(PTRACE_DETACH, p->tids[i], NULL, (void *)(long)p->sig[i]);
        else if (p->state[i] == PY_HELD_WAITING)
            late_add(p, p->tids[i]);
    }
    p->n = 0;
}

void py_pause_finish(py_pauser *p, int timeout_ms)
{
    py_pause_release(p);
    int64_t deadline = mono_ns() + (int64_t)timeout_ms * 1000000LL;
    while (p->nlate > 0 && mono_ns() < deadline) {
        collect(p, 1, mono_ns() + 5000000LL);
    }
}
