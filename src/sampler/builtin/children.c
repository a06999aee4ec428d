/* children.c - `--subprocesses`: the target's descendants, followed for the whole capture.
 *
 * Every SCAN_NS (100 ms, as py-spy's monitor thread) the process list is
 * scanned for processes new since the last scan: /proc is listed (one
 * getdents), and only pids not present in the previous listing have their
 * /proc/PID/stat read for the parent pid, so a scan costs one directory read
 * plus one small read per new process, not one per process on the machine
 * (this kernel has no /proc/PID/task/TID/children). A new process whose parent
 * is the target or one of its followed descendants joins the family (parents
 * of a batch first, so a child and grandchild born in the same interval are
 * both found). Each member is located like the target (py_locate); one that is
 * not Python (a shell, or not yet exec'd into Python) is kept for the process
 * chain and tried again for its first second and after every exec (its
 * /proc/PID/exe or its command line changed, or three samples in a row failed),
 * since a fork of Python is Python until it execs, often into Python again.
 * Python members are sampled every tick by the code that samples the target
 * (proc.c), in the capture's mode and with the same --idle, --gil, --threads
 * and --native handling.
 *
 * Stacks are rooted as py-spy roots them: `process PID:"cmdline"` for the
 * target, then for each ancestor down to the process itself (cmdline = the
 * non-empty NUL-separated arguments joined by spaces). A member that exits (no
 * /proc entry, a zombie, or its sample finds it gone) is dropped with its
 * caches. Members are traced only within a sample, as the target is, so
 * nothing of their exit waits on us. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pysampler.h"

#define SCAN_NS 100000000LL
#define RETRY_SCANS 10
#define MAX_MEMBERS 64
#define PID_BITS 4194304 /* PID_MAX_LIMIT on 64-bit */

typedef struct member {
    pid_t pid, ppid;
    char exe[512];
    char frame[1100]; /* process PID:"cmdline" */
    char roots[8192]; /* frames from the target down to this one, one a line */
    bool python, counted;
    int retries, failures; /* locate attempts left; samples failed in a row */
    py_proc p;
} member;

struct py_family {
    pid_t root;
    py_proc_opts o;
    char root_frame[1100];
    int n;
    member *m[MAX_MEMBERS];
    uint8_t *seen, *now; /* pid bitmaps of the last and the current listing */
    int64_t scanned;
    py_family_stats st;
};

static void process_frame(pid_t pid, char *out, size_t len)
{
    char name[64], buf[1024];
    snprintf(name, sizeof(name), "/proc/%d/cmdline", (int)pid);
    size_t n = 0;
    FILE *f = fopen(name, "r");
    if (f) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    /* non-empty arguments joined by one space; a newline inside one would end the frame in
     * roots (one frame a line), so control characters become spaces */
    char cmd[1024];
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = strnlen(buf + i, n - i);
        if (l && o + l + 2 < sizeof(cmd)) {
            if (o)
                cmd[o++] = ' ';
            for (size_t k = 0; k < l; k++)
                cmd[o++] = (unsigned char)buf[i + k] < 0x20 ? ' ' : buf[i + k];
        }
        i += l + 1;
    }
    cmd[o] = '\0';
    snprintf(out, len, "process %d:\"%s\"", (int)pid, cmd);
}

static void exe_of(pid_t pid, char *out, size_t len)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(link, out, len - 1);
    out[n > 0 ? n : 0] = '\0';
}

static pid_t parent_of(pid_t pid)
{
    char name[64], buf[512];
    snprintf(name, sizeof(name), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(name, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* "pid (comm) S ppid ..." */
    int ppid = 0;
    if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
        return 0;
    return (pid_t)ppid;
}

py_family *py_family_new(pid_t root, const py_proc_opts *o)
{
    py_family *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->root = root;
    f->o = *o;
    f->seen = calloc(PID_BITS / 8, 1);
    f->now = calloc(PID_BITS / 8, 1);
    if (!f->seen || !f->now) {
        py_family_free(f);
        return NULL;
    }
    process_frame(root, f->root_frame, sizeof(f->root_frame));
    return f;
}

const char *py_family_root_frames(const py_family *f)
{
    return f->root_frame;
}

const py_family_stats *py_family_stats_of(const py_family *f)
{
    return &f->st;
}

static member *find(py_family *f, pid_t pid)
{
    for (int i = 0; i < f->n; i++)
        if (f->m[i]->pid == pid)
            return f->m[i];
    return NULL;
}

static void build_roots(py_family *f, member *c)
{
    /* ancestors from the process up; then written root first */
    const char *chain[MAX_MEMBERS + 1];
    int k = 0;
    for (member *a = c; a && k < MAX_MEMBERS; a = find(f, a->ppid))
        chain[k++] = a->frame;
    chain[k++] = f->root_frame;
    size_t o = 0;
    c->roots[0] = '\0';
    for (int i = k - 1; i >= 0; i--) {
        int w = snprintf(c->roots + o, sizeof(c->roots) - o, "%s%s", o ? "\n" : "", chain[i]);
        if (w < 0 || (size_t)w >= sizeof(c->roots) - o)
            break;
        o += (size_t)w;
    }
}

static void unlocate(member *c)
{
    if (c->python)
        py_proc_close(&c->p);
    c->python = false;
}

static void try_locate(py_family *f, member *c)
{
    char msg[512];
    if (py_proc_open(&c->p, c->pid, &f->o, msg, sizeof(msg)) != PY_OK)
        return;
    c->p.roots = c->roots;
    c->python = true;
    if (!c->counted) /* members that were Python at some point, each once */
        f->st.python++;
    c->counted = true;
}

static void drop(py_family *f, int i)
{
    member *c = f->m[i];
    unlocate(c);
    free(c);
    f->m[i] = f->m[--f->n];
    f->st.exited++;
}

static bool gone(pid_t pid)
{
    char st = py_task_state(pid, pid);
    return st == 0 || st == 'Z' || st == 'X';
}

static void scan(py_family *f)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    static pid_t fresh[16384], parent[16384];
    int nf = 0;
    memset(f->now, 0, PID_BITS / 8);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid = strtol(e->d_name, NULL, 10);
        if (pid <= 0 || pid >= PID_BITS)
            continue;
        f->now[pid >> 3] |= (uint8_t)(1u << (pid & 7));
        if (!(f->seen[pid >> 3] & (1u << (pid & 7))) && nf < 16384)
            fresh[nf++] = (pid_t)pid;
    }
    closedir(d);
    uint8_t *t = f->seen;
    f->seen = f->now;
    f->now = t;
    for (int i = 0; i < nf; i++)
        parent[i] = parent_of(fresh[i]);
    /* parents before children: repeat while members are added */
    for (bool added = true; added;) {
        added = false;
        for (int i = 0; i < nf; i++) {
            if (!fresh[i] || !parent[i] || f->n >= MAX_MEMBERS)
                continue;
            if (parent[i] != f->root && !find(f, parent[i]))
                continue;
            member *c = calloc(1, sizeof(*c));
            if (!c)
                return;
            c->pid = fresh[i];
            c->ppid = parent[i];
            fresh[i] = 0;
            f->m[f->n++] = c;
            f->st.found++;
            added = true;
        }
    }
    for (int i = f->n - 1; i >= 0; i--) {
        member *c = f->m[i];
        if (gone(c->pid)) {
            drop(f, i);
            continue;
        }
        char exe[512], frame[sizeof(c->frame)];
        exe_of(c->pid, exe, sizeof(exe));
        process_frame(c->pid, frame, sizeof(frame));
        /* New, or exec'd since (a fork of Python execs Python again: the command line tells) */
        if (strcmp(exe, c->exe) != 0 || strcmp(frame, c->frame) != 0 || c->failures >= 3) {
            snprintf(c->exe, sizeof(c->exe), "%s", exe);
            snprintf(c->frame, sizeof(c->frame), "%s", frame);
            unlocate(c);
            c->retries = 0;
            c->failures = 0;
        }
        if (!c->python && c->retries < RETRY_SCANS) {
            c->retries++;
            try_locate(f, c);
        }
    }
    for (int i = 0; i < f->n; i++)
        build_roots(f, f->m[i]);
}

void py_family_tick(py_family *f, py_stacks *s, int64_t end_ns, py_output *out)
{
    int64_t t = py_now_ns();
    if (t - f->scanned >= SCAN_NS) {
        scan(f);
        f->scanned = t;
    }
    for (int i = f->n - 1; i >= 0; i--) {
        member *c = f->m[i];
        if (!c->python)
            continue;
        long before = py_output_samples(out);
        enum py_sample_result rc = py_proc_sample(&c->p, s, end_ns, out);
        f->st.stacks += py_output_samples(out) - before;
        c->failures = rc == PY_SAMPLE_FAILED ? c->failures + 1 : 0; /* 3 in a row: locate again */
        if (rc == PY_SAMPLE_FAILED)
            f->st.errors++;
        else if (rc == PY_SAMPLE_GONE)
            drop(f, i);
    }
}

void py_family_free(py_family *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++) {
        unlocate(f->m[i]);
        free(f->m[i]);
    }
    free(f->seen);
    free(f->now);
    free(f);
}
