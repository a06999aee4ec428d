/* target.h - finding and vetting the process to profile (docs/targets.md).
 *
 * A service resolves through PROFD_TARGETS (pid, pidfile or cmdline regex). An
 * explicit pid must be the service's process or a descendant of it; without
 * PROFD_TARGETS only processes of the worker's own non-root user are allowed.
 * The target's start time is recorded on resolution and checked again just
 * before the capture so that a reused pid is never profiled. */
#ifndef PROFD_TARGET_H
#define PROFD_TARGET_H

#include <stdbool.h>
#include <sys/types.h>

#include "util.h"

typedef struct profd_targets profd_targets;

typedef struct profd_target {
    long pid;
    unsigned long long start_time; /* clock ticks since boot, /proc/PID/stat field 22 */
    uid_t uid;
} profd_target;

/* NULL path or "" gives an empty table (no allowlist). NULL on error. */
profd_targets *profd_targets_load(const char *path, profd_error *err);
void profd_targets_free(profd_targets *t);
bool profd_targets_configured(const profd_targets *t);
bool profd_targets_has(const profd_targets *t, const char *service);
/* The table's service names, in file order: up to max pointers into t (valid while t lives);
 * returns how many there are. */
size_t profd_targets_services(const profd_targets *t, const char **names, size_t max);

/* pid 0: resolve from the table. Errors: target_not_found, target_not_allowed,
 * permission_denied. */
int profd_target_resolve(const profd_targets *t, const char *service, long pid, bool allow_any,
                         profd_target *out, profd_error *err);
/* 0 same process still there; -1 with target_exited / target_not_found. */
int profd_target_check(const profd_target *t, profd_error *err);
int profd_proc_start_time(long pid, unsigned long long *start, uid_t *uid, long *ppid);

#endif
