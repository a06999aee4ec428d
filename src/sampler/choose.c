/* choose.c - which sampler runs, and what it calls itself.
 *
 * PROFD_SAMPLER=auto prefers py-spy when it can be found (a name looked up on
 * PATH, or a path to an executable) and falls back to the built-in sampler;
 * asking for py-spy by name when it is absent is an error with the contract's
 * text, so the API can answer 503 with it. The description ("py-spy 0.4.1")
 * goes into every session record; it comes from `py-spy --version`, run once
 * per executable (argv, no shell, bounded to 5 s) and cached, because the
 * worker records it for every session. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profd/sampler.h"

static bool executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int profd_sampler_resolve(const char *name, char *out, size_t len)
{
    if (!name || !*name)
        return -1;
    if (strchr(name, '/')) {
        if (!executable_file(name))
            return -1;
        profd_strlcpy(out, name, len);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path;;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char cand[4096];
        /* An empty PATH element means the current directory. */
        int w = n ? snprintf(cand, sizeof cand, "%.*s/%s", (int)n, p, name)
                  : snprintf(cand, sizeof cand, "./%s", name);
        if (w > 0 && (size_t)w < sizeof cand && executable_file(cand)) {
            profd_strlcpy(out, cand, len);
            return 0;
        }
        if (!e)
            return -1;
        p = e + 1;
    }
}

int profd_sampler_choose(const char *choice, const char *pyspy, profd_sampler_kind *out,
                         profd_error *err)
{
    char path[4096];
    bool have_pyspy = profd_sampler_resolve(pyspy ? pyspy : "py-spy", path, sizeof path) == 0;
    if (!choice || !*choice || strcmp(choice, "auto") == 0) {
        *out = have_pyspy ? PROFD_SAMPLER_PYSPY : PROFD_SAMPLER_BUILTIN;
        return 0;
    }
    if (strcmp(choice, "py-spy") == 0) {
        if (!have_pyspy) {
            profd_error_set(err, PROFD_E_SAMPLER_MISSING, "%s", PROFD_PYSPY_MISSING);
            return -1;
        }
        *out = PROFD_SAMPLER_PYSPY;
        return 0;
    }
    if (strcmp(choice, "builtin") == 0) {
        *out = PROFD_SAMPLER_BUILTIN;
        return 0;
    }
    profd_error_set(err, PROFD_E_INVALID, "sampler must be auto, py-spy or builtin, not '%.64s'",
                    choice);
    return -1;
}

/* First line of `exe --version`, or "" on failure. Bounded to 5 s. */
static void run_version(const char *exe, char *out, size_t len)
{
    out[0] = '\0';
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return;
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    char *const argv[] = {(char *)exe, "--version", NULL};
    pid_t pid = fork();
    if (pid == 0) {
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 2);
        }
        dup2(fds[1], 1);
        close_range(3, ~0U, 0);
        execv(exe, argv);
        _exit(127);
    }
    close(fds[1]);
    if (devnull >= 0)
        close(devnull);
    if (pid < 0) {
        close(fds[0]);
        return;
    }
    size_t n = 0;
    int64_t deadline = profd_mono_ms() + 5000;
    while (n + 1 < len) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int64_t left = deadline - profd_mono_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t r = read(fds[0], out + n, len - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    out[n] = '\0';
    close(fds[0]);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    out[strcspn(out, "\r\n")] = '\0';
}

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static char cache_exe[4096], cache_desc[128];

void profd_sampler_describe(profd_sampler_kind k, const char *pyspy, char *out, size_t len)
{
    if (k == PROFD_SAMPLER_BUILTIN) {
        snprintf(out, len, "profd-builtin %s", PROFD_VERSION);
        return;
    }
    if (k == PROFD_SAMPLER_MEMORY) {
        snprintf(out, len, "profd-memory %s (tracemalloc via PEP 768)", PROFD_VERSION);
        return;
    }
    char exe[4096];
    if (profd_sampler_resolve(pyspy ? pyspy : "py-spy", exe, sizeof exe) != 0) {
        snprintf(out, len, "py-spy (not found)");
        return;
    }
    pthread_mutex_lock(&cache_lock);
    if (strcmp(cache_exe, exe) != 0) {
        char line[128];
        run_version(exe, line, sizeof line);
        if (strncmp(line, "py-spy ", 7) == 0)
            profd_strlcpy(cache_desc, line, sizeof cache_desc);
        else
            profd_strlcpy(cache_desc, "py-spy (unknown version)", sizeof cache_desc);
        profd_strlcpy(cache_exe, exe, sizeof cache_exe);
    }
    snprintf(out, len, "%s", cache_desc);
    pthread_mutex_unlock(&cache_lock);
}
