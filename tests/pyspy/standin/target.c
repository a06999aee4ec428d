/* target.c - the target process, seen through /proc.
 *
 * The stand-in reads no Python memory; what it needs from the target is
 * whether it is alive (py-spy's own test: readlink /proc/PID/exe), its comm
 * and cmdline, and the failures py-spy reports when it cannot attach, with
 * py-spy's retries before they surface. PYSPY_STANDIN_MODE=permission and
 * notpython force those failures. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "standin.h"

/* py-spy's liveness test: /proc/PID/exe must be readable (a zombie's is not). */
int target_exe_errno(long pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/exe", pid);
    return readlink(path, buf, sizeof buf) < 0 ? errno : 0;
}

void read_proc_text(long pid, const char *what, char *out, size_t len, bool nul_to_space)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", pid, what);
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, len - 1);
    close(fd);
    if (n <= 0)
        return;
    out[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (out[i] == '\0' && nul_to_space)
            out[i] = ' ';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\0'))
        out[--n] = '\0';
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !interrupted)
        ;
}

/* Failures of PythonSpy::new are retried 20 times, 20 ms apart, before they surface. */
static void fail_after_retries(const char *text)
{
    sleep_ms(20 * 19);
    fputs(text, stderr);
    exit(1);
}

static void permission_error(void)
{
    if (geteuid() != 0)
        fail_after_retries("Permission Denied: Try running again with elevated permissions by "
                           "going 'sudo env \"PATH=$PATH\" !!'\n");
    fail_after_retries("Error: Failed to get process executable name. Check that the process is "
                       "running.\nReason: Permission denied (os error 13)\n"
                       "Reason: Permission denied (os error 13)\n");
}

void check_target(long pid, const char *mode)
{
    if (!strcmp(mode, "permission"))
        permission_error();
    int e = target_exe_errno(pid);
    if (e == EACCES || e == EPERM)
        permission_error();
    if (e) {
        char text[512];
        snprintf(text, sizeof text,
                 "Error: Failed to get process executable name. Check that the process is "
                 "running.\nReason: %s (os error %d)\nReason: %s (os error %d)\n",
                 e == ENOENT ? "No such file or directory" : strerror(e), e,
                 e == ENOENT ? "No such file or directory" : strerror(e), e);
        fail_after_retries(text);
    }
    if (!strcmp(mode, "notpython"))
        fail_after_retries("Error: Failed to find python version from target process\n");
}
