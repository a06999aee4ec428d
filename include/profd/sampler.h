/* sampler.h - running a sampler as a supervised child process.
 *
 * Both samplers (py-spy, and `profd sample record`, the built-in one) take the
 * same argv and write the same raw collapsed-stack file, so the worker runs
 * them one way: fork/exec with an argv (never a shell), its own process group,
 * PR_SET_PDEATHSIG so it dies with the thread that started it, a hard bound of
 * duration + grace enforced with SIGTERM then SIGKILL of the group, and a
 * sampler found stopped killed at once so no target stays paused. Exit status
 * and stderr are mapped to the contract's error codes and texts. */
#ifndef PROFD_SAMPLER_H
#define PROFD_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "session.h"
#include "util.h"

#define PROFD_PYSPY_MISSING "py-spy is not installed. Install with: pip install py-spy"
#define PROFD_PERMISSION_DENIED "Failed to profile process: Permission denied"

/* MEMORY: `profd sample memory`, tracemalloc run in the target through PEP 768
 * (docs/memory.md); its weights are bytes. */
typedef enum {
    PROFD_SAMPLER_PYSPY,
    PROFD_SAMPLER_BUILTIN,
    PROFD_SAMPLER_MEMORY
} profd_sampler_kind;

typedef struct profd_capture_spec {
    profd_sampler_kind kind;
    const char *pyspy;    /* py-spy executable (name looked up on PATH, or a path) */
    const char *self_exe; /* profd itself, for the built-in sampler */
    long pid;
    int rate_hz;
    int duration_s;
    int grace_s; /* extra time before SIGTERM; SIGKILL 2 s later */
    profd_options options;
    const char *out_path;    /* raw collapsed stacks */
    const char *stderr_path; /* sampler's stderr, read to explain failures */
    /* MEMORY only */
    int memory_frames;        /* tracemalloc traceback depth */
    const char *summary_path; /* where the capture writes its summary (JSON) */
} profd_capture_spec;

typedef struct profd_capture {
    pid_t pid;
    int64_t started_mono_ms, deadline_mono_ms, killed_mono_ms;
    bool done, term_sent, kill_sent;
    const char *cancel_code; /* set by profd_capture_cancel */
    int status;              /* wait status once done */
    double cpu_seconds;      /* from rusage once done */
    double wall_seconds;
    profd_capture_spec spec;
    bool stopped;   /* found stopped (SIGSTOP) and killed */
    int exec_errno; /* the exec of the sampler failed with this errno (0: it ran) */
    char exe[1024]; /* the executable actually run (resolved from PATH) */
    char argv_buf[2048];
} profd_capture;

/* Samples in a collapsed-stack file ("frames COUNT" lines): the sum of the counts; -1 when
 * the file cannot be opened. */
long profd_sampler_count_samples(const char *path);

typedef struct profd_capture_result {
    bool ok;
    double overhead_percent;
    double wall_seconds;
    long sample_count; /* from the output file; -1 unknown */
    profd_error err;
    bool partial;   /* ok, but the target exited before the duration was over */
    char note[256]; /* one line for the log when partial (or empty) */
} profd_capture_result;

/* "auto" | "py-spy" | "builtin" -> kind; auto picks py-spy when found on PATH.
 * -1 with err (sampler_missing, the contract's py-spy text) when py-spy is asked for
 * and absent. */
int profd_sampler_choose(const char *choice, const char *pyspy, profd_sampler_kind *out,
                         profd_error *err);
/* Find an executable: a name with a '/' is taken as a path, else PATH is searched.
 * 0 with the path in out, -1 when it is not there or not executable. */
int profd_sampler_resolve(const char *name, char *out, size_t len);
/* "py-spy 0.4.1" or "profd-builtin 0.1.0"; out >= 64 bytes. */
void profd_sampler_describe(profd_sampler_kind k, const char *pyspy, char *out, size_t len);
/* Build the argv (NULL-terminated, static storage inside c). Exposed for tests. */
int profd_capture_argv(const profd_capture_spec *s, char **argv, int max, char *buf, size_t buflen);

int profd_capture_start(profd_capture *c, const profd_capture_spec *spec, profd_error *err);
/* Non-blocking step: reap, enforce the deadline, kill a stopped sampler.
 * Returns true when the child has been reaped. */
bool profd_capture_step(profd_capture *c);
/* Ask the sampler to stop early (code: cancelled | shutdown); its output so far is kept. */
void profd_capture_cancel(profd_capture *c, const char *code);
/* Step until done (sleeping between steps), then map the outcome. */
void profd_capture_wait(profd_capture *c, profd_capture_result *r);
/* Map a finished capture to a result (exposed for tests). */
void profd_capture_result_of(const profd_capture *c, profd_capture_result *r);

/* ---- memory captures (docs/memory.md) ------------------------------------------
 *
 * `profd sample memory` exits 0, or 1 (a failure, one line on stderr), or one of these
 * codes, which profd_capture_result_of maps to the session's error code. */
enum {
    PROFD_MEMORY_EXIT_TOO_OLD = 3,       /* python_too_old */
    PROFD_MEMORY_EXIT_DISABLED = 4,      /* remote_debug_disabled */
    PROFD_MEMORY_EXIT_FREE_THREADED = 5, /* free_threaded_unsupported */
    PROFD_MEMORY_EXIT_TIMEOUT = 6,       /* timeout: no thread ran the script */
    PROFD_MEMORY_EXIT_TARGET_EXITED = 7, /* target_exited */
};

/* Seconds a memory capture spends beyond its window: the baseline before it (at most
 * PROFD_MEMORY_BASELINE_MAX_S), the wait for a safe point, the snapshot and the write. */
#define PROFD_MEMORY_BASELINE_MAX_S 10
#define PROFD_MEMORY_ATTACH_TIMEOUT_S 5
#define PROFD_MEMORY_FINISH_TIMEOUT_S 60

/* Those extra seconds for a window of duration_s (the supervisor's deadline adds them). */
int profd_capture_memory_extra_s(int duration_s);

/* What the memory capture script reported. */
typedef struct profd_memory_summary {
    long long bytes, blocks; /* allocated during the window, still live at its end */
    long long peak;          /* tracemalloc's peak traced memory */
    int frames;              /* the traceback limit in effect */
    bool traced_by_target;   /* tracemalloc was already on, and was left on */
    long stacks;             /* distinct tracebacks */
} profd_memory_summary;

#define PROFD_MEMORY_OUTPUT_MAX (64u << 20)
#define PROFD_MEMORY_LINE_MAX (256u << 10)
#define PROFD_MEMORY_STACKS_MAX 2000000
#define PROFD_MEMORY_FRAMES_MAX_READ 65535

/* Check the script's output (len bytes of untrusted text) and copy its stacks, collapsed,
 * to out (NULL: check only). 0 with *sum filled, or -1 with one line in msg; out may then
 * hold part of the stacks. */
int profd_memory_parse(const char *buf, size_t len, FILE *out, profd_memory_summary *sum, char *msg,
                       size_t msglen);

/* The summary file of a finished memory capture into *sum and *overhead_percent
 * (-1 when it could not be measured). 0 ok, -1 when absent or malformed. */
int profd_memory_summary_read(const char *path, profd_memory_summary *sum,
                              double *overhead_percent);

/* Built-in sampler: `profd sample ...`. */
int profd_sample_main(int argc, char **argv);

#endif
