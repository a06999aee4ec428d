/* internal.h - the PROFD_TARGETS table (target module only). */
#ifndef PROFD_TARGET_INTERNAL_H
#define PROFD_TARGET_INTERNAL_H

#include <regex.h>

#include "profd/target.h"

typedef enum { BY_PID, BY_PIDFILE, BY_CMDLINE } target_kind;

typedef struct target_entry {
    char service[64];
    target_kind kind;
    long pid;
    char *text; /* pidfile path or cmdline pattern */
    regex_t re; /* BY_CMDLINE */
} target_entry;

struct profd_targets {
    char path[1024];
    target_entry *entries;
    size_t n;
};

const target_entry *target__targets_find(const profd_targets *t, const char *service);

#endif
