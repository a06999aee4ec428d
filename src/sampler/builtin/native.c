/* native.c - `--native`: native frames interleaved with the Python frames, as py-spy does.
 *
 * Unwinding uses libdw (elfutils). The threads a sample reads are already
 * ptrace-stopped by pause.c for its length, so libdw is given its own thread callbacks
 * (dwfl_attach_state) instead of dwfl_linux_proc_attach: registers come from
 * PTRACE_GETREGS on the stopped thread, and memory from process_vm_readv in
 * aligned 32 KiB blocks, each read once per unwind when the unwinder first
 * reaches it (up to 16: a 50-frame stack of 3.8-3.10, a C frame or more per
 * Python frame, spans several), so an unwind costs a handful of reads
 * (libdw's own /proc attach reads memory a word at a time with
 * PTRACE_PEEKDATA). libdw then does what libunwind would not: CFI from
 * .eh_frame and .debug_frame, separate debuginfo by build id, symbol names
 * from .symtab/.dynsym and source lines, all cached per module.
 *
 * Two steps per sample, so the target is held stopped only for the first:
 *   py_native_unwind  while the threads are stopped: the program counters of
 *                     each thread (innermost first);
 *   py_native_merge   after they run again: symbolize (cached per address)
 *                     and merge with the thread's Python frames.
 * The merge is py-spy's (native_stack_trace.rs): walking the native frames
 * innermost first, a frame in the python executable or libpython named
 * PyEval_EvalFrameDefault / PyEval_EvalFrameEx (after splitting on '_' and
 * '.', so _PyEval_EvalFrameDefault.cold counts) is replaced by the Python
 * frames that eval loop runs: every frame up to and including the next
 * "entry" frame (py_frame.entry: each frame before 3.11, `is_entry` on 3.11,
 * the frame above a C-stack shim on 3.12+); other interpreter frames are
 * dropped unless their name starts with one of py-spy's kept prefixes (time,
 * sys, gc, os, unicode, thread, stringio, sre, PyGilState, PyThread, lock);
 * frames of any other module are kept, except __libc_start_main and __clone
 * in libc and start_thread in libpthread. A native frame is written
 * `function (file:line)` with the line when debuginfo has it, else
 * `function (module)`, the file or module shortened like Python files
 * (libc.so.6); an address without a symbol is `0xADDR (module)`, one
 * outside any module `0xADDR (?)`. When the counts disagree (py-spy's rule:
 * no eval frame found puts the Python frames after the native ones; one eval
 * frame too many is accepted; anything else fails), the sample keeps its
 * Python-only stack and is counted as a merge failure. */
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <time.h>
#include <unistd.h>

#include "pysampler.h"

#define MAX_NATIVE 512
#define BLOCK                                                                                      \
    (32 * 1024) /* the stack is copied in aligned blocks, as the unwinder reaches them             \
                 */
#define MAX_BLOCKS 16
#define SYM_SLOTS 8192 /* power of two */

typedef struct sym {
    uint64_t pc;
    int kind;
    int line;
    py_code code; /* name, filename, short_filename of a native frame */
    struct sym *next;
} sym;

struct py_native {
    pid_t pid;
    Dwfl *dwfl;
    bool attached;
    char exe[4096];
    /* the thread being unwound: its registers and a copy of the top of its stack */
    pid_t tid;
    struct user_regs_struct regs;
    bool have_regs;
    int nblocks;
    uint64_t block_at[MAX_BLOCKS];
    size_t block_len[MAX_BLOCKS];
    uint8_t block[MAX_BLOCKS][BLOCK];
    /* per thread of the current sample: its program counters */
    int count;
    long tids[PY_MAX_THREADS];
    int npcs[PY_MAX_THREADS];
    uint64_t pcs[PY_MAX_THREADS][MAX_NATIVE];
    sym *syms[SYM_SLOTS];
    py_frame merged[PY_MAX_DEPTH];
    bool reload;
    py_native_stats st;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The pid whose Dwfl is in use: libdw opens module files lazily, from inside the calls below,
 * and this libdw has no way back from a module to its Dwfl's argument. One sampler thread. */
static pid_t current_pid;

/* Open a module's file through the target's root first (containers), then as named. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
                    char **file_name, Elf **elfp)
{
    if (name && name[0] == '/' && current_pid > 0) {
        char path[4200];
        snprintf(path, sizeof(path), "/proc/%d/root%s", (int)current_pid, name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            *file_name = strdup(path);
            return fd;
        }
    }
    return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
}

/* Separate debuginfo (by build id) of the target's own root first: a container's or chroot's
 * /usr/lib/debug, then the host's. Set per pid with the current one (use_pid). */
static char debuginfo_dirs[160] = ":.debug:/usr/lib/debug";
static char *debuginfo_path = debuginfo_dirs;
static const Dwfl_Callbacks callbacks = {
    .find_elf = find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
    (void)dwfl;
    (void)arg;
    (void)thread_argp;
    return 0; /* threads are named by get_thread */
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
    (void)dwfl;
    (void)arg;
    *thread_argp = (void *)(intptr_t)tid;
    return true;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
    (void)dwfl;
    py_native *n = arg;
    uint64_t at = addr & ~(uint64_t)(BLOCK - 1);
    int b = 0;
    while (b < n->nblocks && n->block_at[b] != at)
        b++;
    if (b == n->nblocks && b < MAX_BLOCKS && addr % 8 == 0) { /* a stack block not read yet */
        struct iovec local = {n->block[b], BLOCK};
        struct iovec remote = {(void *)(uintptr_t)at, BLOCK};
        ssize_t got = process_vm_readv(n->pid, &local, 1, &remote, 1, 0);
        n->block_at[b] = at;
        n->block_len[b] = got > 0 ? (size_t)got : 0;
        n->nblocks++;
    }
    if (b < n->nblocks && addr - at + 8 <= n->block_len[b]) {
        memcpy(result, n->block[b] + (addr - at), 8);
        return true;
    }
    return py_read(n->pid, addr, result, 8) == 0;
}

static py_native *unwinding; /* the py_native inside dwfl_getthread_frames (one thread) */

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
    pid_t tid = (pid_t)(intptr_t)thread_arg;
    if (!unwinding || unwinding->tid != tid || !unwinding->have_regs)
        return false;
    const struct user_regs_struct r = unwinding->regs; /* PTRACE_GETREGS of the stopped thread */
    /* DWARF numbering on x86_64: rax rdx rcx rbx rsi rdi rbp rsp r8-r15, then the RA (rip). */
    Dwarf_Word regs[17] = {r.rax, r.rdx, r.rcx, r.rbx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8,
                           r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rip};
    return dwfl_thread_state_registers(thread, 0, 17, regs);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
};

static void use_pid(pid_t pid)
{
    if (current_pid == pid)
        return;
    current_pid = pid;
    snprintf(debuginfo_dirs, sizeof(debuginfo_dirs),
             ":.debug:/proc/%d/root/usr/lib/debug:/usr/lib/debug", (int)pid);
}

static int report(py_native *n)
{
    use_pid(n->pid);
    dwfl_report_begin(n->dwfl);
    int rc = dwfl_linux_proc_report(n->dwfl, n->pid);
    dwfl_report_end(n->dwfl, NULL, NULL);
    return rc == 0 ? 0 : -1;
}

py_native *py_native_new(pid_t pid)
{
    py_native *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->pid = pid;
    char link[64];
    snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
    ssize_t len = readlink(link, n->exe, sizeof(n->exe) - 1);
    n->exe[len > 0 ? len : 0] = '\0';
    char *del = strstr(n->exe, " (deleted)");
    if (del)
        *del = '\0';
    n->dwfl = dwfl_begin(&callbacks);
    if (!n->dwfl || report(n) != 0 ||
        !dwfl_attach_state(n->dwfl, NULL, pid, &thread_callbacks, n)) {
        py_native_free(n);
        return NULL;
    }
    return n;
}

void py_native_free(py_native *n)
{
    if (!n)
        return;
    if (n->dwfl)
        dwfl_end(n->dwfl);
    for (int i = 0; i < SYM_SLOTS; i++)
        for (sym *s = n->syms[i], *next; s; s = next) {
            next = s->next;
            free(s->code.name);
            free(s->code.filename);
            free(s->code.short_filename);
            free(s);
        }
    free(n);
}

const py_native_stats *py_native_stats_of(const py_native *n)
{
    return &n->st;
}

typedef struct unwind_ctx {
    py_native *n;
    int slot;
} unwind_ctx;

static int on_frame(Dwfl_Frame *state, void *arg)
{
    unwind_ctx *c = arg;
    py_native *n = c->n;
    Dwarf_Addr pc;
    bool activation;
    if (!dwfl_frame_pc(state, &pc, &activation))
        return DWARF_CB_ABORT;
    if (!activation && pc > 0)
        pc--; /* a return address: the call is the instruction before */
    if (pc == 0 || n->npcs[c->slot] >= MAX_NATIVE)
        return DWARF_CB_ABORT;
    n->pcs[c->slot][n->npcs[c->slot]++] = pc;
    return DWARF_CB_OK;
}

void py_native_begin(py_native *n)
{
    n->count = 0;
}

int py_native_unwind(py_native *n, long tid)
{
    if (n->count >= PY_MAX_THREADS || tid <= 0)
        return -1;
    int64_t t0 = now_ns();
    int slot = n->count++;
    n->tids[slot] = tid;
    n->npcs[slot] = 0;
    n->nblocks = 0;
    n->have_regs = ptrace(PTRACE_GETREGS, (pid_t)tid, NULL, &n->regs) == 0;
    n->tid = (pid_t)tid;
    use_pid(n->pid);
    unwind_ctx c = {n, slot};
    unwinding = n;
    if (n->have_regs)
        dwfl_getthread_frames(n->dwfl, (pid_t)tid, on_frame, &c);
    unwinding = NULL;
    n->st.unwinds++;
    n->st.frames += n->npcs[slot];
    n->st.unwind_us += (double)(now_ns() - t0) / 1000.0;
    return n->npcs[slot] > 0 ? 0 : -1;
}

/* py-spy's split of a symbol on '_' and '.': the first two non-empty tokens. */
static void tokens(const char *s, char *a, char *b, size_t len)
{
    char *out[2] = {a, b};
    a[0] = b[0] = '\0';
    int k = 0;
    while (*s && k < 2) {
        size_t n = strcspn(s, "_.");
        if (n) {
            snprintf(out[k], len, "%.*s", (int)n, s);
            k++;
        }
        s += n;
        if (*s)
            s++;
    }
}

static bool kept_prefix(const char *t)
{
    static const char *const keep[] = {"time",       "sys",      "gc",       "os",
                                       "unicode",    "thread",   "stringio", "sre",
                                       "PyGilState", "PyThread", "lock"};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (strcmp(t, keep[i]) == 0)
            return true;
    return false;
}

static bool is_python_module(const py_native *n, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return strcmp(path, n->exe) == 0 || strncmp(base, "libpython", 9) == 0;
}

static bool ignored(const char *func, const char *module)
{
    return (strcmp(func, "__libc_start_main") == 0 && strstr(module, "/libc")) ||
           (strcmp(func, "__clone") == 0 && strstr(module, "/libc")) ||
           (strcmp(func, "start_thread") == 0 && strstr(module, "/libpthread"));
}

int py_native_kind(const char *func, const char *module, bool in_python)
{
    if (!func)
        return in_python ? PY_NATIVE_IGNORE : PY_NATIVE_KEEP;
    char name[256], a[64], b[64];
    snprintf(name, sizeof(name), "%.*s", (int)strcspn(func, "@"), func); /* no @@GLIBC_2.34 */
    if (!in_python)
        return ignored(name, module) ? PY_NATIVE_IGNORE : PY_NATIVE_KEEP;
    tokens(name, a, b, sizeof(a));
    if (strcmp(a, "PyEval") == 0)
        return strcmp(b, "EvalFrameDefault") == 0 || strcmp(b, "EvalFrameEx") == 0
                   ? PY_NATIVE_EVAL
                   : PY_NATIVE_IGNORE;
    return kept_prefix(a) ? PY_NATIVE_KEEP : PY_NATIVE_IGNORE;
}

static void set_frame(py_native *n, sym *s, const char *name, const char *file)
{
    char shortname[1024];
    if (file[0] == '/') {
        py_short_filename(n->pid, file, shortname, sizeof(shortname));
    } else { /* a source path relative to its build directory: its last part */
        const char *slash = strrchr(file, '/');
        snprintf(shortname, sizeof(shortname), "%s", slash ? slash + 1 : file);
    }
    s->code.name = strdup(name);
    s->code.filename = strdup(file);
    s->code.short_filename = strdup(shortname[0] ? shortname : file);
    s->code.valid = true;
}

static const sym *lookup(py_native *n, uint64_t pc)
{
    unsigned h = (unsigned)((pc >> 2) * 2654435761u) & (SYM_SLOTS - 1);
    for (sym *s = n->syms[h]; s; s = s->next)
        if (s->pc == pc)
            return s;
    Dwfl_Module *mod = dwfl_addrmodule(n->dwfl, pc);
    if (!mod && !n->reload) {
        n->reload = true; /* a library mapped since: report the modules again, once a sample */
        report(n);
        mod = dwfl_addrmodule(n->dwfl, pc);
    }
    sym *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->pc = pc;
    s->kind = PY_NATIVE_KEEP;
    char addr[32];
    snprintf(addr, sizeof(addr), "0x%" PRIx64, pc);
    if (!mod) {
        set_frame(n, s, addr, "?");
    } else {
        const char *module = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        module = module ? module : "?";
        GElf_Off off;
        GElf_Sym esym;
        const char *func = dwfl_module_addrinfo(mod, pc, &off, &esym, NULL, NULL, NULL);
        s->kind = py_native_kind(func, module, is_python_module(n, module));
        if (s->kind == PY_NATIVE_KEEP) {
            Dwfl_Line *ln = func ? dwfl_module_getsrc(mod, pc) : NULL;
            int line = 0;
            const char *src = ln ? dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL) : NULL;
            s->line = src ? line : 0;
            char name[512];
            /* "__libc_start_main@@GLIBC_2.34": the version is not part of the name */
            snprintf(name, sizeof(name), "%.*s", func ? (int)strcspn(func, "@") : 0,
                     func ? func : "");
            set_frame(n, s, func ? name : addr, src ? src : module);
        }
    }
    s->next = n->syms[h];
    n->syms[h] = s;
    return s;
}

static void put(py_frame *out, int max, int *k, const py_code *code, int line, bool entry)
{
    if (*k >= max)
        return;
    out[*k].code = code;
    out[*k].line = line;
    out[*k].entry = entry;
    (*k)++;
}

int py_merge_stacks(const py_native_frame *nat, int nn, const py_frame *py, int depth,
                    py_frame *out, int max)
{
    int k = 0, pi = 0;
    for (int i = 0; i < nn; i++) {
        if (nat[i].kind == PY_NATIVE_KEEP) {
            put(out, max, &k, nat[i].code, nat[i].line, true);
        } else if (nat[i].kind == PY_NATIVE_EVAL) {
            /* the Python frames this eval-loop call runs: up to and including an entry frame */
            while (pi < depth) {
                put(out, max, &k, py[pi].code, py[pi].line, py[pi].entry);
                if (py[pi].entry)
                    break;
                pi++;
            }
            pi++;
        }
    }
    if (pi == 0) { /* no eval frame seen (a short native stack): Python frames after */
        for (int i = 0; i < depth; i++)
            put(out, max, &k, py[i].code, py[i].line, py[i].entry);
    } else if (pi != depth && pi != depth + 1) {
        return -1; /* one eval frame too many is allowed: the Python stack already unwound */
    }
    return k;
}

int py_native_merge(py_native *n, py_thread *th)
{
    static py_native_frame nat[MAX_NATIVE];
    int slot = -1;
    for (int i = 0; i < n->count; i++)
        if (n->tids[i] == th->tid)
            slot = i;
    n->reload = false;
    use_pid(n->pid);
    if (slot < 0 || n->npcs[slot] == 0) {
        n->st.failed++;
        return -1;
    }
    int nn = 0;
    for (int i = 0; i < n->npcs[slot]; i++) {
        const sym *s = lookup(n, n->pcs[slot][i]);
        if (!s)
            continue;
        nat[nn].kind = s->kind;
        nat[nn].code = &s->code;
        nat[nn].line = s->line;
        nn++;
    }
    int k = py_merge_stacks(nat, nn, th->frames, th->depth, n->merged, PY_MAX_DEPTH);
    if (k < 0) {
        n->st.failed++;
        return -1;
    }
    th->frames = n->merged;
    th->depth = k;
    n->st.merged++;
    return 0;
}
