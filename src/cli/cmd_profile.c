/* cmd_profile.c - `profd profile`: one local capture, no services.
 *
 * The same supervised capture the worker runs (sampler.h), then the same
 * renderer, writing DIR/flamegraph.html, DIR/profile.json and DIR/stacks.txt.
 * Ctrl-C stops the sampler early; it writes what it has and that is rendered. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profd/cli.h"
#include "profd/config.h"
#include "profd/render.h"
#include "profd/session.h"
#include "profd/sampler.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct args {
    long pid, duration, rate, frames;
    const char *sampler, *out;
    bool memory; /* --type memory: tracemalloc through PEP 768 (docs/memory.md) */
} args;

static int parse(int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i += 2) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(f, "--pid") == 0 && v) {
            if (profd_parse_int("profile", f, v, 1, 4194304, &a->pid))
                return -1;
        } else if (strcmp(f, "--duration") == 0 && v) {
            if (profd_parse_int("profile", f, v, 1, 86400, &a->duration))
                return -1;
        } else if (strcmp(f, "--rate") == 0 && v) {
            if (profd_parse_int("profile", f, v, 1, 1000, &a->rate))
                return -1;
        } else if (strcmp(f, "--sampler") == 0 && v) {
            a->sampler = v;
        } else if (strcmp(f, "--out") == 0 && v) {
            a->out = v;
        } else if (strcmp(f, "--type") == 0 && v) {
            profd_profile_type t;
            if (profd_profile_type_parse(v, &t) != 0) {
                profd_usage_error("profile", "--type must be cpu or memory, got '%s'", v);
                return -1;
            }
            a->memory = t == PROFD_PROFILE_MEMORY;
        } else if (strcmp(f, "--memory-frames") == 0 && v) {
            if (profd_parse_int("profile", f, v, 1, PROFD_MEMORY_FRAMES_MAX, &a->frames))
                return -1;
        } else {
            profd_usage_error("profile", "%s '%s'", v ? "unknown flag" : "missing value for", f);
            return -1;
        }
    }
    if (!a->pid) {
        profd_usage_error("profile", "--pid is required");
        return -1;
    }
    return 0;
}

static void progress(const profd_capture *c, long duration, long rate)
{
    double el = (profd_mono_ms() - c->started_mono_ms) / 1000.0;
    if (el > duration)
        el = (double)duration;
    int width = 30, done = (int)(width * el / duration);
    fprintf(stderr, "\r[%.*s%*s] %4.1f/%ld s  ~%ld samples", done, "##############################",
            width - done, "", el, duration, (long)(el * rate));
}

static int render_outputs(const char *raw, const char *dir, long pid, bool memory)
{
    profd_error err = {0};
    char title[64], path[4200];
    snprintf(title, sizeof title, "pid %ld%s", pid, memory ? ": live memory" : "");
    profd_render_opts o = {.title = title, .bytes = memory};
    profd_profile *p = profd_profile_new();
    int rc = p ? profd_profile_read_path(p, raw, &o, &err) : -1;
    for (int i = 0; rc == 0 && i < PROFD_ARTIFACTS; i++) { /* a session's files (session.h) */
        snprintf(path, sizeof path, "%s/%s", dir, profd_artifacts[i].file);
        rc = profd_render_path(p, profd_artifacts[i].format, &o, path, &err);
        if (rc == 0)
            printf("%s\n", path);
    }
    if (rc == 0)
        fprintf(stderr, "%llu %s\n", (unsigned long long)profd_profile_total(p),
                memory ? "bytes live" : "samples");
    else
        fprintf(stderr, "profd profile: %s\n", err.msg[0] ? err.msg : "cannot render");
    profd_profile_free(p);
    return rc;
}

static int run(int argc, char **argv)
{
    args a = {.duration = 10, .rate = 100, .out = "."};
    if (parse(argc, argv, &a) != 0)
        return PROFD_EXIT_USAGE;
    profd_config cfg;
    profd_error err = {0};
    if (profd_config_load(&cfg, &err) != 0) {
        fprintf(stderr, "profd profile: %s\n", err.msg);
        return PROFD_EXIT_USAGE;
    }
    profd_capture_spec spec = {.pyspy = cfg.pyspy,
                               .self_exe = profd_self_exe(),
                               .pid = a.pid,
                               .rate_hz = (int)a.rate,
                               .duration_s = (int)a.duration,
                               .grace_s = 10};
    if (!a.memory &&
        profd_sampler_choose(a.sampler ? a.sampler : cfg.sampler, cfg.pyspy, &spec.kind, &err)) {
        fprintf(stderr, "profd profile: %s\n", err.msg);
        return PROFD_EXIT_FAIL;
    }
    if (profd_mkdir_p(a.out, 0755) != 0) {
        fprintf(stderr, "profd profile: cannot create %s\n", a.out);
        return PROFD_EXIT_FAIL;
    }
    char raw[4200], errpath[4200];
    snprintf(raw, sizeof raw, "%s/.raw.%d.txt", a.out, (int)getpid());
    snprintf(errpath, sizeof errpath, "%s/.sampler.%d.err", a.out, (int)getpid());
    spec.out_path = raw;
    spec.stderr_path = errpath;
    char summary[4200];
    snprintf(summary, sizeof summary, "%s/.memory.%d.json", a.out, (int)getpid());
    if (a.memory) {
        spec.kind = PROFD_SAMPLER_MEMORY;
        spec.memory_frames = a.frames ? (int)a.frames : PROFD_MEMORY_FRAMES_DEFAULT;
        spec.summary_path = summary;
    }
    signal(SIGINT, on_sigint);
    profd_capture cap;
    if (profd_capture_start(&cap, &spec, &err) != 0) {
        fprintf(stderr, "profd profile: %s\n", err.msg);
        return PROFD_EXIT_FAIL;
    }
    bool tty = isatty(STDERR_FILENO), cancelled = false;
    while (!profd_capture_step(&cap)) {
        if (interrupted && !cancelled) {
            profd_capture_cancel(&cap, PROFD_E_CANCELLED);
            cancelled = true;
        }
        if (tty)
            progress(&cap, a.duration, a.rate);
        usleep(100 * 1000);
    }
    if (tty)
        fputc('\n', stderr);
    profd_capture_result res;
    profd_capture_result_of(&cap, &res);
    int rc = PROFD_EXIT_FAIL;
    if (!res.ok && !cancelled)
        fprintf(stderr, "profd profile: %s\n", res.err.msg);
    else
        rc = render_outputs(raw, a.out, a.pid, a.memory) == 0 ? PROFD_EXIT_OK : PROFD_EXIT_FAIL;
    if (rc == PROFD_EXIT_OK && a.memory) {
        profd_memory_summary sum;
        double overhead;
        if (profd_memory_summary_read(summary, &sum, &overhead) == 0) {
            char oh[64];
            if (overhead < 0)
                snprintf(oh, sizeof oh, "not measurable (the target was idle before)");
            else
                snprintf(oh, sizeof oh, "%.1f%% CPU", overhead);
            fprintf(stderr,
                    "memory: %lld bytes in %lld blocks live, peak %lld; tracemalloc %s; target "
                    "overhead %s\n",
                    sum.bytes, sum.blocks, sum.peak,
                    sum.traced_by_target ? "was already on and is left on" : "stopped again", oh);
        }
    }
    unlink(raw);
    unlink(errpath);
    unlink(summary);
    return rc;
}

const profd_command profd_cmd_profile = {
    "profile", run, "one local capture of a process: flame graph, speedscope, stacks",
    "Usage: profd profile --pid PID [--duration S] [--rate HZ] [--sampler auto|py-spy|builtin]\n"
    "                     [--type cpu|memory] [--memory-frames N] [--out DIR]\n\n"
    "Captures PID for S seconds (default 10) at HZ samples a second (default 100) and writes\n"
    "DIR/flamegraph.html, DIR/profile.json (speedscope) and DIR/stacks.txt (default DIR: .),\n"
    "printing their paths. A progress bar shows on a terminal. Ctrl-C stops early and still\n"
    "writes what was collected.\n\n"
    "Flags:\n"
    "  --pid PID        process to profile (required)\n"
    "  --duration S     seconds to capture [10]\n"
    "  --rate HZ        samples per second, 1..1000 [100]\n"
    "  --sampler NAME   auto (py-spy if on PATH, else builtin) | py-spy | builtin [PROFD_SAMPLER]\n"
    "  --type T         cpu [default], or memory: what a CPython 3.14+ process allocated\n"
    "                   during the window and still holds, weighted by bytes (docs/memory.md)\n"
    "  --memory-frames N  tracemalloc traceback depth for --type memory, 1..1024 [64]\n"
    "  --out DIR        output directory [.]\n\n"
    "Environment: PROFD_SAMPLER, PROFD_PYSPY.\n"};
