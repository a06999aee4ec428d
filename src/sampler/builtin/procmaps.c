/* procmaps.c - which files a process has mapped, and the state of its threads.
 *
 * The interpreter lives either in a mapped libpython (shared builds) or in the
 * executable itself (static builds such as Debian's /usr/bin/python3.11). Both
 * are found in /proc/PID/maps, with the device and inode of the mapped file.
 *
 * The path in maps is the one the kernel can name from the target's side: for a
 * process in another mount namespace (a container) it is a path inside that
 * namespace, reachable from here as /proc/PID/root + path; for a plain chroot in
 * our namespace it is the host path, and /proc/PID/root + path names some other
 * file or none. So py_module_open tries /proc/PID/root + path, then the path, then
 * /proc/PID/map_files/START-END (the mapping itself: also right for a deleted or
 * replaced file, but it needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE), and takes
 * the first whose device and inode equal the maps entry's. A same-named file from
 * the wrong root is thereby never read, and a file that cannot be opened at all
 * is reported as such, with every candidate's reason, by the caller. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "pysampler.h"

static bool is_libpython(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strncmp(base, "libpython", 9) == 0 && strstr(base, ".so") != NULL;
}

static void fill_module(py_module *m, const char *path, uint64_t start, uint64_t end, uint64_t dev,
                        uint64_t ino)
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
    m->end = end;
    m->dev = dev;
    m->ino = ino;
    m->open_path[0] = '\0';
}

/* Open a candidate; keep it only if it is the mapped file. */
static int open_if_same(const char *cand, const py_module *m, char *why, size_t len, size_t *used)
{
    int fd = open(cand, O_RDONLY | O_CLOEXEC);
    struct stat st;
    const char *reason = NULL;
    char buf[96];
    if (fd < 0) {
        reason = strerror(errno);
    } else if (fstat(fd, &st) != 0) {
        reason = strerror(errno);
    } else if ((uint64_t)st.st_dev != m->dev || (uint64_t)st.st_ino != m->ino) {
        snprintf(buf, sizeof(buf), "a different file (device %u:%u inode %llu)", major(st.st_dev),
                 minor(st.st_dev), (unsigned long long)st.st_ino);
        reason = buf;
        errno = ESTALE;
    } else {
        return fd;
    }
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (*used < len) {
        int n = snprintf(why + *used, len - *used, "%s%s: %s", *used ? "; " : "", cand, reason);
        *used += n > 0 ? (size_t)n : 0;
    }
    errno = e;
    return -1;
}

int py_module_open(pid_t pid, py_module *m, char *why, size_t len)
{
    char cand[3][4200];
    int n = 0;
    size_t used = 0;
    why[0] = '\0';
    if (!m->deleted) {
        snprintf(cand[n++], sizeof(cand[0]), "/proc/%d/root%s", (int)pid, m->path);
        snprintf(cand[n++], sizeof(cand[0]), "%s", m->path);
    }
    snprintf(cand[n++], sizeof(cand[0]), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid,
             m->base, m->end);
    int e = ENOENT;
    for (int i = 0; i < n; i++) {
        int fd = open_if_same(cand[i], m, why, len, &used);
        if (fd >= 0) {
            memcpy(m->open_path, cand[i], sizeof(m->open_path));
            return fd;
        }
        e = errno;
    }
    errno = e;
    return -1;
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
        uint64_t start, end, off, ino;
        unsigned dmaj, dmin;
        int pos = 0;
        if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64 " %x:%x %" SCNu64 " %n", &start,
                   &end, &off, &dmaj, &dmin, &ino, &pos) < 6 ||
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
            fill_module(&mods[slot], path, start, end, (uint64_t)makedev(dmaj, dmin), ino);
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
