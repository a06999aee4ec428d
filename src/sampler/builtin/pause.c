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
#include <sys/wait.h>

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

/* Wait for tid's interrupt stop; false if the thread is gone. */
static bool wait_stop(pid_t tid)
{
    for (;;) {
        int st;
        pid_t r = waitpid(tid, &st, __WALL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st))
            return false;
        if (!WIFSTOPPED(st))
            continue;
        if ((st >> 16) == PTRACE_EVENT_STOP)
            return true;
        /* signal-delivery-stop: deliver it and keep waiting for our stop. */
        if (ptrace(PTRACE_CONT, tid, NULL, (void *)(long)WSTOPSIG(st)) != 0)
            return false;
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
    for (int i = 0; i < p->n;) {
        if (!wait_stop(p->tids[i])) {
            forget(p, i);
            continue;
        }
        i++;
    }
    return p->n > 0 ? 0 : -ESRCH;
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
    for (int i = 0; i < p->n; i++)
        if (wait_stop(p->tids[i]))
            ptrace(PTRACE_DETACH, p->tids[i], NULL, NULL);
    p->n = 0;
}
