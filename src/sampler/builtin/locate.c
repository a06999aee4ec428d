/* locate.c - finding and checking the interpreter of a running process.
 *
 * Order of work, each step with its own one-line failure:
 *   1. /proc/PID exists                                  -> "no such process"
 *   2. its maps are readable and one byte of its memory is readable with
 *      process_vm_readv                                   -> permission denied
 *   3. the mapped libpython or executable can be opened as the target sees it
 *      (procmaps.c: right root, same device and inode)    -> "cannot open FILE"
 *   4. it defines _PyRuntime                             -> "not a Python process"
 *   5. the version: Py_Version (3.11+, read from memory: the full version, e.g.
 *      3.14.10), else the version in the libpython / executable file name, else
 *      the unique known size of _PyRuntime              -> "unsupported version X"
 *   6. the layout:
 *      3.13+   the _Py_DebugOffsets at the start of _PyRuntime (debug_offsets.c):
 *              cookie, the same version as Py_Version, runtime_state.size equal to
 *              the symbol's st_size, every offset inside its structure. They give
 *              every offset, for release, debug and free-threaded builds. A version
 *              newer than the newest layout known is read with that layout if all
 *              checks pass, with one warning.
 *      3.8-3.12 the per-minor table (layout.c). Its sizeof(_PyRuntimeState) is the
 *              size of the minor's reference patch release; a patch release may
 *              differ (a field appended) while the offsets hold, so a different size
 *              only makes step 7 decide.
 *                                                         -> "unsupported build B (why)"
 *   7. the live check: the layout is tried on the process itself. Every thread
 *      state of the first interpreter must point back to it (PyThreadState.interp),
 *      and a full stack read must succeed with frames whose code objects are
 *      PyCode_Type and whose names are str objects. Wrong offsets fail this almost
 *      surely; a torn read (the target runs) is retried.   -> "unsupported build B"
 * Nothing is guessed: a target that fails a check is refused, naming what was
 * found. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "profd/sampler.h"
#include "pysampler.h"

#define SUPPORTED "supported: 3.8 to 3.15, and later versions whose _Py_DebugOffsets are compatible"

static int fail(char *msg, size_t len, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *msg, size_t len, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return code;
}

void py_version_string(uint32_t hex, char *out, size_t len)
{
    unsigned level = (hex >> 4) & 0xf, serial = hex & 0xf;
    const char *tag = level == 0xa ? "a" : level == 0xb ? "b" : level == 0xc ? "rc" : "";
    if (*tag)
        snprintf(out, len, "%u.%u.%u%s%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff, tag,
                 serial);
    else
        snprintf(out, len, "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff, (hex >> 8) & 0xff);
}

/* "python3.9", "libpython3.10.so.1.0", "python3.11d" -> minor; -1 if absent. */
static int minor_from_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *p = strstr(base, "python3.");
    if (!p)
        return -1;
    char *end;
    long m = strtol(p + 8, &end, 10);
    return end == p + 8 ? -1 : (int)m;
}

static int minor_from_size(uint64_t size)
{
    for (int m = 8; m <= 12; m++) {
        const py_layout *L = py_layout_for(m);
        if (L && L->runtime_size == size)
            return m;
    }
    return -1;
}

/* 3.13+: the layout from the target's _Py_DebugOffsets. */
static int from_debug_offsets(py_target *t, const py_symbols *s, int minor, char *msg, size_t len)
{
    uint8_t blob[PY_DEBUG_OFFSETS_READ];
    size_t n =
        s->runtime_size && s->runtime_size < sizeof(blob) ? (size_t)s->runtime_size : sizeof(blob);
    if (py_read(t->pid, t->runtime, blob, n) != 0)
        return errno == EPERM ? PY_EPERM
                              : fail(msg, len, PY_ENOTPY,
                                     "Failed to profile process: cannot read _PyRuntime of pid %ld",
                                     (long)t->pid);
    char why[160];
    py_do_result r = py_debug_offsets_parse(blob, n, &t->dbg, why, sizeof(why));
    if (r != PY_DO_OK)
        return fail(msg, len, PY_EVERSION,
                    "Failed to profile process: unsupported Python build %s (%s)", t->build, why);
    int dminor = (int)((t->dbg.version >> 16) & 0xff);
    if (dminor != minor)
        return fail(msg, len, PY_EVERSION,
                    "Failed to profile process: unsupported Python build %s (its _Py_DebugOffsets "
                    "say 3.%d)",
                    t->build, dminor);
    if (s->runtime_size && t->dbg.runtime_state.size != s->runtime_size)
        return fail(msg, len, PY_EVERSION,
                    "Failed to profile process: unsupported Python build %s (_Py_DebugOffsets "
                    "give _PyRuntime %llu bytes, the symbol %llu)",
                    t->build, (unsigned long long)t->dbg.runtime_state.size,
                    (unsigned long long)s->runtime_size);
    if (py_layout_from_debug_offsets(&t->dbg, &t->layout, why, sizeof(why)) != 0)
        return fail(msg, len, PY_EVERSION,
                    "Failed to profile process: unsupported Python build %s (%s)", t->build, why);
    t->have_debug_offsets = true;
    t->L = &t->layout;
    if (t->dbg.newer)
        snprintf(t->warning, sizeof(t->warning),
                 "profd sample: warning: Python %s is newer than 3.%d, the newest version this "
                 "sampler knows; its _Py_DebugOffsets fit the 3.%d layout and are used as they are",
                 t->version, PY_DEBUG_OFFSETS_NEWEST_MINOR, t->dbg.layout_minor);
    return PY_OK;
}

static void name_build(py_target *t, const py_symbols *s)
{
    bool ft = t->have_debug_offsets && t->dbg.free_threaded;
    snprintf(t->build, sizeof(t->build), "%s%s%s", t->version, ft ? " free-threaded" : "",
             s->debug_build ? " debug" : "");
}

static int try_module(py_target *t, py_module *m, uint64_t *runtime_size, char *msg, size_t len)
{
    char why[1024];
    int fd = py_module_open(t->pid, m, why, sizeof(why));
    if (fd < 0)
        return fail(msg, len, PY_ENOFILE,
                    "Failed to profile process: cannot open %s, mapped by pid %ld (%s)", m->path,
                    (long)t->pid, why);
    py_symbols s;
    int rc = py_elf_symbols_fd(fd, &s);
    close(fd);
    if (rc != 0)
        return errno == EACCES || errno == EPERM ? PY_EPERM : PY_ENOTPY;
    int minor_name = minor_from_name(m->path);
    if (!s.runtime) {
        if (strstr(m->path, "libpython"))
            return fail(msg, len, PY_EVERSION,
                        "Failed to profile process: unsupported Python version found in %s "
                        "(" SUPPORTED ")",
                        m->path);
        return PY_ENOTPY;
    }
    *runtime_size = s.runtime_size;
    uint64_t bias = m->base - s.first_load_vaddr;
    t->runtime = s.runtime + bias;
    t->code_type = s.code_type ? s.code_type + bias : 0;
    int minor = -1;
    if (s.py_version) {
        uint32_t hex;
        if (py_read(t->pid, s.py_version + bias, &hex, sizeof(hex)) != 0)
            return errno == EPERM ? PY_EPERM : PY_ENOTPY;
        minor = (hex >> 16) & 0xff;
        py_version_string(hex, t->version, sizeof(t->version));
        if ((hex >> 24) != 3)
            minor = -1;
    } else {
        minor = minor_name >= 0 ? minor_name : minor_from_size(s.runtime_size);
        if (minor >= 0)
            snprintf(t->version, sizeof(t->version), "3.%d", minor);
        else
            snprintf(t->version, sizeof(t->version), "unknown");
    }
    name_build(t, &s);
    if (minor >= 13) {
        rc = from_debug_offsets(t, &s, minor, msg, len);
        name_build(t, &s);
        return rc;
    }
    t->L = minor >= 8 ? py_layout_for(minor) : NULL;
    if (!t->L)
        return fail(msg, len, PY_EVERSION,
                    "Failed to profile process: unsupported Python version %s (" SUPPORTED ")",
                    t->version);
    if (s.debug_build)
        return fail(msg, len, PY_EVERSION,
                    "Failed to profile process: unsupported Python build %s (debug builds before "
                    "3.13 carry no description of their layout)",
                    t->build);
    return PY_OK;
}

/* Every thread state of the first interpreter points back to it; up to 64 of them. */
static const char *threads_point_back(const py_target *t)
{
    const py_layout *L = t->L;
    uint64_t interp, ts;
    if (py_read_ptr(t->pid, t->runtime + (uint64_t)L->rt_interp_head, &interp) != 0 || !interp)
        return "no interpreter at _PyRuntime.interpreters.head";
    if (py_read_ptr(t->pid, interp + (uint64_t)L->is_tstate_head, &ts) != 0)
        return "the interpreter's thread list is unreadable";
    for (int i = 0; ts && i < 64; i++) {
        uint64_t back, next;
        if (py_read_ptr(t->pid, ts + (uint64_t)L->ts_interp, &back) != 0 || back != interp ||
            py_read_ptr(t->pid, ts + (uint64_t)L->ts_next, &next) != 0)
            return "a thread state does not point back to its interpreter";
        ts = next;
    }
    return NULL;
}

/* One full stack read with at least one frame. */
static const char *stacks_read(const py_target *t)
{
    py_stacks *s = calloc(1, sizeof(*s));
    py_code_cache *cc = py_code_cache_new();
    const char *why = "out of memory";
    if (s && cc && py_stacks_init(s) == 0) {
        why = "the thread stacks do not read as Python frames";
        if (py_read_stacks(t, cc, s, false, NULL) == 0) {
            why = "no thread has a Python frame";
            for (int i = 0; i < s->nthreads; i++)
                if (s->threads[i].depth > 0)
                    why = NULL;
        }
        py_stacks_free(s);
    }
    py_code_cache_free(cc);
    free(s);
    return why;
}

static int check_live(py_target *t, bool size_differs, uint64_t runtime_size, char *msg, size_t len)
{
    const char *why = NULL;
    /* The target runs while we read: a thread ending or a frame being pushed can tear a read,
     * so a failure is retried a few times, 20 ms apart, before the build is refused. */
    for (int attempt = 0; attempt < 6; attempt++) {
        why = threads_point_back(t);
        if (!why)
            why = stacks_read(t);
        if (!why)
            return PY_OK;
        if (!size_differs && strcmp(why, "no thread has a Python frame") == 0)
            return PY_OK; /* the reference size and sound thread states: trust the table */
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (size_differs)
        return fail(msg, len, PY_EVERSION,
                    "Failed to profile process: unsupported Python build %s (_PyRuntime is %llu "
                    "bytes, not 3.%d's %zu, and the 3.%d offsets do not hold: %s)",
                    t->build, (unsigned long long)runtime_size, t->L->minor, t->L->runtime_size,
                    t->L->minor, why);
    return fail(msg, len, PY_EVERSION,
                "Failed to profile process: unsupported Python build %s (its offsets do not hold "
                "in the process: %s)",
                t->build, why);
}

int py_locate(pid_t pid, py_target *t, char *msg, size_t len)
{
    memset(t, 0, sizeof(*t));
    t->pid = pid;
    t->tid_off = -1;
    char dir[64];
    struct stat st;
    snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
    if (pid <= 0 || stat(dir, &st) != 0)
        return fail(msg, len, PY_ENOPROC, "Failed to profile process: no such process (pid %ld)",
                    (long)pid);
    py_module mods[2];
    int n = py_maps_modules(pid, mods, 2);
    if (n < 0 && (errno == EACCES || errno == EPERM))
        return fail(msg, len, PY_EPERM, "%s", PROFD_PERMISSION_DENIED);
    if (n < 0)
        return fail(msg, len, PY_ENOPROC, "Failed to profile process: no such process (pid %ld)",
                    (long)pid);
    int rc = PY_ENOTPY;
    char first_err[1024] = "";
    uint64_t runtime_size = 0;
    for (int i = 0; i < n; i++) {
        rc = try_module(t, &mods[i], &runtime_size, msg, len);
        if (rc == PY_OK || rc == PY_EVERSION)
            break;
        if (rc == PY_EPERM)
            return fail(msg, len, PY_EPERM, "%s", PROFD_PERMISSION_DENIED);
        if (rc == PY_ENOFILE && !first_err[0])
            snprintf(first_err, sizeof(first_err), "%s", msg);
    }
    uint64_t probe;
    if (rc == PY_OK && py_read_ptr(pid, t->runtime, &probe) != 0)
        return errno == EPERM ? fail(msg, len, PY_EPERM, "%s", PROFD_PERMISSION_DENIED)
                              : fail(msg, len, PY_ENOPROC,
                                     "Failed to profile process: pid %ld went away", (long)pid);
    if (rc != PY_OK && rc != PY_EVERSION && first_err[0])
        return fail(msg, len, PY_ENOFILE, "%s", first_err);
    if (rc == PY_ENOTPY)
        return fail(msg, len, PY_ENOTPY,
                    "Failed to profile process: pid %ld is not a Python process (no _PyRuntime "
                    "symbol in its executable or libpython)",
                    (long)pid);
    if (rc != PY_OK)
        return rc;
    bool differs = !t->have_debug_offsets && runtime_size != t->L->runtime_size;
    return check_live(t, differs, runtime_size, msg, len);
}
