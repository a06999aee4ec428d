/* remote.c - CPython 3.14's safe external debugger interface (PEP 768), from outside.
 *
 * The protocol is the one Python/remote_debugging.c implements for sys.remote_exec():
 *   1. _PyRuntime opens with _Py_DebugOffsets ("xdebugpy" cookie, PY_VERSION_HEX, the
 *      free-threaded flag, then offsets); its debugger_support block names, per thread state,
 *      eval_breaker and the _PyRemoteDebuggerSupport area (debugger_pending_call, an int, and
 *      debugger_script_path, a char[debugger_script_path_size]), and, per interpreter,
 *      config.remote_debug (0 under -X disable-remote-debug or PYTHON_DISABLE_REMOTE_DEBUG);
 *   2. write the script path (NUL-terminated, shorter than the buffer) into a thread's
 *      debugger_script_path, set its debugger_pending_call to 1, and OR
 *      _PY_EVAL_PLEASE_STOP_BIT (1 << 5) into its eval_breaker;
 *   3. at its next safe point that thread clears the pending flag and runs the file.
 * Unlike sys.remote_exec, every write here happens with all threads of the target stopped
 * (PTRACE_SEIZE + INTERRUPT, pause.c): the eval breaker is a read-modify-write of a word the
 * target's own threads change (GIL drop requests), so it must not race them. When seizing is
 * refused, the writes are done without it, as CPython does.
 *
 * Which thread: the main thread first, exactly like sys.remote_exec(pid, path). A main thread
 * blocked in C (join, a lock, a long read) never reaches a safe point, so py_remote_arm_more
 * later arms every other thread too; the script itself makes a second run a no-op, and
 * py_remote_disarm takes the request back from the threads that did not take it. Disarming
 * restores each thread as it was: pending 0, path empty, and the eval-breaker bit cleared
 * again when it was clear before we set it.
 *
 * The offsets come from the built-in sampler's one parse of the target's _Py_DebugOffsets
 * (debug_offsets.c, py_debug_offsets_parse), which checks every offset against the size of
 * its structure; py_remote_open adds the checks of the PEP 768 fields before any write.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pysampler.h"

#define PLEASE_STOP_BIT 0x20ULL
#define COOKIE "xdebugpy"

static int py_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
    struct iovec local = {(void *)buf, len};
    struct iovec remote = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (n == (ssize_t)len)
        return 0;
    if (n >= 0)
        errno = EFAULT;
    return -1;
}

static py_remote_result say(char *msg, size_t len, py_remote_result rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static py_remote_result say(char *msg, size_t len, py_remote_result rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return rc;
}

/* _PyRuntime of pid: 0 with *addr set, else a result with msg. */
static py_remote_result find_runtime(pid_t pid, uint64_t *addr, char *msg, size_t len)
{
    py_module mods[2];
    int n = py_maps_modules(pid, mods, 2);
    if (n < 0)
        return errno == EACCES || errno == EPERM
                   ? say(msg, len, PY_REMOTE_EPERM, "%s",
                         "Failed to profile process: Permission denied")
                   : say(msg, len, PY_REMOTE_ENOPROC, "no such process (pid %ld)", (long)pid);
    for (int i = 0; i < n; i++) {
        char why[1024];
        py_symbols s;
        int fd = py_module_open(pid, &mods[i], why, sizeof why); /* device and inode checked */
        if (fd < 0)
            continue;
        int rc = py_elf_symbols_fd(fd, &s);
        close(fd);
        if (rc != 0 || !s.runtime)
            continue;
        *addr = s.runtime + (mods[i].base - s.first_load_vaddr);
        return PY_REMOTE_OK;
    }
    return say(msg, len, PY_REMOTE_ENOTPY,
               "pid %ld is not a Python process (no _PyRuntime in its executable or libpython)",
               (long)pid);
}

py_remote_result py_remote_open(pid_t pid, py_remote *r, char *msg, size_t len)
{
    memset(r, 0, sizeof *r);
    r->pid = pid;
    py_remote_result rc = find_runtime(pid, &r->runtime, msg, len);
    if (rc != PY_REMOTE_OK)
        return rc;
    static __thread uint8_t blob[PY_DEBUG_OFFSETS_READ];
    if (py_read(pid, r->runtime, blob, 24) != 0)
        return errno == EPERM ? say(msg, len, PY_REMOTE_EPERM, "%s",
                                    "Failed to profile process: Permission denied")
                              : say(msg, len, PY_REMOTE_ENOPROC, "cannot read pid %ld", (long)pid);
    if (memcmp(blob, COOKIE, 8) != 0) /* no _Py_DebugOffsets: older than 3.13 */
        return say(msg, len, PY_REMOTE_TOO_OLD, "%s", PY_REMOTE_TOO_OLD_MSG);
    uint64_t hex;
    memcpy(&hex, blob + 8, 8);
    r->version = (uint32_t)hex;
    py_version_string(r->version, r->version_text, sizeof r->version_text);
    int major = (int)(r->version >> 24), minor = (int)((r->version >> 16) & 0xff);
    if (major != 3 || minor < 14)
        return say(msg, len, PY_REMOTE_TOO_OLD, "%s (pid %ld runs %s)", PY_REMOTE_TOO_OLD_MSG,
                   (long)pid, r->version_text);
    /* The block may end closer to the end of the mapping than 1 KiB: read what is there. */
    size_t got = sizeof blob;
    while (got > 24 && py_read(pid, r->runtime, blob, got) != 0)
        got /= 2;
    py_debug_offsets d;
    char why[256];
    py_do_result pr = py_debug_offsets_parse(blob, got, &d, why, sizeof why);
    if (pr != PY_DO_OK)
        return say(msg, len, PY_REMOTE_UNSUPPORTED,
                   "CPython %s of pid %ld has debug offsets profd cannot use (%s); memory "
                   "profiling refused rather than writing to the wrong place",
                   r->version_text, (long)pid, why);
    if (d.free_threaded)
        return say(msg, len, PY_REMOTE_FREE_THREADED,
                   "memory profiling of free-threaded CPython builds is not supported (pid %ld "
                   "runs a free-threaded %s)",
                   (long)pid, r->version_text);
    if (d.newer)
        return say(msg, len, PY_REMOTE_UNSUPPORTED,
                   "memory profiling does not know CPython %s yet (known: 3.14, 3.15)",
                   r->version_text);
    r->interpreters_head = d.runtime_state.interpreters_head;
    r->threads_head = d.interpreter_state.threads_head;
    r->threads_main = d.interpreter_state.threads_main;
    r->ts_next = d.thread_state.next;
    r->eval_breaker = d.debugger_support.eval_breaker;
    r->support = d.debugger_support.remote_debugger_support;
    r->enabled = d.debugger_support.remote_debugging_enabled;
    r->pending = d.debugger_support.debugger_pending_call;
    r->path = d.debugger_support.debugger_script_path;
    r->path_size = d.debugger_support.debugger_script_path_size;
    uint64_t ts_size = d.thread_state.size, is_size = d.interpreter_state.size;
    /* What PEP 768 writes to, inside the structures it belongs to, before any write. */
    bool sane = r->path_size >= 64 && r->path_size <= 4096 && r->eval_breaker + 8 <= ts_size &&
                r->pending + 4 <= r->path && r->support + r->path + r->path_size <= ts_size &&
                r->enabled + 4 <= is_size && r->threads_main + 8 <= is_size &&
                r->threads_head + 8 <= is_size && r->ts_next + 8 <= ts_size &&
                r->interpreters_head + 8 <= d.runtime_state.size;
    if (!sane)
        return say(msg, len, PY_REMOTE_UNSUPPORTED,
                   "CPython %s of pid %ld has PEP 768 offsets profd does not recognise; memory "
                   "profiling refused rather than writing to the wrong place",
                   r->version_text, (long)pid);
    if (py_read_ptr(pid, r->runtime + r->interpreters_head, &r->interp) != 0 || !r->interp)
        return say(msg, len, PY_REMOTE_ENOPROC, "pid %ld has no running interpreter", (long)pid);
    int32_t on = 0;
    if (py_read(pid, r->interp + r->enabled, &on, sizeof on) != 0)
        return say(msg, len, PY_REMOTE_ENOPROC, "cannot read pid %ld", (long)pid);
    if (on != 1)
        return say(msg, len, PY_REMOTE_DISABLED,
                   "pid %ld disabled remote debugging (-X disable-remote-debug or "
                   "PYTHON_DISABLE_REMOTE_DEBUG), so memory profiling cannot run in it",
                   (long)pid);
    return PY_REMOTE_OK;
}

/* ---- arming ------------------------------------------------------------------------------ */

static bool is_armed(const py_remote *r, uint64_t ts)
{
    for (int i = 0; i < r->narmed; i++)
        if (r->armed[i].tstate == ts)
            return true;
    return false;
}

static int arm_one(py_remote *r, uint64_t ts, const char *script)
{
    if (r->narmed >= PY_REMOTE_MAX_THREADS || is_armed(r, ts))
        return 0;
    uint64_t area = ts + r->support;
    uint64_t breaker;
    int32_t one = 1;
    if (py_write(r->pid, area + r->path, script, strlen(script) + 1) != 0 ||
        py_write(r->pid, area + r->pending, &one, sizeof one) != 0 ||
        py_read(r->pid, ts + r->eval_breaker, &breaker, sizeof breaker) != 0)
        return -1;
    py_armed *a = &r->armed[r->narmed++];
    a->tstate = ts;
    a->bit_was_set = (breaker & PLEASE_STOP_BIT) != 0;
    breaker |= PLEASE_STOP_BIT;
    return py_write(r->pid, ts + r->eval_breaker, &breaker, sizeof breaker);
}

/* Run fn with the target's threads stopped when they can be (PTRACE_SEIZE + INTERRUPT,
 * pause.c); they are released before returning, whatever fn did. */
static int paused(py_remote *r, int (*fn)(py_remote *, const char *), const char *script)
{
    static __thread pid_t tids[PY_MAX_THREADS];
    int n = py_tasks_list(r->pid, tids, PY_MAX_THREADS, true);
    py_pause_init(&r->pauser, r->pid);
    if (n > 0)
        (void)py_pause_stop(&r->pauser, tids, n, 1000); /* unstoppable threads: written anyway */
    int rc = fn(r, script);
    py_pause_finish(&r->pauser, 200);
    return rc;
}

static int arm_main(py_remote *r, const char *script)
{
    uint64_t ts = 0;
    if (py_read_ptr(r->pid, r->interp + r->threads_main, &ts) != 0 || !ts)
        if (py_read_ptr(r->pid, r->interp + r->threads_head, &ts) != 0 || !ts)
            return -1;
    return arm_one(r, ts, script);
}

static int arm_rest(py_remote *r, const char *script)
{
    uint64_t ts = 0;
    if (py_read_ptr(r->pid, r->interp + r->threads_head, &ts) != 0)
        return -1;
    for (int n = 0; ts && n < PY_REMOTE_MAX_THREADS; n++) {
        if (arm_one(r, ts, script) != 0)
            return -1;
        if (py_read_ptr(r->pid, ts + r->ts_next, &ts) != 0)
            return -1;
    }
    return 0;
}

int py_remote_arm(py_remote *r, const char *script)
{
    if (strlen(script) + 1 >= r->path_size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return paused(r, arm_main, script);
}

int py_remote_arm_more(py_remote *r, const char *script)
{
    return paused(r, arm_rest, script);
}

int py_remote_taken(const py_remote *r)
{
    for (int i = 0; i < r->narmed; i++) {
        int32_t pending = 1;
        if (py_read(r->pid, r->armed[i].tstate + r->support + r->pending, &pending,
                    sizeof pending) != 0)
            return -1; /* the thread went away (or the target did) */
        if (pending == 0)
            return 1;
    }
    return 0;
}

static int disarm_all(py_remote *r, const char *unused)
{
    (void)unused;
    int taken = 0;
    for (int i = 0; i < r->narmed; i++) {
        uint64_t ts = r->armed[i].tstate, area = ts + r->support, breaker;
        int32_t pending = 0, zero = 0;
        char empty = '\0';
        if (py_read(r->pid, area + r->pending, &pending, sizeof pending) != 0)
            continue; /* that thread is gone, and its state with it */
        if (pending == 0) {
            taken = 1; /* this one ran (or is running) the script */
            continue;
        }
        py_write(r->pid, area + r->pending, &zero, sizeof zero);
        py_write(r->pid, area + r->path, &empty, 1);
        if (!r->armed[i].bit_was_set &&
            py_read(r->pid, ts + r->eval_breaker, &breaker, sizeof breaker) == 0 &&
            (breaker & PLEASE_STOP_BIT)) {
            breaker &= ~PLEASE_STOP_BIT;
            py_write(r->pid, ts + r->eval_breaker, &breaker, sizeof breaker);
        }
    }
    r->narmed = 0;
    return taken;
}

int py_remote_disarm(py_remote *r)
{
    return paused(r, disarm_all, NULL);
}
