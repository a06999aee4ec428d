/* tasks.c - the state of the target's threads, read cheaply and often.
 *
 * Without --idle every sample asks, per thread, whether it is running ('R' in
 * /proc/PID/task/TID/stat). Opening, reading and closing that file for every
 * thread at every tick made the sampler's cost grow with idle threads (path
 * lookup, a new file, a procfs inode). Instead each thread's stat file is
 * opened once and re-read with one pread at offset 0 (procfs regenerates it on
 * every read from the start). A pread that fails means the thread is gone: its
 * descriptor is closed.
 *
 * Even so, stat costs ~15 us per thread on a loaded machine (the kernel fills in
 * 52 fields), while schedstat (run time, run-queue wait, times scheduled: 3 numbers) costs
 * ~3 us. So schedstat is read first: a thread that was not running at its last check and whose
 * schedstat has not changed since has not been on a CPU since, and is still idle; only the
 * others have their stat read. The one case judged differently from a fresh stat is a thread
 * woken a moment ago that waits for a CPU and has not run yet (runnable, 'R'): it reads as idle
 * until it runs, which is at most the scheduling latency. A kernel without schedstats
 * (all zeros) gets stat every time. Whether a thread is alive at all (with --idle, for the
 * main thread, which can linger as a zombie) needs even less: a thread whose schedstat moved
 * since the last check has run since, so only an unchanged one has its stat read. Descriptors of
 * threads not asked about for a while are closed by py_tasks_sweep, so a target that starts and
 * ends threads all the time does not make us keep descriptors. */
#include <dirent.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pysampler.h"

#define NTASKS ((int)(sizeof(((py_tasks *)0)->tid) / sizeof(long)))

void py_tasks_init(py_tasks *c, pid_t pid)
{
    memset(c, 0, sizeof(*c));
    c->pid = pid;
}

static void drop(py_tasks *c, int i)
{
    close(c->fd[i]);
    if (c->sfd[i] >= 0)
        close(c->sfd[i]);
    c->n--;
    c->tid[i] = c->tid[c->n];
    c->fd[i] = c->fd[c->n];
    c->sfd[i] = c->sfd[c->n];
    c->sched[i] = c->sched[c->n];
    c->last[i] = c->last[c->n];
    c->used[i] = c->used[c->n];
}

void py_tasks_free(py_tasks *c)
{
    while (c->n > 0)
        drop(c, c->n - 1);
}

static int slot(py_tasks *c, long tid)
{
    for (int i = 0; i < c->n; i++)
        if (c->tid[i] == tid)
            return i;
    if (c->n >= NTASKS)
        return -1;
    char name[96];
    snprintf(name, sizeof(name), "/proc/%d/task/%ld/stat", (int)c->pid, tid);
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    snprintf(name, sizeof(name), "/proc/%d/task/%ld/schedstat", (int)c->pid, tid);
    c->tid[c->n] = tid;
    c->fd[c->n] = fd;
    c->sfd[c->n] = open(name, O_RDONLY | O_CLOEXEC);
    c->sched[c->n] = 0;
    c->last[c->n] = 0;
    return c->n++;
}

/* A hash of the thread's schedstat line into *h (0: unknown, no schedstats); false when the
 * thread is gone. */
static bool schedstat(py_tasks *c, int i, uint64_t *out)
{
    char buf[128];
    *out = 0;
    if (c->sfd[i] < 0)
        return true;
    ssize_t n = pread(c->sfd[i], buf, sizeof(buf), 0);
    if (n <= 0)
        return false;
    uint64_t h = 1469598103934665603ULL;
    bool zeros = true;
    for (ssize_t k = 0; k < n; k++) {
        zeros &= buf[k] == '0' || buf[k] == ' ' || buf[k] == '\n';
        h = (h ^ (uint8_t)buf[k]) * 1099511628211ULL;
    }
    *out = zeros ? 0 : h | 1;
    return true;
}

/* No thread, an exited one, or a zombie */
static bool gone(char st)
{
    return st == 0 || st == 'Z' || st == 'X';
}

/* The state letter from the thread's stat, remembered with its schedstat hash; 0 when gone. */
static char stat_state(py_tasks *c, int i, uint64_t sched)
{
    char buf[512];
    ssize_t n = pread(c->fd[i], buf, sizeof(buf) - 1, 0);
    if (n <= 0) {
        drop(c, i);
        return 0;
    }
    buf[n] = '\0';
    /* "tid (comm) S ...": comm may hold spaces and parentheses, so use the last ')'. */
    char *p = strrchr(buf, ')');
    c->sched[i] = sched;
    c->last[i] = p && p[1] == ' ' ? p[2] : 0;
    return c->last[i];
}

/* The thread's slot and its fresh schedstat hash, or -1 when it has no slot (*st then holds
 * its state, read the slow way) or is gone (*st 0). */
static int lookup(py_tasks *c, long tid, uint64_t *sched, char *st)
{
    int i = slot(c, tid);
    if (i < 0) {
        *st = py_task_state(c->pid, tid); /* table full: the slow way */
        return -1;
    }
    c->used[i] = c->tick;
    if (!schedstat(c, i, sched)) { /* gone */
        drop(c, i);
        *st = 0;
        return -1;
    }
    return i;
}

char py_tasks_state(py_tasks *c, long tid)
{
    uint64_t sched;
    char st;
    int i = lookup(c, tid, &sched, &st);
    if (i < 0)
        return st;
    char last = c->last[i];
    if (sched && sched == c->sched[i] && last && last != 'R')
        return last; /* not on a CPU since the last check: still idle */
    return stat_state(c, i, sched);
}

bool py_tasks_alive(py_tasks *c, long tid)
{
    uint64_t sched;
    char st;
    int i = lookup(c, tid, &sched, &st);
    if (i < 0)
        return !gone(st);
    if (sched && c->sched[i] && sched != c->sched[i]) {
        c->sched[i] = sched; /* it ran since the last check; its state letter is not known */
        c->last[i] = 0;
        return true;
    }
    return !gone(stat_state(c, i, sched));
}

void py_tasks_sweep(py_tasks *c)
{
    c->tick++;
    for (int i = c->n - 1; i >= 0; i--)
        if (c->tick - c->used[i] > 100)
            drop(c, i);
}

int py_tasks_list(pid_t pid, pid_t *tids, int max, bool live_only)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL && n < max) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0)
            continue;
        char st = live_only ? py_task_state(pid, tid) : 'R';
        if (!gone(st))
            tids[n++] = tid;
    }
    closedir(d);
    return n;
}
