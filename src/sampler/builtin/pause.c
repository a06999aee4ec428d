/* pause.c - stopping every thread of the target around a sample.
 *
 * Each thread is attached once with PTRACE_SEIZE (no stop, no signal), then
 * for each sample stopped with PTRACE_INTERRUPT + waitpid(__WALL) and started
 * again with PTRACE_CONT. SEIZE rather than ATTACH matters for safety: when the
 * tracer dies, the kernel detaches its tracees and a thread in an
 * INTERRUPT-stop is woken up, so a sampler SIGKILLed in the middle of a
 * sample cannot leave the target stopped (tests/sampler_builtin checks this
 * by killing samplers repeatedly). /proc/PID/task is re-read before every
 * stop so threads started since the last sample are seized too; threads that
 * have exited drop out when ptrace or waitpid says ESRCH / exited.
 *
 * A signal that reaches a thread while we wait for its stop shows up as a
 * signal-delivery-stop: it is passed on at once with PTRACE_CONT(sig) and we
 * keep waiting for the interrupt stop, so the target's signals are neither
 * lost nor delayed beyond one sample. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "pysampler.h"

#define MAX_TASKS ((int)(sizeof(((py_pauser *)0)->tids) / sizeof(pid_t)))

static bool known(const py_pauser *p, pid_t tid)
{
    for (int i = 0; i < p->n; i++)
        if (p->tids[i] == tid)
            return true;
    return false;
}

/* Seize threads not seen before. -1 with errno when /proc/PID/task is gone. */
static int seize_new(py_pauser *p)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)p->pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int err = 0;
    while ((e = readdir(d)) != NULL) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || known(p, tid) || p->n >= MAX_TASKS)
            continue;
        if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0) {
            if (errno == EPERM)
                err = EPERM;
            continue;
        }
        p->tids[p->n] = tid;
        p->seized[p->n] = true;
        p->n++;
    }
    closedir(d);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

static void forget(py_pauser *p, int i)
{
    p->tids[i] = p->tids[p->n - 1];
    p->seized[i] = p->seized[p->n - 1];
    p->n--;
}

int py_pause_attach(py_pauser *p, pid_t pid)
{
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    if (seize_new(p) != 0)
        return -errno;
    return p->n > 0 ? 0 : -ESRCH;
}

static int index_of(const py_pauser *p, pid_t tid)
{
    for (int i = 0; i < p->n; i++)
        if (p->tids[i] == tid)
            return i;
    return -1;
}

static bool task_gone(pid_t pid, pid_t tid)
{
    char st = py_task_state(pid, tid);
    return st == 0 || st == 'Z' || st == 'X';
}

/* Handle one wait status of a tracee; updates stopped[] / gone[]. Returns 1 when that tracee
 * is now accounted for (stopped or gone). */
static int on_status(const py_pauser *p, pid_t tid, int st, bool *stopped, bool *gone)
{
    int i = index_of(p, tid);
    if (i < 0 && WIFSTOPPED(st) && (st >> 16) == 0) {
        /* a tracee of another pauser (--subprocesses) got a signal: pass it on now */
        ptrace(PTRACE_CONT, tid, NULL, (void *)(long)WSTOPSIG(st));
        return 0;
    }
    if (i < 0 || stopped[i] || gone[i])
        return 0;
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
        gone[i] = true;
        return 1;
    }
    if (!WIFSTOPPED(st))
        return 0;
    if ((st >> 16) == PTRACE_EVENT_STOP) {
        stopped[i] = true;
        return 1;
    }
    /* signal-delivery-stop: deliver it now; the interrupt stop follows. */
    if (ptrace(PTRACE_CONT, tid, NULL, (void *)(long)WSTOPSIG(st)) != 0) {
        gone[i] = true;
        return 1;
    }
    return 0;
}

static void on_alarm(int sig)
{
    (void)sig; /* only there to interrupt waitpid */
}

static void arm(long usec)
{
    struct itimerval it = {{0, 0}, {0, usec}};
    setitimer(ITIMER_REAL, &it, NULL);
}

/* Collect the interrupt stop of every tracee, or learn that it is gone. waitpid(-1) blocks until
 * a tracee reports, which wakes us the moment a thread stops; but it must never wait forever: an
 * exited thread group leader stays a zombie without reporting until the other threads exit, and
 * those may be stopped by us. So a 5 ms interval timer (SIGALRM, no SA_RESTART) interrupts the
 * wait, and then /proc tells which pending threads are zombies or gone. Threads found gone are
 * forgotten. */
static void collect(py_pauser *p)
{
    bool stopped[1024] = {false}, gone[1024] = {false};
    int pending = p->n;
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    arm(5000);
    while (pending > 0) {
        int st;
        pid_t r = waitpid(-1, &st, __WALL);
        if (r > 0) {
            pending -= on_status(p, r, st, stopped, gone);
            continue;
        }
        if (errno != EINTR) { /* ECHILD: no tracee left */
            for (int i = 0; i < p->n; i++)
                gone[i] = gone[i] || !stopped[i];
            break;
        }
        for (int i = 0; i < p->n; i++)
            if (!stopped[i] && !gone[i] && task_gone(p->pid, p->tids[i])) {
                gone[i] = true;
                pending--;
            }
        arm(5000);
    }
    arm(0);
    sigaction(SIGALRM, &old, NULL);
    for (int i = p->n - 1; i >= 0; i--)
        if (gone[i]) {
            forget(p, i);
            gone[i] = gone[p->n]; /* forget() moved the last entry to i */
            stopped[i] = stopped[p->n];
        }
}

int py_pause_stop(py_pauser *p)
{
    if (seize_new(p) != 0 && errno != EPERM)
        return -ESRCH;
    for (int i = 0; i < p->n;) {
        if (ptrace(PTRACE_INTERRUPT, p->tids[i], NULL, NULL) != 0) {
            forget(p, i);
            continue;
        }
        i++;
    }
    collect(p);
    return p->n > 0 && !task_gone(p->pid, p->pid) ? 0 : -ESRCH;
}

void py_pause_resume(py_pauser *p)
{
    for (int i = 0; i < p->n; i++)
        ptrace(PTRACE_CONT, p->tids[i], NULL, NULL);
}

void py_pause_detach(py_pauser *p)
{
    if (p->n == 0)
        return;
    /* PTRACE_DETACH needs a stopped tracee. */
    for (int i = 0; i < p->n; i++)
        ptrace(PTRACE_INTERRUPT, p->tids[i], NULL, NULL);
    collect(p);
    for (int i = 0; i < p->n; i++)
        ptrace(PTRACE_DETACH, p->tids[i], NULL, NULL);
    p->n = 0;
}
