/* pysampler.h - internals of the built-in CPython sampler (`profd sample record`).
 *
 * The sampler reads a live CPython process from outside with process_vm_readv:
 * find `_PyRuntime` through ELF symbols (locate.c, elfsym.c, procmaps.c), take
 * the layout of that version from the target's own `_Py_DebugOffsets` (3.13+,
 * debug_offsets.c) or the per-minor table (3.8-3.12, layout.c), walk interpreters -> threads ->
 * frames (stack.c), turn code objects into names and line numbers (code.c, unicode.c, linetable.c),
 * judge which threads run (tasks.c), optionally pause the threads to be read for the length of
 * one read (pause.c), aggregate and write py-spy compatible output (output.c), all driven by a
 * loop on random intervals around the mean period (record.c). Nothing here is shared with other
 * modules. */
#ifndef PROFD_PYSAMPLER_H
#define PROFD_PYSAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "debug_offsets.h"

/* ---- memory of the target (mem.c) ---- */
/* 0 on a full read; -1 with errno otherwise (EFAULT/EIO/ESRCH/EPERM). */
int py_read(pid_t pid, uint64_t addr, void *buf, size_t len);
int py_read_ptr(pid_t pid, uint64_t addr, uint64_t *out);
/* Read n (addr, len) pieces into bufs with one syscall per 512 pieces. Returns how many
 * leading pieces were read in full. */
int py_read_many(pid_t pid, const uint64_t *addrs, size_t len, uint8_t *bufs, int n);
/* The same with a length and a buffer per piece (one syscall per 64 pieces). */
int py_read_vec(pid_t pid, const uint64_t *addrs, const size_t *lens, uint8_t *const *bufs, int n);

/* ---- per-version layout (layout.c) ---- */
enum { LT_LNOTAB, LT_PEP626, LT_LOCATIONS };

typedef struct py_layout {
    int minor;           /* 3.minor */
    size_t runtime_size; /* sizeof(_PyRuntimeState), checked against the symbol's st_size */
    /* _PyRuntimeState */
    int rt_interp_head, rt_main_thread;
    int rt_gil; /* offset of struct _gil_runtime_state inside the runtime; -1: per interpreter */
    /* PyInterpreterState */
    int is_next, is_tstate_head;
    int is_gil_ptr; /* interp->ceval.gil (a pointer, 3.12+); -1 if in the runtime */
    /* struct _gil_runtime_state */
    int gil_last_holder, gil_locked;
    /* PyThreadState */
    int ts_next, ts_frame, ts_cframe, ts_current_frame, ts_thread_id, ts_native_thread_id;
    int ts_datastack_chunk, ts_datastack_top; /* 3.11+: the frames' memory */
    int ts_read;                              /* bytes of PyThreadState to read */
    int cf_current_frame;                     /* _PyCFrame.current_frame */
    /* PyFrameObject (3.8-3.10) */
    int fo_back, fo_code, fo_lasti;
    bool lasti_in_units; /* 3.10: f_lasti counts code units, not bytes */
    /* _PyInterpreterFrame (3.11+) */
    int if_code, if_previous, if_instr, if_owner;
    /* PyCodeObject */
    int co_firstlineno, co_filename, co_name, co_qualname, co_linetable, co_code_adaptive,
        co_firsttraceable;
    int linetable;
    /* unicode */
    int ascii_size, compact_size;
    /* object headers (free-threaded builds have a larger PyObject: ob_tid, ob_ref_shared...) */
    int ob_type;                /* PyObject.ob_type */
    int bytes_size, bytes_sval; /* PyBytesObject: ob_base.ob_size, ob_sval */
    int str_length, str_state;  /* PyASCIIObject: length, state */
    int ts_interp;              /* PyThreadState.interp, checked to point back (locate.c) */
    int if_read;                /* bytes of _PyInterpreterFrame that hold the fields used */
    uint64_t if_code_tag;       /* tag bits of f_executable (a _PyStackRef from 3.14) */
    int if_owner_skip;          /* 3.12+: owner >= this is a C / interpreter entry frame */
    int if_tlbc_index, co_tlbc; /* free-threaded 3.14+: thread-local bytecode; -1 absent */
    bool free_threaded;
} py_layout;

/* Bytes of a thread state, an interpreter frame and a code-object header read at most; a
 * layout that needs more is refused. */
#define PY_TS_MAX 320
#define PY_FRAME_MAX 128
#define PY_CODE_HDR_MAX 256

#define PY_FRAME_OWNED_BY_GENERATOR 1

/* The 3.8-3.12 table entry of a minor version, NULL for others. */
const py_layout *py_layout_for(int minor);
/* Build the layout of a 3.13+ target from its debug offsets. 0 ok; -1 with why set to a short
 * phrase when a field the sampler needs is missing or does not fit its buffers. */
int py_layout_from_debug_offsets(const py_debug_offsets *d, py_layout *L, char *why, size_t len);

/* ---- ELF and /proc/PID/maps (elfsym.c, procmaps.c) ---- */
typedef struct py_symbols {
    uint64_t runtime, runtime_size; /* st_value, st_size of _PyRuntime */
    uint64_t py_version;            /* st_value of Py_Version (3.11+), 0 if absent */
    uint64_t code_type;             /* st_value of PyCode_Type, 0 if absent */
    uint64_t first_load_vaddr;      /* page-aligned p_vaddr of the first PT_LOAD */
    bool debug_build;               /* defines _Py_NegativeRefcount (Py_DEBUG / Py_REF_DEBUG) */
} py_symbols;

/* Read the symbols from an ELF file (by path or open descriptor). 0 ok (runtime may be 0: not
 * found), -1 with errno when it cannot be read or is not an x86_64 ELF file. */
int py_elf_symbols(const char *path, py_symbols *out);
int py_elf_symbols_fd(int fd, py_symbols *out);

typedef struct py_module {
    char path[4096];      /* as shown in maps, without " (deleted)" */
    char open_path[4200]; /* the candidate that was opened (py_module_open) */
    uint64_t base, end;   /* its mapping with file offset 0 */
    uint64_t dev, ino;    /* device (makedev of maps' major:minor) and inode from maps */
    bool deleted;
} py_module;

/* Find the mapped libpython (preferred) and the main executable.
 * Returns the number of modules found (0..2), -1 with errno if maps is unreadable. */
int py_maps_modules(pid_t pid, py_module *mods, int max);
/* Open the file of a mapped module as the target sees it: /proc/PID/root + path (another
 * mount namespace), then the path itself (a plain chroot shows host paths), then
 * /proc/PID/map_files/START-END; a candidate is taken only if its device and inode are the
 * ones maps shows, so a same-named file from the wrong root is never read. Returns an open
 * descriptor (m->open_path names it), or -1 with errno of the last failure and why set to one
 * phrase listing each candidate and why it was not taken. */
int py_module_open(pid_t pid, py_module *m, char *why, size_t len);
/* The same for any file the target has mapped, named by its path in maps (native.c's ELF
 * files): the first maps entry of that path gives device, inode and range. An open descriptor
 * (opened, if not NULL, names the candidate), or -1 with errno: ENOENT not mapped, ESTALE mapped
 * but no candidate opens as that file. */
int py_open_mapped(pid_t pid, const char *path, char *opened, size_t len);

/* ---- the located interpreter (locate.c) ---- */
typedef struct py_target {
    pid_t pid;
    const py_layout *L; /* the table entry (3.8-3.12) or &layout (3.13+) */
    uint64_t runtime;   /* address of _PyRuntime in the target */
    uint64_t code_type; /* address of PyCode_Type, 0 unknown */
    int tid_off;        /* 3.8-3.10: offset of the kernel tid in glibc's struct pthread, -1 */
    char version[32];   /* the full version: "3.11.7", "3.14.10", "3.15.0rc1" */
    char build[80];     /* version and build: "3.13.15 free-threaded", "3.14.10 debug" */
    bool have_debug_offsets;
    py_debug_offsets dbg; /* 3.13+: the target's _Py_DebugOffsets, parsed */
    py_layout layout;     /* 3.13+: built from dbg */
    char warning[256];    /* one line for the caller to print once ("" if none) */
} py_target;

/* "3.14.10", "3.15.0b2" from PY_VERSION_HEX. */
void py_version_string(uint32_t hex, char *out, size_t len);

enum { PY_OK = 0, PY_ENOPROC, PY_EPERM, PY_ENOTPY, PY_EVERSION, PY_ENOFILE };

/* Locate the interpreter of pid. On failure returns PY_E* with msg set to one line. */
int py_locate(pid_t pid, py_target *t, char *msg, size_t len);

/* ---- strings (unicode.c) ---- */
/* Read a str object as UTF-8 into out (NUL-terminated). 0 ok, -1 unreadable / not a str. */
int py_read_str(const py_target *t, uint64_t addr, char *out, size_t len);
/* Encode code point cp as UTF-8 into out; returns bytes written (0 if no room). */
size_t py_utf8_put(uint32_t cp, char *out, size_t room);

/* ---- line tables (linetable.c) ---- */
/* Line for byte offset `off` in the code; first is co_firstlineno. -1 if none. */
int py_line_lnotab(const uint8_t *t, size_t n, int first, int off);
int py_line_pep626(const uint8_t *t, size_t n, int first, int off);
int py_line_locations(const uint8_t *t, size_t n, int first, int off);

/* ---- code objects (code.c) ---- */
typedef struct py_code {
    uint64_t addr;
    uint64_t key[4]; /* filename, name/qualname, linetable pointers and firstlineno: sanity check */
    char *name, *filename, *short_filename;
    uint8_t *table;
    size_t table_len;
    int first_line, first_traceable;
    bool valid;
} py_code;

typedef struct py_code_cache py_code_cache;
py_code_cache *py_code_cache_new(void);
void py_code_cache_free(py_code_cache *c);
/* Look the code object at addr up (reading it on a miss). NULL if it is not readable code. */
const py_code *py_code_get(py_code_cache *c, const py_target *t, uint64_t addr);
/* Start of a sample: entries checked from here on count as recent. */
void py_code_cache_tick(py_code_cache *c);
/* The entry for addr if its header was checked since the last tick (it is the same object
 * within one sample), else NULL: then read the header and use py_code_from_header. */
const py_code *py_code_recent(py_code_cache *c, uint64_t addr);
/* The same from a header already read (py_code_header_size bytes at addr). */
const py_code *py_code_from_header(py_code_cache *c, const py_target *t, uint64_t addr,
                                   const uint8_t *hdr);
size_t py_code_header_size(const py_layout *L);
int py_code_line(const py_target *t, const py_code *code, int byte_offset);
/* py-spy's short filename: the path below the last directory without __init__.py. */
void py_short_filename(pid_t pid, const char *filename, char *out, size_t len);

/* ---- stacks (stack.c) ---- */
typedef struct py_frame {
    const py_code *code;
    int line;
    bool entry; /* the oldest frame of one eval-loop call (for --native's merge) */
} py_frame;

#define PY_MAX_DEPTH 4096
#define PY_MAX_THREADS 256

typedef struct py_thread {
    uint64_t tstate, thread_id;
    long tid; /* kernel thread id, 0 unknown */
    bool holds_gil;
    bool skipped;   /* declined by the filter: no frames read */
    bool truncated; /* deeper than PY_MAX_DEPTH: the newest PY_MAX_DEPTH frames are kept */
    int depth;      /* frames, innermost first */
    py_frame *frames;
    const char *name;  /* threading.Thread.name (threadnames.c), NULL if none */
    const char *roots; /* --subprocesses: process frames, root first, one a line, else NULL */
} py_thread;

typedef struct py_stacks {
    int nthreads;
    py_thread threads[PY_MAX_THREADS];
    py_frame *pool; /* PY_MAX_THREADS * PY_MAX_DEPTH */
    size_t pool_used;
} py_stacks;

int py_stacks_init(py_stacks *s);
void py_stacks_free(py_stacks *s);
/* Which threads to read: fn sees each thread (tstate, thread_id, tid, holds_gil set) before its
 * frames are walked; false leaves it with no frames and skipped set. NULL: read all. */
typedef struct py_filter {
    bool (*fn)(void *ctx, const py_thread *th);
    void *ctx;
} py_filter;

/* Read the stacks of the threads the filter wants (all threads are listed). 0 ok, -1 when a
 * read failed (torn or target gone); with verify, also -1 when a thread's newest frame moved
 * during the walk (nonblocking mode). A stack deeper than PY_MAX_DEPTH is cut, not an error. */
int py_read_stacks(const py_target *t, py_code_cache *cc, py_stacks *s, bool verify,
                   const py_filter *want);
/* Resolve kernel tids of the threads (3.11+ native_thread_id, else via struct pthread, whose
 * tid field is found as the word that equals main_tid, the process id). */
int py_tid_calibrate(py_target *t, pid_t main_tid);

/* ---- thread names (threadnames.c) ---- */
/* Object layouts the name reader needs: sys.modules, type fields, dicts, ints. A table gives
 * them for 3.8-3.13; 3.13+ debug offsets can fill the same fields. */
enum { PY_DICT_OLD, PY_DICT_NEW };                                        /* 3.8-3.10, 3.11+ */
enum { PY_MANAGED_NONE, PY_MANAGED_311, PY_MANAGED_312, PY_MANAGED_313 }; /* instance dicts */
enum { PY_LONG_OB_SIZE, PY_LONG_LV_TAG };                                 /* int: ob_size, lv_tag */
typedef struct py_objlayout {
    int minor;
    bool free_threaded;
    int ob_type;                               /* PyObject */
    int is_modules;                            /* PyInterpreterState: sys.modules (dict *) */
    int tp_flags, tp_dictoffset, tp_basicsize; /* PyTypeObject */
    int ht_cached_keys;                        /* PyHeapTypeObject: shared keys of instances */
    int ma_keys, ma_values;                    /* PyDictObject */
    int values_header;                         /* bytes before _dictvalues.values[] */
    int managed_dict;                          /* MANAGED_DICT_OFFSET (from the object) */
    int str_length, str_state, str_data;       /* PyASCIIObject, sizeof(PyASCIIObject) */
    int long_size, long_digits;                /* PyLongObject: ob_size / lv_tag, ob_digit */
    int dict, managed, long_;                  /* the PY_DICT_*, PY_MANAGED_*, PY_LONG_* shapes */
} py_objlayout;
/* 0 and *out filled when the target's version is known here; -1 otherwise (no names). */
int py_objlayout_for(const py_target *t, py_objlayout *out);
/* 3.13+: the table's shapes with every offset the debug offsets have taken from d (the newest
 * entry for a newer minor). 0 and *out filled, or -1 (no entry for that minor and build). */
int py_objlayout_from_debug_offsets(const py_debug_offsets *d, py_objlayout *out);

typedef struct py_names {
    int n;
    uint64_t ids[PY_MAX_THREADS]; /* threading ident = PyThreadState.thread_id */
    char names[PY_MAX_THREADS][128];
    int64_t at; /* CLOCK_MONOTONIC ns of the last lookup, 0 never */
    long refreshes;
} py_names;

void py_names_init(py_names *nm);
/* threading.Thread.name of the thread with that ident, or NULL (no Thread object). Looks the
 * names up again when they are a second old, or when the id is unknown (at most every 200 ms). */
const char *py_names_get(py_names *nm, const py_target *t, uint64_t thread_id);

/* ---- native frames, --native (native.c, libdw) ---- */
typedef struct py_native py_native;
typedef struct py_native_stats {
    long unwinds, frames, merged, failed;
    double unwind_us; /* time spent unwinding stopped threads */
} py_native_stats;
/* An unwinder for pid's threads (which pause.c stops). NULL when libdw cannot attach. */
py_native *py_native_new(pid_t pid);
void py_native_free(py_native *n);
/* Per sample: begin, then unwind each thread to be written while it is stopped (0 ok, -1 no
 * frames), then, running again, merge: th->frames becomes the merged stack (valid until the
 * next merge). -1 leaves th untouched (no unwind, or py-spy's merge rule failed). */
void py_native_begin(py_native *n);
int py_native_unwind(py_native *n, long tid);
int py_native_merge(py_native *n, py_thread *th);
const py_native_stats *py_native_stats_of(const py_native *n);

/* py-spy's merge rule, apart from libdw so it can be tested. A native frame is dropped, kept, or
 * an eval-loop call (PyEval_EvalFrameDefault / PyEval_EvalFrameEx after splitting on '_' and '.')
 * that stands for the Python frames it runs. */
enum { PY_NATIVE_IGNORE, PY_NATIVE_KEEP, PY_NATIVE_EVAL };
/* The kind of a native frame: func may be NULL (no symbol), module is the file's path, in_python
 * whether it is the python executable or libpython. */
int py_native_kind(const char *func, const char *module, bool in_python);
typedef struct py_native_frame {
    int kind;
    const py_code *code; /* name and file of a kept frame */
    int line;
} py_native_frame;
/* Merge nn native frames and depth Python frames (both innermost first) into out (max frames):
 * each eval frame takes the Python frames up to and including the next entry frame. Returns the
 * merged depth, or -1 when the two do not pair up (more than one eval frame beyond the Python
 * frames, or fewer eval frames than entry groups but at least one). */
int py_merge_stacks(const py_native_frame *nat, int nn, const py_frame *py, int depth,
                    py_frame *out, int max);

/* ---- descendants, --subprocesses (children.c) ---- */
typedef struct py_family py_family;
typedef struct py_output py_output;
typedef struct py_family_stats {
    long found, python, exited, stacks, errors;
} py_family_stats;
typedef struct py_proc_opts py_proc_opts;
py_family *py_family_new(pid_t root, const py_proc_opts *o);
void py_family_free(py_family *f);
/* The target's own root frame, `process PID:"cmdline"`, for its stacks' th->roots. */
const char *py_family_root_frames(const py_family *f);
/* Once per tick: look for new descendants (every 100 ms), drop exited ones, sample each Python
 * one into out, using s as scratch. */
void py_family_tick(py_family *f, py_stacks *s, int64_t end_ns, py_output *out);
const py_family_stats *py_family_stats_of(const py_family *f);

/* ---- pausing (pause.c) ---- */
enum py_held { PY_HELD_WAITING, PY_HELD_STOPPED, PY_HELD_GONE };

typedef struct py_pauser {
    pid_t pid;
    int n; /* threads seized for the current sample */
    pid_t tids[PY_MAX_THREADS];
    int sig[PY_MAX_THREADS]; /* signal to hand back at the detach, 0 none */
    enum py_held state[PY_MAX_THREADS];
    int nlate; /* seized in an earlier sample, stop still to come: detached when it does */
    pid_t late[PY_MAX_THREADS];
} py_pauser;

/* Blocks SIGCHLD in the caller (tracee stops then queue it for the waits). */
void py_pause_init(py_pauser *p, pid_t pid);
/* Seize and interrupt the n threads, wait up to timeout_ms for their stops. Returns how many are
 * stopped (threads that are gone are skipped), or -EPERM when none could be seized for lack of
 * permission. Every seized thread is traced until py_pause_release. */
int py_pause_stop(py_pauser *p, const pid_t *tids, int n, int timeout_ms);
bool py_pause_is_stopped(const py_pauser *p, pid_t tid);
/* Detach late threads whose stop has come since (no wait). Call once per tick. */
void py_pause_poll(py_pauser *p);
/* While late threads remain, wait for their stops (and detach them) until until_ns
 * (CLOCK_MONOTONIC): call it before sleeping to the next tick. */
void py_pause_linger(py_pauser *p, int64_t until_ns);
/* Detach every stopped thread, re-injecting a signal that arrived during the sample. */
void py_pause_release(py_pauser *p);
/* Release, then wait up to timeout_ms for the stops of late threads and detach them. */
void py_pause_finish(py_pauser *p, int timeout_ms);

/* ---- thread states from /proc (procmaps.c) ---- */
/* State letter of /proc/PID/task/TID/stat ('R', 'S', ...), or 0 if gone. */
char py_task_state(pid_t pid, long tid);

/* ---- thread states, cached descriptors (tasks.c) ---- */
typedef struct py_tasks {
    pid_t pid;
    int n;
    long tid[1024];
    int fd[1024];         /* /proc/PID/task/TID/stat, re-read with pread */
    int sfd[1024];        /* .../schedstat, -1 if absent */
    uint64_t sched[1024]; /* hash of the schedstat line at the last stat read */
    char last[1024];      /* state at the last stat read */
    unsigned used[1024], tick;
} py_tasks;

void py_tasks_init(py_tasks *c, pid_t pid);
void py_tasks_free(py_tasks *c);
/* State letter of the thread, as py_task_state, from a descriptor kept open. */
char py_tasks_state(py_tasks *c, long tid);
/* Whether the thread is alive (not gone, not a zombie): its stat is read only when its
 * schedstat has not moved since the last check. */
bool py_tasks_alive(py_tasks *c, long tid);
/* Once per tick: close the descriptors of threads not asked about for 100 ticks. */
void py_tasks_sweep(py_tasks *c);
/* The thread ids of pid (with live_only, not the zombie or dead ones). Count, -1 if gone. */
int py_tasks_list(pid_t pid, pid_t *tids, int max, bool live_only);

/* ---- output (output.c) ---- */
typedef struct py_output py_output;
py_output *py_output_new(void);
void py_output_free(py_output *o);
/* Record one thread's stack (th->frames innermost first) of process pid; with_thread_frame
 * adds the "thread (TID): NAME" frame of --threads (th->name, or "thread (TID)" without one),
 * under th->roots when set. */
int py_output_add(py_output *o, pid_t pid, const py_thread *th, bool with_thread_frame);
/* Write raw collapsed stacks or speedscope JSON; 0 ok, -1 with errno. */
int py_output_write_raw(const py_output *o, FILE *f);
int py_output_write_speedscope(const py_output *o, FILE *f, int rate_hz);
long py_output_samples(const py_output *o);

/* ---- one process's samples (proc.c): the target, and each --subprocesses member ---- */
typedef struct py_proc_opts {
    bool nonblocking, idle, gil, threads, native;
} py_proc_opts;

typedef struct py_proc {
    pid_t pid; /* the process; t.pid is the thread whose memory is read (a live one) */
    const py_proc_opts *o;
    py_target t;
    py_code_cache *cc;
    py_pauser pz;
    py_tasks tasks;
    py_names names;
    py_native *nat;    /* --native */
    const char *roots; /* --subprocesses: process frames for th->roots, else NULL */
    int nwant;         /* pausing: the threads to stop this tick */
    pid_t want[PY_MAX_THREADS];
    bool want_all; /* a wanted thread has no known tid: stop every thread */
    long torn;     /* nonblocking reads retried */
    double read_us_sum, stop_us_sum;
} py_proc;

/* How one sample of a process ended. */
enum py_sample_result {
    PY_SAMPLE_OK,
    PY_SAMPLE_FAILED, /* a read failed (torn, or a thread went away): counted as an error */
    PY_SAMPLE_GONE,   /* the process has exited */
};

/* Locate pid's interpreter and get ready to sample it (pausing: check it can be traced).
 * Returns PY_OK, or an error with its one-line message in msg; p is then closed. */
int py_proc_open(py_proc *p, pid_t pid, const py_proc_opts *o, char *msg, size_t len);
/* One sample: read the threads to be read (stopped, or not with --nonblocking; no wait past
 * end_ns), and hand each one's stack to out. */
enum py_sample_result py_proc_sample(py_proc *p, py_stacks *s, int64_t end_ns, py_output *out);
/* Free what py_proc_open took (a pausing process gets 200 ms for late stops first). */
void py_proc_close(py_proc *p);
/* The process lives while any of its threads does. */
bool py_proc_alive(pid_t pid);
int64_t py_now_ns(void);
/* SIGINT and SIGTERM from now on set a flag instead of ending us (stop.c); the sleeps they
 * interrupt return early. */
void py_stop_catch(void);
/* Whether one of them has arrived. */
bool py_stop_requested(void);

/* ---- PEP 768: running a script in the target (remote.c) ---- */
typedef enum {
    PY_REMOTE_OK = 0,
    PY_REMOTE_ENOPROC,       /* no such process, or it went away */
    PY_REMOTE_EPERM,         /* not allowed to read or write its memory */
    PY_REMOTE_ENOTPY,        /* no _PyRuntime */
    PY_REMOTE_TOO_OLD,       /* CPython < 3.14 */
    PY_REMOTE_DISABLED,      /* -X disable-remote-debug / PYTHON_DISABLE_REMOTE_DEBUG */
    PY_REMOTE_FREE_THREADED, /* a free-threaded build */
    PY_REMOTE_UNSUPPORTED,   /* 3.16+, or debug offsets that make no sense */
} py_remote_result;

#define PY_REMOTE_TOO_OLD_MSG "memory profiling needs CPython 3.14 or newer (PEP 768)"
#define PY_REMOTE_MAX_THREADS 256

typedef struct py_armed {
    uint64_t tstate;
    bool bit_was_set; /* _PY_EVAL_PLEASE_STOP_BIT was already set when we armed it */
} py_armed;

typedef struct py_remote {
    pid_t pid;
    uint32_t version; /* PY_VERSION_HEX */
    char version_text[24];
    uint64_t runtime, interp; /* addresses of _PyRuntime and the main interpreter */
    /* From _Py_DebugOffsets: runtime_state, interpreter_state, thread_state, debugger_support. */
    uint64_t interpreters_head, threads_head, threads_main, ts_next;
    uint64_t eval_breaker, support, enabled, pending, path, path_size;
    py_armed armed[PY_REMOTE_MAX_THREADS];
    int narmed;
    py_pauser pauser;
} py_remote;

/* Find the interpreter of pid and check it can run a script: PY_REMOTE_OK, or the reason
 * with one line in msg (the refusals of docs/memory.md). Writes nothing. */
py_remote_result py_remote_open(pid_t pid, py_remote *r, char *msg, size_t len);
/* Ask the main thread to run the file at script (a path as the target sees it).
 * 0 ok, -1 with errno (ENAMETOOLONG: longer than the target's buffer). */
int py_remote_arm(py_remote *r, const char *script);
/* Also ask every other thread (for a main thread blocked in C). 0 ok, -1 with errno. */
int py_remote_arm_more(py_remote *r, const char *script);
/* 1 when some armed thread has taken the request, 0 when none has, -1 when unreadable. */
int py_remote_taken(const py_remote *r);
/* Take the request back from every armed thread that has not taken it, restoring pending,
 * path and eval-breaker bit. 1 when some thread had taken it after all, else 0. */
int py_remote_disarm(py_remote *r);

/* `profd sample memory` (memory.c). */
int py_memory_main(int argc, char **argv);

/* ---- live stacks (live.c) ---- */
typedef struct py_live {
    int64_t next_ms; /* 0: not started */
    bool written;
} py_live;
/* Every 2 s, o's merged stacks so far to "<out>.live" (whole, by rename). */
void py_live_tick(py_live *l, const py_output *o, const char *out);
/* Remove "<out>.live" once the final output is written. */
void py_live_end(py_live *l, const char *out);

#endif
