/* locate.c - finding and checking the interpreter of a running process.
 *
 * Order of work, each step with its own one-line failure:
 *   1. /proc/PID exists                                  -> "no such process"
 *   2. its maps and ELF files are readable, and one byte of its memory is
 *      readable with process_vm_readv                    -> permission denied
 *   3. libpython or the executable defines _PyRuntime    -> "not a Python process"
 *   4. the version: Py_Version (3.11+, read from memory), else the version in
 *      the libpython / executable file name, else the unique known size of
 *      _PyRuntime                                         -> "unsupported version X"
 *   5. the layout check: the symbol's st_size must equal the version's
 *      sizeof(_PyRuntimeState); on 3.13 the _Py_DebugOffsets at the start of
 *      _PyRuntime must carry the "xdebugpy" cookie, the same version, and the
 *      offsets our table uses                             -> "unsupported build"
 * Nothing is guessed: a target that fails a check is refused, naming what was
 * found. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "profd/sampler.h"
#include "pysampler.h"

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
    for (int m = 8; m <= 13; m++) {
        const py_layout *L = py_layout_for(m);
        if (L && L->runtime_size == size)
            return m;
    }
    return -1;
}

/* 3.13+: _Py_DebugOffsets (Include/internal/pycore_runtime.h) opens _PyRuntime. */
static int check_debug_offsets(py_target *t, char *msg, size_t len)
{
    uint64_t d[44];
    if (py_read(t->pid, t->runtime, d, sizeof(d)) != 0)
        return fail(msg, len, errno == EPERM ? PY_EPERM : PY_ENOTPY,
                    "Failed to profile process: cannot read _PyRuntime of pid %ld", (long)t->pid);
    if (memcmp(d, "xdebugpy", 8) != 0)
        return fail(msg, len, PY_EVERSION,
                    "Failed to profile process: unsupported Python build %s (no _Py_DebugOffsets "
                    "cookie in _PyRuntime)",
                    t->version);
    const py_layout *L = t->L;
    /* d[i] is the uint64 at byte 8*i of _Py_DebugOffsets. */
    struct {
        int idx;
        long want;
    } checks[] = {
        {5, L->rt_interp_head}, {8, L->is_next},           {9, L->is_tstate_head},
        {21, L->ts_next},       {23, L->ts_current_frame}, {25, L->ts_native_thread_id},
        {29, L->if_previous},   {30, L->if_code},          {31, L->if_instr},
        {33, L->if_owner},      {35, L->co_filename},      {37, L->co_qualname},
        {38, L->co_linetable},  {39, L->co_firstlineno},   {43, L->co_code_adaptive},
    };
    if ((d[1] >> 16) != (uint64_t)(0x0300 | L->minor) || d[2] != 0)
        return fail(msg, len, PY_EVERSION,
                    "Failed to profile process: unsupported Python build %s (debug offsets "
                    "describe another version or a free-threaded build)",
                    t->version);
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
        if ((long)d[checks[i].idx] != checks[i].want)
            return fail(msg, len, PY_EVERSION,
                        "Failed to profile process: unsupported Python build %s (its debug "
                        "offsets differ from the 3.13 layout at field %ld)",
                        t->version, (long)checks[i].idx);
    return PY_OK;
}

static int try_module(py_target *t, const py_module *m, char *msg, size_t len)
{
    py_symbols s;
    if (py_elf_symbols(m->open_path, &s) != 0)
        return errno == EACCES || errno == EPERM ? PY_EPERM : PY_ENOTPY;
    int minor_name = minor_from_name(m->path);
    if (!s.runtime) {
        if (strstr(m->path, "libpython"))
            return fail(msg, len, PY_EVERSION,
                        "Failed to profile process: unsupported Python version found in %s "
                        "(supported: 3.8 to 3.13)",
                        m->path);
        return PY_ENOTPY;
    }
    uint64_t bias = m->base - s.first_load_vaddr;
    t->runtime = s.runtime + bias;
    t->code_type = s.code_type ? s.code_type + bias : 0;
    int minor = -1;
    if (s.py_version) {
        uint32_t hex;
        if (py_read(t->pid, s.py_version + bias, &hex, sizeof(hex)) != 0)
            return errno == EPERM ? PY_EPERM : PY_ENOTPY;
        minor = (hex >> 16) & 0xff;
        snprintf(t->version, sizeof(t->version), "%u.%u.%u", hex >> 24, (hex >> 16) & 0xff,
                 (hex >> 8) & 0xff);
        if ((hex >> 24) != 3)
            minor = -1;
    } else {
        minor = minor_name >= 0 ? minor_name : minor_from_size(s.runtime_size);
        if (minor >= 0)
            snprintf(t->version, sizeof(t->version), "3.%d", minor);
        else
            snprintf(t->version, sizeof(t->version), "unknown");
    }
    t->L = minor >= 0 ? py_layout_for(minor) : NULL;
    if (!t->L)
        return fail(msg, len, PY_EVERSION,
                    "Failed to profile process: unsupported Python version %s (supported: 3.8 "
                    "to 3.13)",
                    t->version);
    if (minor >= 13)
        return check_debug_offsets(t, msg, len);
    if (s.runtime_size != t->L->runtime_size)
        return fail(msg, len, PY_EVERSION,
                    "Failed to profile process: unsupported Python build %s (_PyRuntime is %ld "
                    "bytes, not the size this version's layout expects)",
                    t->version, (long)s.runtime_size);
    return PY_OK;
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
    for (int i = 0; i < n; i++) {
        rc = try_module(t, &mods[i], msg, len);
        if (rc == PY_OK || rc == PY_EVERSION)
            break;
        if (rc == PY_EPERM)
            return fail(msg, len, PY_EPERM, "%s", PROFD_PERMISSION_DENIED);
    }
    uint64_t probe;
    if (rc == PY_OK && py_read_ptr(pid, t->runtime, &probe) != 0)
        return errno == EPERM ? fail(msg, len, PY_EPERM, "%s", PROFD_PERMISSION_DENIED)
                              : fail(msg, len, PY_ENOPROC,
                                     "Failed to profile process: pid %ld went away", (long)pid);
    if (rc == PY_ENOTPY)
        return fail(msg, len, PY_ENOTPY,
                    "Failed to profile process: pid %ld is not a Python process (no _PyRuntime "
                    "symbol in its executable or libpython)",
                    (long)pid);
    return rc;
}
