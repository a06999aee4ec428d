/* proc.h - reading processes through /proc (internal to the target module;
 * exposed to tests/target). */
#ifndef PROFD_TARGET_PROC_H
#define PROFD_TARGET_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct proc_info {
    char state; /* R S D Z T t X ... */
    long ppid;
    unsigned long long start_time; /* field 22 */
} proc_info;

/* Parse the text of /proc/PID/stat. The command name (field 2) may hold
 * spaces and ')' itself, so the fields are counted after the LAST ')'.
 * 0 ok, -1 malformed. */
int target__proc_parse_stat(const char *text, proc_info *out);
/* /proc/PID/stat of a live process. -1 with errno (ENOENT: no such process). */
int target__proc_read_stat(long pid, proc_info *out);
/* Real and effective uid from /proc/PID/status. */
int target__proc_read_uids(long pid, uid_t *real, uid_t *effective);
/* /proc/PID/cmdline with NULs as spaces (trailing ones dropped); "" for kernel threads. */
int target__proc_read_cmdline(long pid, char *out, size_t len);
/* true when pid is ancestor itself or one of its descendants (walks the ppid chain). */
bool target__proc_descends_from(long pid, long ancestor);

#endif
