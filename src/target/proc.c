/* proc.c - what the target module reads about a process, all from /proc.
 *
 * /proc/PID/stat is "pid (comm) state ppid ... starttime ...": comm is
 * whatever the process named itself (prctl PR_SET_NAME), spaces and ')'
 * included, so the parser splits at the last ')' and counts fields from
 * there. Field 22 (starttime, in clock ticks since boot) together with the
 * pid identifies one process for its whole life, which is how a reused pid is
 * told apart from the process that was resolved. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profd/target.h"

static ssize_t read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < len) {
        ssize_t r = read(fd, buf + n, len - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    int e = errno;
    close(fd);
    errno = e;
    buf[n] = '\0';
    return (ssize_t)n;
}

int target__proc_parse_stat(const char *text, proc_info *out)
{
    const char *rp = strrchr(text, ')');
    if (!rp || rp[1] != ' ' || !rp[2])
        return -1;
    out->state = rp[2];
    const char *p = rp + 3;
    /* Fields 4 (ppid) .. 22 (starttime): 19 numbers after the state. */
    unsigned long long v[19];
    for (int i = 0; i < 19; i++) {
        char *end;
        while (*p == ' ')
            p++;
        errno = 0;
        v[i] = strtoull(p, &end, 10);
        if (end == p || errno)
            return -1;
        if (*p == '-') /* a few fields are signed; neither ppid nor starttime is */
            v[i] = 0;
        p = end;
    }
    out->ppid = (long)v[0];
    out->start_time = v[18];
    return 0;
}

int target__proc_read_stat(long pid, proc_info *out)
{
    char path[64], buf[2048];
    if (pid <= 0) {
        errno = ENOENT;
        return -1;
    }
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (read_small(path, buf, sizeof buf) <= 0) {
        if (errno == 0 || errno == ESRCH)
            errno = ENOENT;
        return -1;
    }
    if (target__proc_parse_stat(buf, out) != 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int target__proc_read_uids(long pid, uid_t *real, uid_t *effective)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    if (read_small(path, buf, sizeof buf) <= 0)
        return -1;
    const char *u = strstr(buf, "\nUid:");
    unsigned long r, e;
    if (!u || sscanf(u + 5, "%lu %lu", &r, &e) != 2) {
        errno = EINVAL;
        return -1;
    }
    *real = (uid_t)r;
    *effective = (uid_t)e;
    return 0;
}

int target__proc_read_cmdline(long pid, char *out, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    ssize_t n = read_small(path, out, len);
    if (n < 0)
        return -1;
    for (ssize_t i = 0; i < n; i++)
        if (out[i] == '\0')
            out[i] = ' ';
    while (n > 0 && out[n - 1] == ' ')
        out[--n] = '\0';
    return 0;
}

bool target__proc_descends_from(long pid, long ancestor)
{
    for (int depth = 0; depth < 4096 && pid > 0; depth++) {
        if (pid == ancestor)
            return true;
        proc_info pi;
        if (target__proc_read_stat(pid, &pi) != 0)
            return false;
        pid = pi.ppid;
    }
    return false;
}

int profd_proc_start_time(long pid, unsigned long long *start, uid_t *uid, long *ppid)
{
    proc_info pi;
    if (target__proc_read_stat(pid, &pi) != 0)
        return -1;
    if (pi.state == 'Z' || pi.state == 'X') {
        errno = ESRCH; /* exited, not yet reaped: nothing left to profile */
        return -1;
    }
    if (start)
        *start = pi.start_time;
    if (ppid)
        *ppid = pi.ppid;
    if (uid) {
        uid_t real, eff;
        if (target__proc_read_uids(pid, &real, &eff) != 0)
            return -1;
        *uid = real;
    }
    return 0;
}
