/* outcome.c - what a finished capture means, in the contract's words.
 *
 * The sampler's exit status, its stderr and its output file are mapped to one
 * error code and one line for the operator. The order matters: what the
 * supervisor did (cancel, kill of a stopped sampler, deadline) explains the
 * exit better than the sampler's own last words, so it is checked first; then
 * exec failures, signals, and the texts py-spy prints (the built-in sampler
 * prints the same ones). Overhead is the sampler's CPU time (its rusage) over
 * the capture's wall time. A target that exits mid-capture is not a failure
 * when samples were collected: py-spy stops and writes them, and so do we. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profd/sampler.h"

long profd_sampler_count_samples(const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    long total = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && isspace((unsigned char)line[n - 1]))
            line[--n] = '\0';
        char *sp = strrchr(line, ' ');
        char *end;
        long v = sp ? strtol(sp + 1, &end, 10) : 0;
        if (sp && *end == '\0' && v > 0)
            total += v;
    }
    free(line);
    fclose(f);
    return total;
}

/* The sampler's stderr (its last 16 KiB), NUL-terminated, in buf. */
static void read_stderr(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)(len - 1) ? size - (off_t)(len - 1) : 0;
    ssize_t n = pread(fd, buf, len - 1, from);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
}

/* Last non-empty line of text, made printable and short (no newlines in messages). */
static void last_line_upto(const char *text, char *out, size_t len, size_t max)
{
    const char *end = text + strlen(text);
    while (end > text && isspace((unsigned char)end[-1]))
        end--;
    const char *start = end;
    while (start > text && start[-1] != '\n')
        start--;
    size_t n = 0;
    for (const char *p = start; p < end && n + 1 < len && n < max; p++)
        out[n++] = isprint((unsigned char)*p) ? *p : ' ';
    out[n] = '\0';
}

static void last_line(const char *text, char *out, size_t len)
{
    last_line_upto(text, out, len, 200);
}

static bool has(const char *text, const char *needle)
{
    return strcasestr(text, needle) != NULL;
}

/* Alive and not a zombie: /proc/PID/stat state after the last ')'. */
static bool target_alive(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

static void fail(profd_capture_result *r, const char *code, const char *fmt, const char *a)
{
    r->ok = false;
    profd_error_set(&r->err, code, fmt, a);
}

static void with_line(profd_capture_result *r, const char *code, const char *what, const char *line)
{
    r->ok = false;
    if (*line)
        profd_error_set(&r->err, code, "%s: %s", what, line);
    else
        profd_error_set(&r->err, code, "%s", what);
}

static void cancelled(const profd_capture *c, profd_capture_result *r)
{
    const char *code = c->cancel_code;
    long n = r->sample_count > 0 ? r->sample_count : 0;
    r->ok = false;
    if (strcmp(code, PROFD_E_CANCELLED) == 0)
        profd_error_set(&r->err, code, "the capture was cancelled (%ld samples kept)", n);
    else if (strcmp(code, PROFD_E_SHUTDOWN) == 0)
        profd_error_set(&r->err, code,
                        "the worker shut down before the capture finished (%ld samples kept)", n);
    else
        profd_error_set(&r->err, code, "the capture was stopped early (%s)", code);
}

/* The process tracing pid (TracerPid in /proc/PID/status), 0 when none. */
static long tracer_of(long pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *t = strstr(buf, "\nTracerPid:");
    return t ? strtol(t + 11, NULL, 10) : 0;
}

/* A sampler that exited non-zero: read its stderr the way an operator would. */
static void exit_failure(const profd_capture *c, profd_capture_result *r, const char *text,
                         const char *line)
{
    int code = WEXITSTATUS(c->status);
    char what[128], pid[32];
    snprintf(pid, sizeof pid, "%ld", c->spec.pid);
    if (code == 127 && !*text) {
        r->ok = false;
        if (c->spec.kind == PROFD_SAMPLER_PYSPY)
            profd_error_set(&r->err, PROFD_E_SAMPLER_MISSING, "%s", PROFD_PYSPY_MISSING);
        else
            profd_error_set(&r->err, PROFD_E_SAMPLER_MISSING,
                            "the built-in sampler could not be run");
    } else if (has(text, "failed to profile process: cannot open ") ||
               has(text, "failed to profile process: unsupported python build")) {
        /* the built-in sampler's own lines (locate.c): the file it could not open, or the build
         * it refuses, with every candidate's reason; kept whole, before the generic matches
         * below catch words inside them ("Operation not permitted" from map_files) */
        char whole[440]; /* these lines list candidates: longer than the usual 200 */
        last_line_upto(text, whole, sizeof whole, sizeof whole - 1);
        snprintf(what, sizeof what, "process %ld cannot be read by the built-in sampler",
                 c->spec.pid);
        with_line(r, PROFD_E_SAMPLER_FAILED, what, whole);
    } else if (has(text, "permission denied") || has(text, "operation not permitted")) {
        /* ptrace refuses a second tracer with EPERM too: when the target has
         * one, it is busy (another capture of it), not forbidden. */
        long tracer = tracer_of(c->spec.pid);
        if (tracer > 0) {
            r->ok = false;
            profd_error_set(&r->err, PROFD_E_TARGET_BUSY,
                            "process %s is already being traced by process %ld (another capture "
                            "of it?)",
                            pid, tracer);
        } else
            fail(r, PROFD_E_PERMISSION, "%s", PROFD_PERMISSION_DENIED);
    } else if (has(text, "check that the process is running") ||
               has(text, "check if it is running") || has(text, "no such process")) {
        fail(r, PROFD_E_NOT_FOUND, "no process %s", pid);
    } else if (has(text, "python version") || has(text, "no python processes found") ||
               has(text, "python interpreter") || has(text, "unsupported version of python") ||
               has(text, "not a python process")) {
        snprintf(what, sizeof what, "process %ld is not a Python process the sampler can read",
                 c->spec.pid);
        with_line(r, PROFD_E_SAMPLER_FAILED, what, line);
    } else if (!target_alive(c->spec.pid) && r->sample_count <= 0) {
        fail(r, PROFD_E_TARGET_EXITED, "process %s exited before any samples were collected", pid);
    } else {
        snprintf(what, sizeof what, "sampler failed (exit status %d)", code);
        with_line(r, PROFD_E_SAMPLER_FAILED, what, line);
    }
}

/* `profd sample memory` names its refusals by exit status (sampler.h). */
static bool memory_exit(const profd_capture *c, profd_capture_result *r, const char *line)
{
    if (c->spec.kind != PROFD_SAMPLER_MEMORY)
        return false;
    const char *code = NULL;
    switch (WEXITSTATUS(c->status)) {
    case PROFD_MEMORY_EXIT_TOO_OLD:
        code = PROFD_E_PYTHON_TOO_OLD;
        break;
    case PROFD_MEMORY_EXIT_DISABLED:
        code = PROFD_E_REMOTE_DEBUG_DISABLED;
        break;
    case PROFD_MEMORY_EXIT_FREE_THREADED:
        code = PROFD_E_FREE_THREADED;
        break;
    case PROFD_MEMORY_EXIT_TIMEOUT:
        code = PROFD_E_TIMEOUT;
        break;
    case PROFD_MEMORY_EXIT_TARGET_EXITED:
        code = PROFD_E_TARGET_EXITED;
        break;
    default:
        return false;
    }
    r->ok = false;
    profd_error_set(&r->err, code, "%s", *line ? line : "memory capture refused");
    return true;
}

static void exit_success(const profd_capture *c, profd_capture_result *r)
{
    if (r->sample_count < 0) {
        fail(r, PROFD_E_SAMPLER_FAILED, "sampler exited without writing its output%s", "");
        return;
    }
    bool alive = target_alive(c->spec.pid);
    if (r->sample_count == 0 && !alive) {
        r->ok = false;
        profd_error_set(&r->err, PROFD_E_TARGET_EXITED,
                        "process %ld exited before any samples were collected", c->spec.pid);
        return;
    }
    r->ok = true;
    if (!alive && c->wall_seconds + 0.5 < (double)c->spec.duration_s) {
        r->partial = true;
        snprintf(r->note, sizeof r->note, "process %ld exited after %.1f s; %ld samples kept",
                 c->spec.pid, c->wall_seconds, r->sample_count);
    } else if (r->sample_count == 0) {
        snprintf(r->note, sizeof r->note,
                 "no samples: every thread of process %ld was idle (options.idle includes them)",
                 c->spec.pid);
    }
}

void profd_capture_result_of(const profd_capture *c, profd_capture_result *r)
{
    memset(r, 0, sizeof *r);
    r->wall_seconds = c->wall_seconds;
    r->overhead_percent = c->wall_seconds > 0 ? c->cpu_seconds / c->wall_seconds * 100.0 : 0.0;
    if (c->spec.kind == PROFD_SAMPLER_MEMORY) /* the target's own slowdown, from the summary */
        r->overhead_percent = -1;
    r->sample_count = profd_sampler_count_samples(c->spec.out_path);
    static __thread char text[16384];
    char line[256];
    read_stderr(c->spec.stderr_path, text, sizeof text);
    last_line(text, line, sizeof line);
    if (c->cancel_code) {
        cancelled(c, r);
    } else if (c->stopped) {
        fail(r, PROFD_E_SAMPLER_FAILED, "%s",
             "sampler was stopped (SIGSTOP) and was killed so the target is not left paused");
    } else if (c->term_sent) {
        r->ok = false;
        profd_error_set(&r->err, PROFD_E_TIMEOUT, "sampler did not finish within %d+%d s; stopped",
                        c->spec.duration_s, c->spec.grace_s);
    } else if (c->exec_errno) {
        r->ok = false;
        if (c->spec.kind == PROFD_SAMPLER_PYSPY)
            profd_error_set(&r->err, PROFD_E_SAMPLER_MISSING, "%s", PROFD_PYSPY_MISSING);
        else
            profd_error_set(&r->err, PROFD_E_SAMPLER_MISSING,
                            "the built-in sampler could not be run: %s", strerror(c->exec_errno));
    } else if (WIFSIGNALED(c->status)) {
        char what[64];
        snprintf(what, sizeof what, "sampler crashed (signal %d)", WTERMSIG(c->status));
        with_line(r, PROFD_E_SAMPLER_FAILED, what, line);
    } else if (WIFEXITED(c->status) && WEXITSTATUS(c->status) != 0) {
        if (!memory_exit(c, r, line))
            exit_failure(c, r, text, line);
    } else {
        exit_success(c, r);
    }
}
