/* resolve.c - from a service (and maybe a pid) to one vetted process.
 *
 * With PROFD_TARGETS, the service's entry finds its process (a fixed pid, a
 * pidfile, or the oldest process whose command line matches a regex), and an
 * explicit pid is accepted only when it is that process or one of its
 * descendants (a gunicorn worker under its master, say). Without it, only
 * processes of the worker's own uid are allowed, and a worker running as root
 * must have been given PROFD_ALLOW_ANY_PID=1. The result carries the target's
 * start time, checked again right before the capture so that a pid reused by
 * another process in between is never profiled. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "proc.h"

#define MAX_PIDFILE 64
#define MAX_CMDLINE (64 * 1024)

static int no_process(long pid, profd_error *err)
{
    profd_error_set(err, PROFD_E_NOT_FOUND, "no process %ld", pid);
    return -1;
}

/* Fill out for a live pid; target_not_found when it is gone (or a zombie). */
static int describe(long pid, profd_target *out, profd_error *err)
{
    unsigned long long start;
    uid_t uid;
    if (profd_proc_start_time(pid, &start, &uid, NULL) != 0) {
        if (errno == EACCES || errno == EPERM) {
            profd_error_set(err, PROFD_E_PERMISSION,
                            "Failed to profile process: Permission denied");
            return -1;
        }
        return no_process(pid, err);
    }
    out->pid = pid;
    out->start_time = start;
    out->uid = uid;
    return 0;
}

static int from_pidfile(const target_entry *e, long *pid, profd_error *err)
{
    size_t len;
    char *text = profd_read_file(e->text, MAX_PIDFILE, &len);
    if (!text) {
        profd_error_set(err, PROFD_E_NOT_FOUND, "service '%s': cannot read pidfile %s: %s",
                        e->service, e->text, strerror(errno ? errno : EIO));
        return -1;
    }
    char *p = text, *end;
    while (isspace((unsigned char)*p))
        p++;
    errno = 0;
    long v = strtol(p, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    bool ok = end != p && *end == '\0' && errno == 0 && v >= 1 && isdigit((unsigned char)*p);
    free(text);
    if (!ok) {
        profd_error_set(err, PROFD_E_NOT_FOUND, "service '%s': pidfile %s does not hold a pid",
                        e->service, e->text);
        return -1;
    }
    *pid = v;
    return 0;
}

/* The oldest live process (smallest start time, then smallest pid) whose
 * command line matches, ourselves excluded. */
static int from_cmdline(const target_entry *e, long *pid, profd_error *err)
{
    DIR *d = opendir("/proc");
    if (!d) {
        profd_error_set(err, PROFD_E_NOT_FOUND, "cannot list /proc: %s", strerror(errno));
        return -1;
    }
    static __thread char cmd[MAX_CMDLINE];
    long self = (long)getpid(), best = 0;
    unsigned long long best_start = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        long p = strtol(de->d_name, NULL, 10);
        proc_info pi;
        if (p == self || target__proc_read_stat(p, &pi) != 0 || pi.state == 'Z' || pi.state == 'X')
            continue;
        if (target__proc_read_cmdline(p, cmd, sizeof cmd) != 0 || !cmd[0])
            continue;
        if (regexec(&e->re, cmd, 0, NULL, 0) != 0)
            continue;
        if (!best || pi.start_time < best_start || (pi.start_time == best_start && p < best)) {
            best = p;
            best_start = pi.start_time;
        }
    }
    closedir(d);
    if (!best) {
        profd_error_set(err, PROFD_E_NOT_FOUND, "service '%s': no process matches cmdline /%s/",
                        e->service, e->text);
        return -1;
    }
    *pid = best;
    return 0;
}

static int service_pid(const target_entry *e, long *pid, profd_error *err)
{
    switch (e->kind) {
    case BY_PID:
        *pid = e->pid;
        return 0;
    case BY_PIDFILE:
        return from_pidfile(e, pid, err);
    case BY_CMDLINE:
        return from_cmdline(e, pid, err);
    }
    return -1;
}

static int resolve_listed(const profd_targets *t, const char *service, long pid, profd_target *out,
                          profd_error *err)
{
    const target_entry *e = target__targets_find(t, service);
    if (!e) {
        profd_error_set(err, PROFD_E_NOT_ALLOWED,
                        "service '%.64s' is not listed in PROFD_TARGETS (%s)",
                        service ? service : "", t->path);
        return -1;
    }
    long root;
    if (service_pid(e, &root, err) != 0)
        return -1;
    profd_target svc;
    if (describe(root, &svc, err) != 0)
        return -1;
    if (!pid || pid == root) {
        *out = svc;
        return 0;
    }
    if (describe(pid, out, err) != 0)
        return -1;
    if (!target__proc_descends_from(pid, root)) {
        profd_error_set(err, PROFD_E_NOT_ALLOWED,
                        "process %ld is not service '%s''s process (%ld) or one of its "
                        "descendants",
                        pid, service, root);
        return -1;
    }
    return 0;
}

static int resolve_unlisted(const char *service, long pid, bool allow_any, profd_target *out,
                            profd_error *err)
{
    uid_t me = geteuid();
    if (!pid) {
        profd_error_set(err, PROFD_E_NOT_FOUND,
                        "no pid given and PROFD_TARGETS is not set, so service '%.64s' cannot be "
                        "resolved: set PROFD_TARGETS or send a pid",
                        service ? service : "");
        return -1;
    }
    if (me == 0 && !allow_any) {
        profd_error_set(err, PROFD_E_NOT_ALLOWED,
                        "refusing to profile pid %ld as root without an allowlist: set "
                        "PROFD_TARGETS, or PROFD_ALLOW_ANY_PID=1 for development",
                        pid);
        return -1;
    }
    if (describe(pid, out, err) != 0)
        return -1;
    if (me == 0)
        return 0;
    uid_t real, eff;
    if (target__proc_read_uids(pid, &real, &eff) != 0)
        return no_process(pid, err);
    if (real != me || eff != me) {
        profd_error_set(err, PROFD_E_NOT_ALLOWED,
                        "process %ld belongs to uid %lu; without PROFD_TARGETS only processes of "
                        "uid %lu can be profiled",
                        pid, (unsigned long)real, (unsigned long)me);
        return -1;
    }
    return 0;
}

int profd_target_resolve(const profd_targets *t, const char *service, long pid, bool allow_any,
                         profd_target *out, profd_error *err)
{
    memset(out, 0, sizeof *out);
    if (pid < 0) {
        profd_error_set(err, PROFD_E_INVALID, "pid must be >= 1");
        return -1;
    }
    if (profd_targets_configured(t))
        return resolve_listed(t, service, pid, out, err);
    return resolve_unlisted(service, pid, allow_any, out, err);
}

int profd_target_check(const profd_target *t, profd_error *err)
{
    unsigned long long start;
    if (profd_proc_start_time(t->pid, &start, NULL, NULL) != 0) {
        profd_error_set(err, PROFD_E_TARGET_EXITED, "process %ld exited before the capture began",
                        t->pid);
        return -1;
    }
    if (start != t->start_time) {
        profd_error_set(err, PROFD_E_TARGET_EXITED,
                        "process %ld exited (its pid now belongs to another process)", t->pid);
        return -1;
    }
    return 0;
}
