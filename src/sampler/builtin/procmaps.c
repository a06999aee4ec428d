/* procmaps.c - which files a process has mapped, and the state of its threads.
 *
 * The interpreter lives either in a mapped libpython (shared builds) or in the
 * executable itself (static builds such as Debian's /usr/bin/python3.11). Both
 * are found in /proc/PID/maps; the file is opened through /proc/PID/root so a
 * target in another mount namespace (a container) works, and through
 * /proc/PID/map_files/START-END when the file was deleted or replaced since it
 * was mapped (" (deleted)"), which reads the exact inode that is mapped. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pysampler.h"

static bool is_libpython(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, "libpython", 9) == 0 && strstr(base, ".so") != NULL;
}

static void fill_module(pid_t pid, py_module *m, const char *path, uint64_t start, uint64_t end)
{
    size_t n = strlen(path);
    const char *del = " (deleted)";
    size_t dl = strlen(del);
    m->deleted = n > dl && strcmp(path + n - dl, del) == 0;
    if (m->deleted)
        n -= dl;
    if (n >= sizeof(m->path))
        n = sizeof(m->path) - 1;
    memcpy(m->path, path, n);
    m->path[n] = '\0';
    m->base = start;
    if (m->deleted)
        snprintf(m->open_path, sizeof(m->open_path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
                 (int)pid, start, end);
    else
        snprintf(m->open_path, sizeof(m->open_path), "/proc/%d/root%.200s", (int)pid, m->path);
}

/* The executable's path as the kernel sees it (without " (deleted)"). */
static void exe_path(pid_t pid, char *out, size_t len)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(link, out, len - 1);
    out[n > 0 ? n : 0] = '\0';
    char *del = strstr(out, " (deleted)");
    if (del)
        *del = '\0';
}

int py_maps_modules(pid_t pid, py_module *mods, int max)
{
    char name[64], exe[4096], line[4352];
    snprintf(name, sizeof(name), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(name, "r");
    if (!f)
        return -1;
    exe_path(pid, exe, sizeof(exe));
    bool have_lib = false, have_exe = false;
    int n = 0;
    while (n < max && fgets(line, sizeof(line), f)) {
        uint64_t start, end, off;
        int pos = 0;
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64 " %*s %*s %n", &start, &end, &off,
                   &pos) < 3 ||
            pos == 0 || off != 0)
            continue;
        char *path = line + pos;
        path[strcspn(path, "\n")] = '\0';
        if (path[0] != '/')
            continue;
        bool lib = is_libpython(path);
        size_t el = strlen(exe);
        bool isexe = el > 0 && strncmp(path, exe, el) == 0 && (path[el] == '\0' || path[el] == ' ');
        if ((lib && !have_lib) || (isexe && !have_exe)) {
            /* libpython first: it is where the interpreter is when both exist. */
            int slot = n;
            if (lib && have_exe) {
                mods[n] = mods[0];
                slot = 0;
            }
            fill_module(pid, &mods[slot], path, start, end);
            have_lib |= lib;
            have_exe |= isexe;
            n++;
        }
    }
    fclose(f);
    return n;
}

char py_task_state(pid_t pid, long tid)
{
    char name[96], buf[512];
    snprintf(name, sizeof(name), "/proc/%d/task/%ld/stat", (int)pid, tid);
    FILE *f = fopen(name, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "tid (comm) S ...": comm may hold spaces and parentheses, so use the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 0;
    return p[2];
}
