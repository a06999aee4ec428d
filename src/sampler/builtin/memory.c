/* memory.c - `profd sample memory`: live memory of a CPython 3.14+ process (docs/memory.md).
 *
 * The worker runs this like the CPU samplers, as a supervised child (capture.c). In order:
 *   1. refuse what cannot work (remote.c: older than 3.14, remote debugging disabled,
 *      free-threaded, unknown layout), before anything is written anywhere;
 *   2. measure the target's own CPU time over a baseline window (min(window, 10 s)): the
 *      reference for the overhead, taken in the same run;
 *   3. make a fresh directory under the target's root (/proc/PID/root/tmp/profd-memory.XXXXXXXX,
 *      mode 0700) and in it the script and the output file, each with O_EXCL, mode 0600, all
 *      owned by the target's effective uid and gid, so the target (and nobody else) can read
 *      the script and write the output;
 *   4. ask the target to run the script (PEP 768, remote.c): main thread first, every thread
 *      after a second; if no thread takes it within the attach timeout (all blocked in C),
 *      take the request back, remove the files and exit PROFD_MEMORY_EXIT_TIMEOUT: the
 *      target is as it was;
 *   5. wait for the script's "# end" (window + PROFD_MEMORY_FINISH_TIMEOUT_S at most),
 *      measuring the target's CPU time from the moment the script started (it removes its
 *      file once tracing is on; a request taken but never started fails in 3 s);
 *   6. parse the output as untrusted (profd_memory_parse), write its stacks (-o) and a JSON
 *      summary (--summary), remove the directory.
 * The script text is memory_script.py, embedded at build time; the stub written for the
 * target passes it only numbers and the directory name, which profd made and checks. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "profd/cli.h"
#include "profd/sampler.h"
#include "pysampler.h"

static const unsigned char script_text[] = {
#include "memory_script.inc"
};

#define ARM_ALL_AFTER_MS 1000
#define POLL_MS 50

typedef struct mopts {
    long pid, window, frames, baseline, attach_timeout;
    const char *out, *summary;
} mopts;

static int parse(int argc, char **argv, mopts *o)
{
    *o = (mopts){.window = 10,
                 .frames = 64,
                 .baseline = -1,
                 .attach_timeout = PROFD_MEMORY_ATTACH_TIMEOUT_S};
    for (int i = 1; i < argc; i += 2) { /* every flag takes a value */
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *num = strcmp(f, "--pid") == 0              ? &o->pid
                    : strcmp(f, "--duration") == 0       ? &o->window
                    : strcmp(f, "--frames") == 0         ? &o->frames
                    : strcmp(f, "--baseline") == 0       ? &o->baseline
                    : strcmp(f, "--attach-timeout") == 0 ? &o->attach_timeout
                                                         : NULL;
        long hi = num == &o->pid ? 4194304 : num == &o->frames ? PROFD_MEMORY_FRAMES_MAX : 86400;
        long lo = num == &o->baseline ? 0 : 1;
        if (!v)
            return profd_usage_error("sample", "missing value for '%s'", f);
        if (num) {
            if (profd_parse_int("sample", f, v, lo, hi, num) != 0)
                return PROFD_EXIT_USAGE;
        } else if (strcmp(f, "-o") == 0 || strcmp(f, "--output") == 0) {
            o->out = v;
        } else if (strcmp(f, "--summary") == 0) {
            o->summary = v;
        } else {
            return profd_usage_error("sample", "unknown flag '%s'", f);
        }
    }
    if (!o->pid || !o->out)
        return profd_usage_error("sample", "memory needs --pid PID and -o FILE");
    if (o->baseline < 0)
        o->baseline =
            o->window < PROFD_MEMORY_BASELINE_MAX_S ? o->window : PROFD_MEMORY_BASELINE_MAX_S;
    return 0;
}

/* ---- the target, from /proc ----------------------------------------------------------------- */

/* utime + stime of pid in seconds; -1 when it is gone (or a zombie). */
static double cpu_seconds(long pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
        return -1;
    unsigned long long ut = 0, st = 0;
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int owner(long pid, uid_t *uid, gid_t *gid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    int found = 0;
    unsigned long r, e;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "Uid: %lu %lu", &r, &e) == 2) {
            *uid = (uid_t)e;
            found |= 1;
        } else if (sscanf(line, "Gid: %lu %lu", &r, &e) == 2) {
            *gid = (gid_t)e;
            found |= 2;
        }
    }
    fclose(f);
    return found == 3 ? 0 : -1;
}

static int64_t mono_ms(void)
{
    return py_now_ns() / 1000000;
}

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the capture directory -------------------------------------------------------------- */

/* The directory is reached through descriptors taken while the target lives: its root
 * (/proc/PID/root, held open), its /tmp, the capture directory. So a target that exits, or
 * code in it that swaps a path for a symlink, cannot make us write or remove anywhere else,
 * and the files are removed even when /proc/PID is gone. */
typedef struct capdir {
    int tmp, dir;     /* the target's /tmp and the capture directory (-1: none) */
    char name[64];    /* profd-memory.XXXXXXXX */
    char inside[128]; /* /tmp/profd-memory.XXXXXXXX, as the target sees it */
} capdir;

static void capdir_remove(capdir *d)
{
    if (d->dir >= 0) {
        unlinkat(d->dir, "capture.py", 0);
        unlinkat(d->dir, "out.txt", 0);
        close(d->dir);
        unlinkat(d->tmp, d->name, AT_REMOVEDIR);
    }
    if (d->tmp >= 0)
        close(d->tmp);
    d->dir = d->tmp = -1;
}

/* Create name in d: exclusive, 0600, the target's; with content (may be NULL). */
static int create_file(const capdir *d, const char *name, uid_t uid, gid_t gid, const char *text,
                       size_t n, char *msg, size_t len)
{
    int fd = openat(d->dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(msg, len, "cannot create %s/%s in the target: %s", d->inside, name,
                 strerror(errno));
        return -1;
    }
    int rc = fchown(fd, uid, gid) == 0 && fchmod(fd, 0600) == 0 ? 0 : -1;
    for (size_t at = 0; rc == 0 && at < n;) {
        ssize_t w = write(fd, text + at, n - at);
        if (w <= 0)
            rc = -1;
        else
            at += (size_t)w;
    }
    if (close(fd) != 0)
        rc = -1;
    if (rc != 0)
        snprintf(msg, len, "cannot write %s/%s in the target: %s", d->inside, name,
                 strerror(errno));
    return rc;
}

/* A fresh directory in the target's /tmp: 0700, exclusive (mkdirat fails on any existing name). */
static int make_dir(long pid, capdir *d, uid_t uid, gid_t gid, char *msg, size_t len)
{
    char root[64];
    snprintf(root, sizeof root, "/proc/%ld/root", pid);
    int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    d->tmp = rfd >= 0 ? openat(rfd, "tmp", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (rfd >= 0)
        close(rfd);
    if (d->tmp < 0) {
        snprintf(msg, len, "the target (pid %ld) has no /tmp to put the memory capture in: %s", pid,
                 strerror(errno));
        return -1;
    }
    static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int tries = 0; tries < 16; tries++) {
        unsigned char r[8];
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
            break;
        char *p = d->name + snprintf(d->name, sizeof d->name, "profd-memory.");
        for (int i = 0; i < 8; i++)
            *p++ = abc[r[i] % (sizeof abc - 1)];
        *p = '\0';
        if (mkdirat(d->tmp, d->name, 0700) == 0) {
            d->dir = openat(d->tmp, d->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (d->dir < 0 || fchown(d->dir, uid, gid) != 0 || fchmod(d->dir, 0700) != 0) {
                snprintf(msg, len, "cannot prepare /tmp/%s in the target: %s", d->name,
                         strerror(errno));
                if (d->dir < 0)
                    unlinkat(d->tmp, d->name, AT_REMOVEDIR);
                return -1;
            }
            snprintf(d->inside, sizeof d->inside, "/tmp/%s", d->name);
            return 0;
        }
        if (errno != EEXIST)
            break;
    }
    snprintf(msg, len, "cannot create a directory in the target's /tmp: %s", strerror(errno));
    return -1;
}

static bool safe_path(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '/' || *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* The stub the target runs: numbers and profd's own directory name, and the embedded text. */
static char *stub_text(const mopts *o, uint64_t token, const capdir *d, size_t *n)
{
    size_t cap = sizeof script_text * 2 + 1024;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t k = (size_t)snprintf(s, cap,
                                "# profd memory capture (docs/memory.md)\n"
                                "_profd_ns = {'__name__': '_profd_memory'}\n"
                                "exec(compile(bytes.fromhex('");
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof script_text; i++) {
        s[k++] = hex[script_text[i] >> 4];
        s[k++] = hex[script_text[i] & 15];
    }
    k += (size_t)snprintf(s + k, cap - k,
                          "').decode('utf-8'), '<profd-memory>', 'exec'), _profd_ns)\n"
                          "_profd_ns['_profd_capture'](%ld, %ld, %" PRIu64 ", '%s')\n",
                          o->window, o->frames, token, d->inside);
    *n = k;
    return s;
}

static int make_capture(long pid, const mopts *o, capdir *d, char *msg, size_t len)
{
    uid_t uid = 0;
    gid_t gid = 0;
    if (owner(pid, &uid, &gid) != 0) {
        snprintf(msg, len, "cannot read the owner of pid %ld", pid);
        return -1;
    }
    if (make_dir(pid, d, uid, gid, msg, len) != 0 || !safe_path(d->inside))
        return -1;
    uint64_t token = 0;
    if (getrandom(&token, sizeof token, 0) != (ssize_t)sizeof token)
        token = (uint64_t)mono_ms() ^ ((uint64_t)getpid() << 32);
    token &= (1ULL << 53) - 1;
    size_t n = 0;
    char *stub = stub_text(o, token, d, &n);
    if (!stub) {
        snprintf(msg, len, "out of memory");
        return -1;
    }
    int rc = create_file(d, "out.txt", uid, gid, NULL, 0, msg, len);
    if (rc == 0)
        rc = create_file(d, "capture.py", uid, gid, stub, n, msg, len);
    free(stub);
    return rc;
}

/* ---- waiting ---------------------------------------------------------------------------- */

typedef enum {
    WAIT_TAKEN,   /* the script runs: it removed its file, so tracing is on */
    WAIT_TIMEOUT, /* no thread took the request; taken back */
    WAIT_NOT_RUN, /* a thread took it, but the script did not start (audit hook, error) */
    WAIT_GONE,    /* the target exited */
    WAIT_STOPPED, /* SIGINT / SIGTERM */
    WAIT_ERROR,
} wait_result;

#define RUN_CONFIRM_MS 3000

static bool script_gone(const capdir *d)
{
    return faccessat(d->dir, "capture.py", F_OK, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT;
}

static wait_result wait_taken(py_remote *r, const capdir *d, const mopts *o, char *msg, size_t len)
{
    char script[320];
    snprintf(script, sizeof script, "%s/capture.py", d->inside);
    if (py_remote_arm(r, script) != 0) {
        snprintf(msg, len, "cannot ask pid %ld to run the capture: %s", o->pid, strerror(errno));
        py_remote_disarm(r);
        return WAIT_ERROR;
    }
    int64_t t0 = mono_ms(), limit = t0 + o->attach_timeout * 1000;
    bool more = false;
    for (;;) {
        int taken = py_remote_taken(r); /* -1: an armed thread's state is gone (it exited) */
        if (taken == 1 || script_gone(d))
            break;
        if (cpu_seconds(o->pid) < 0) {
            py_remote_disarm(r);
            return WAIT_GONE;
        }
        if (py_stop_requested() || mono_ms() >= limit) {
            if (py_remote_disarm(r) == 1)
                return WAIT_TAKEN; /* taken just now, before we took it back */
            if (py_stop_requested())
                return WAIT_STOPPED;
            snprintf(msg, len,
                     "no thread of pid %ld reached a safe point to run the memory capture within "
                     "%ld s (every thread blocked in C?); the request was taken back and the "
                     "target left as it was",
                     o->pid, o->attach_timeout);
            return WAIT_TIMEOUT;
        }
        if (!more && mono_ms() - t0 >= ARM_ALL_AFTER_MS) {
            more = true;
            if (py_remote_arm_more(r, script) != 0 && cpu_seconds(o->pid) < 0) {
                py_remote_disarm(r);
                return WAIT_GONE;
            }
        }
        nap(POLL_MS);
    }
    if (r->narmed > 1)
        py_remote_disarm(r); /* the threads that did not take it */
    /* Taken; the script removes its file once tracing is on. If it does not, the hook did not
     * run it (an audit hook refusing cpython.remote_debugger_script, or it failed at once). */
    for (int64_t end = mono_ms() + RUN_CONFIRM_MS; !script_gone(d);) {
        if (cpu_seconds(o->pid) < 0)
            return WAIT_GONE;
        if (mono_ms() >= end) {
            snprintf(msg, len,
                     "pid %ld took the request but did not start the memory capture within %d s "
                     "(an audit hook refusing it, or an error the target printed on its stderr)",
                     o->pid, RUN_CONFIRM_MS / 1000);
            return WAIT_NOT_RUN;
        }
        nap(POLL_MS);
    }
    return WAIT_TAKEN;
}

/* The output file once it ends with "# end\n": a new buffer, or NULL (*state says why). */
static char *read_output(const capdir *d, size_t *n, bool *too_big)
{
    *too_big = false;
    int fd = openat(d->dir, "out.txt", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 6) {
        close(fd);
        return NULL;
    }
    if ((unsigned long long)st.st_size > PROFD_MEMORY_OUTPUT_MAX) {
        *too_big = true;
        close(fd);
        return NULL;
    }
    char tail[6];
    if (pread(fd, tail, 6, st.st_size - 6) != 6 || memcmp(tail, "# end\n", 6) != 0) {
        close(fd);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    ssize_t got = buf ? pread(fd, buf, (size_t)st.st_size, 0) : -1;
    close(fd);
    if (got != st.st_size) {
        free(buf);
        return NULL;
    }
    buf[got] = '\0';
    *n = (size_t)got;
    return buf;
}

static int write_summary(const char *path, const profd_memory_summary *s, double overhead,
                         double base_rate, double rate, double window_s)
{
    if (!path)
        return 0;
    json_object *j = json_object_new_object();
    json_object_object_add(j, "bytes_total", json_object_new_int64(s->bytes));
    json_object_object_add(j, "blocks_total", json_object_new_int64(s->blocks));
    json_object_object_add(j, "peak_bytes", json_object_new_int64(s->peak));
    json_object_object_add(j, "stacks", json_object_new_int64(s->stacks));
    json_object_object_add(j, "frames", json_object_new_int(s->frames));
    json_object_object_add(j, "traced_by_target", json_object_new_boolean(s->traced_by_target));
    json_object_object_add(j, "overhead_percent",
                           overhead >= 0 ? json_object_new_double(overhead) : NULL);
    json_object_object_add(j, "baseline_cpu_rate", json_object_new_double(base_rate));
    json_object_object_add(j, "capture_cpu_rate", json_object_new_double(rate));
    json_object_object_add(j, "capture_seconds", json_object_new_double(window_s));
    int rc = json_object_to_file_ext(path, j, JSON_C_TO_STRING_PLAIN) == 0 ? 0 : -1;
    json_object_put(j);
    return rc;
}

static int finish(const mopts *o, const char *buf, size_t n, double base_rate, double rate,
                  double window_s)
{
    FILE *out = fopen(o->out, "we");
    if (!out) {
        fprintf(stderr, "cannot write %s: %s\n", o->out, strerror(errno));
        return PROFD_EXIT_FAIL;
    }
    profd_memory_summary sum;
    char msg[512];
    int rc = profd_memory_parse(buf, n, out, &sum, msg, sizeof msg);
    if (fclose(out) != 0 && rc == 0) {
        snprintf(msg, sizeof msg, "cannot write %s", o->out);
        rc = -1;
    }
    if (rc != 0) {
        fprintf(stderr, "%s\n", msg);
        return PROFD_EXIT_FAIL;
    }
    /* The target's CPU rate against the baseline's; meaningless for an idle target. */
    double overhead = -1;
    if (base_rate >= 0.01) { /* 1 % of a core: 10 clock ticks in a 10 s baseline */
        overhead = (rate / base_rate - 1.0) * 100.0;
        if (overhead < 0)
            overhead = 0;
    }
    if (write_summary(o->summary, &sum, overhead, base_rate, rate, window_s) != 0) {
        fprintf(stderr, "cannot write %s\n", o->summary);
        return PROFD_EXIT_FAIL;
    }
    fprintf(stderr, "memory: %lld bytes live in %lld blocks from %ld tracebacks (peak %lld)\n",
            sum.bytes, sum.blocks, sum.stacks, sum.peak);
    return PROFD_EXIT_OK;
}

static int refusal_exit(py_remote_result rc)
{
    switch (rc) {
    case PY_REMOTE_TOO_OLD:
        return PROFD_MEMORY_EXIT_TOO_OLD;
    case PY_REMOTE_DISABLED:
        return PROFD_MEMORY_EXIT_DISABLED;
    case PY_REMOTE_FREE_THREADED:
        return PROFD_MEMORY_EXIT_FREE_THREADED;
    default:
        return PROFD_EXIT_FAIL;
    }
}

static int capture(const mopts *o, py_remote *r, capdir *d)
{
    char msg[512] = "";
    double c0 = cpu_seconds(o->pid);
    int64_t t0 = mono_ms();
    for (int64_t end = t0 + o->baseline * 1000; mono_ms() < end && !py_stop_requested();)
        nap(100);
    double c1 = cpu_seconds(o->pid);
    int64_t t1 = mono_ms();
    if (c0 < 0 || c1 < 0) {
        fprintf(stderr, "process %ld exited before the memory capture began\n", o->pid);
        return PROFD_MEMORY_EXIT_TARGET_EXITED;
    }
    if (py_stop_requested()) {
        fprintf(stderr, "stopped before the memory capture began\n");
        return PROFD_EXIT_FAIL;
    }
    double base_rate = t1 > t0 ? (c1 - c0) / ((double)(t1 - t0) / 1000.0) : 0;
    if (make_capture(o->pid, o, d, msg, sizeof msg) != 0) {
        fprintf(stderr, "%s\n", msg);
        return PROFD_EXIT_FAIL;
    }
    switch (wait_taken(r, d, o, msg, sizeof msg)) {
    case WAIT_TAKEN:
        break;
    case WAIT_TIMEOUT:
        fprintf(stderr, "%s\n", msg);
        return PROFD_MEMORY_EXIT_TIMEOUT;
    case WAIT_GONE:
        fprintf(stderr, "process %ld exited before it ran the memory capture\n", o->pid);
        return PROFD_MEMORY_EXIT_TARGET_EXITED;
    case WAIT_STOPPED:
        fprintf(stderr, "stopped before the target ran the memory capture\n");
        return PROFD_EXIT_FAIL;
    case WAIT_NOT_RUN:
    case WAIT_ERROR:
        fprintf(stderr, "%s\n", msg);
        return PROFD_EXIT_FAIL;
    }
    double c2 = cpu_seconds(o->pid);
    int64_t t2 = mono_ms(), limit = t2 + (o->window + PROFD_MEMORY_FINISH_TIMEOUT_S) * 1000;
    for (;;) {
        size_t n = 0;
        bool too_big = false;
        char *buf = read_output(d, &n, &too_big);
        if (buf) {
            double c3 = cpu_seconds(o->pid);
            int64_t t3 = mono_ms();
            double secs = (double)(t3 - t2) / 1000.0;
            double rate = c3 >= c2 && secs > 0 ? (c3 - c2) / secs : 0;
            int rc = finish(o, buf, n, base_rate, rate, secs);
            free(buf);
            return rc;
        }
        if (too_big) {
            fprintf(stderr, "memory capture output is larger than the 64 MiB limit\n");
            return PROFD_EXIT_FAIL;
        }
        if (cpu_seconds(o->pid) < 0) {
            fprintf(stderr, "process %ld exited during the memory capture\n", o->pid);
            return PROFD_MEMORY_EXIT_TARGET_EXITED;
        }
        if (py_stop_requested()) {
            fprintf(stderr, "stopped during the memory capture window (the target stops tracing "
                            "by itself when the window ends)\n");
            return PROFD_EXIT_FAIL;
        }
        if (mono_ms() >= limit) {
            fprintf(stderr,
                    "the memory capture script did not finish within %ld+%d s of starting\n",
                    o->window, PROFD_MEMORY_FINISH_TIMEOUT_S);
            return PROFD_EXIT_FAIL;
        }
        nap(200);
    }
}

int py_memory_main(int argc, char **argv)
{
    mopts o;
    int prc = parse(argc, argv, &o);
    if (prc != 0)
        return prc;
    py_stop_catch();
    py_remote *r = calloc(1, sizeof *r);
    if (!r)
        return PROFD_EXIT_FAIL;
    char msg[512];
    py_remote_result rr = py_remote_open((pid_t)o.pid, r, msg, sizeof msg);
    int rc;
    if (rr != PY_REMOTE_OK) {
        fprintf(stderr, "%s\n", msg);
        rc = refusal_exit(rr);
    } else {
        capdir d = {.tmp = -1, .dir = -1};
        rc = capture(&o, r, &d);
        capdir_remove(&d);
    }
    free(r);
    return rc;
}
