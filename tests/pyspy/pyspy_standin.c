/* pyspy_standin.c - a stand-in for `py-spy record`, for tests and benchmarks.
 *
 * py-spy cannot be installed on the build machines, yet the worker must be
 * tested against something that behaves like it: the same command line, the
 * same messages on stdout and stderr, the same exit codes and the same output
 * formats. This program copies the behaviour of py-spy 0.4.1 (read from its
 * source: src/config.rs, src/main.rs, src/sampler.rs, src/flamegraph.rs,
 * src/speedscope.rs; see docs/capture.md for the exact claims) without
 * reading any Python memory. It checks that the target exists the way py-spy
 * does (readlink /proc/PID/exe), then samples a deterministic synthetic call
 * tree at the requested rate for the requested duration, stopping early when
 * the target exits or on Ctrl-C, and writes what it collected.
 *
 * Stacks come from PYSPY_STANDIN_STACKS (collapsed "frames count" lines,
 * replayed in proportion to their counts) or from a built-in tree named after
 * the target's /proc/PID/comm. PYSPY_STANDIN_MODE simulates failures:
 * permission, notpython, exit, hang, crash, stop. PYSPY_STANDIN_LOG appends
 * "MONOTONIC_SECONDS PID ARGV..." at start, for tests and the latency bench. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VERSION "0.4.1"
#define LEDE "py-spy> "
#define RECORD_USAGE "USAGE:\n    py-spy record [OPTIONS] --pid <pid> [python_program]...\n"
#define MAX_STACKS 4096
#define MAX_FRAME_TEXT 8192

typedef struct opts {
    const char *pid_s, *rate_s, *duration_s, *format, *output;
    bool threads, idle, gil, subprocesses, native, nonblocking, nolineno, function, program;
} opts;

typedef struct stack {
    char *frames; /* root first, ';' separated, "name (file:line)" */
    long weight;
    int thread; /* index into threads[] */
    bool active, gil;
    long count; /* samples recorded */
} stack;

typedef struct thread {
    long tid;
    const char *name;
} thread;

static stack stacks[MAX_STACKS];
static int nstacks;
static thread threads[2];
static int nthreads;
static volatile sig_atomic_t interrupted;

/* ---- clap-style usage errors (exit 2) ---------------------------------- */

static void usage_error(const char *msg)
{
    fprintf(stderr, "error: %s\n\n%s\nFor more information try --help\n", msg, RECORD_USAGE);
    exit(2);
}

static void help(FILE *f)
{
    fprintf(f, "py-spy " VERSION "\nSampling profiler for Python programs\n\n"
               "USAGE:\n    py-spy <SUBCOMMAND>\n\nOPTIONS:\n"
               "    -h, --help       Print help information\n"
               "    -V, --version    Print version information\n\nSUBCOMMANDS:\n"
               "    record    Records stack trace information to a flamegraph, speedscope or "
               "raw file\n"
               "    top       Displays a top like view of functions consuming CPU\n"
               "    dump      Dumps stack traces for a target program to stdout\n"
               "    help      Print this message or the help of the given subcommand(s)\n");
}

static void record_help(void)
{
    printf("py-spy-record \nRecords stack trace information to a flamegraph, speedscope or raw "
           "file\n\n" RECORD_USAGE "\nARGS:\n"
           "    <python_program>...    commandline of a python program to run\n\nOPTIONS:\n"
           "    -p, --pid <pid>              PID of a running python program to spy on, in "
           "decimal or hex\n"
           "        --full-filenames         Show full Python filenames\n"
           "    -o, --output <filename>      Output filename\n"
           "    -f, --format <format>        Output file format [default: flamegraph] "
           "[possible values: flamegraph, raw, speedscope, chrometrace]\n"
           "    -d, --duration <duration>    The number of seconds to sample for [default: "
           "unlimited]\n"
           "    -r, --rate <rate>            The number of samples to collect per second "
           "[default: 100]\n"
           "    -s, --subprocesses           Profile subprocesses of the original process\n"
           "    -F, --function               Aggregate samples by function's first line number\n"
           "        --nolineno               Do not show line numbers\n"
           "    -t, --threads                Show thread ids in the output\n"
           "    -g, --gil                    Only include traces that are holding on to the GIL\n"
           "    -i, --idle                   Include stack traces for idle threads\n"
           "    -n, --native                 Collect stack traces from native extensions\n"
           "        --nonblocking            Don't pause the python process when collecting "
           "samples\n"
           "    -h, --help                   Print help information\n");
    exit(0);
}

/* Rust's panic on `.expect(...)`: exit status 101. */
static void panic_parse(const char *what, const char *value)
{
    const char *kind = *value ? "InvalidDigit" : "Empty";
    fprintf(stderr,
            "thread 'main' panicked at '%s: ParseIntError { kind: %s }', src/config.rs\n"
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
            what, kind);
    exit(101);
}

/* ---- command line ------------------------------------------------------ */

typedef struct optdef {
    char s;
    const char *l, *value_name;
    size_t off; /* offsetof a const char* or bool in opts */
} optdef;

#define V(s, l, n, f)                                                                              \
    {                                                                                              \
        s, l, n, offsetof(opts, f)                                                                 \
    }
#define F(s, l, f)                                                                                 \
    {                                                                                              \
        s, l, NULL, offsetof(opts, f)                                                              \
    }
static const optdef defs[] = {
    V('p', "pid", "pid", pid_s),
    V('o', "output", "filename", output),
    V('f', "format", "format", format),
    V('d', "duration", "duration", duration_s),
    V('r', "rate", "rate", rate_s),
    F('s', "subprocesses", subprocesses),
    F('F', "function", function),
    F(0, "nolineno", nolineno),
    F('t', "threads", threads),
    F('g', "gil", gil),
    F('i', "idle", idle),
    F('n', "native", native),
    F(0, "nonblocking", nonblocking),
    F(0, "full-filenames", program), /* accepted, no effect; field reused below */
    F(0, "capture", program),
    F(0, "hideprogress", program),
};

static const optdef *find_def(const char *arg, const char **inline_value)
{
    *inline_value = NULL;
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        const optdef *d = &defs[i];
        if (arg[1] == '-') {
            size_t n = strlen(d->l);
            if (!strncmp(arg + 2, d->l, n) && (arg[2 + n] == '\0' || arg[2 + n] == '=')) {
                if (arg[2 + n] == '=')
                    *inline_value = arg + 3 + n;
                return d;
            }
        } else if (d->s && arg[1] == d->s) {
            if (arg[2])
                *inline_value = arg + 2;
            return d;
        }
    }
    return NULL;
}

static void unknown_argument(const char *arg)
{
    char msg[1024];
    if (arg[0] == '-')
        snprintf(msg, sizeof msg,
                 "Found argument '%s' which wasn't expected, or isn't valid in this context\n\n"
                 "\tIf you tried to supply `%s` as a value rather than a flag, use `-- %s`",
                 arg, arg, arg);
    else
        snprintf(msg, sizeof msg,
                 "Found argument '%s' which wasn't expected, or isn't valid in this context", arg);
    usage_error(msg);
}

static void parse_record(int argc, char **argv, opts *o)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            o->program = i + 1 < argc;
            break;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            record_help();
        if (a[0] != '-' || a[1] == '\0') {
            o->program = true; /* python_program positional: everything from here on */
            break;
        }
        const char *val;
        const optdef *d = find_def(a, &val);
        if (!d || (!d->value_name && val))
            unknown_argument(a);
        if (!d->value_name) {
            if (strcmp(d->l, "full-filenames") && strcmp(d->l, "capture") &&
                strcmp(d->l, "hideprogress"))
                *(bool *)((char *)o + d->off) = true;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                char msg[256];
                snprintf(msg, sizeof msg,
                         "The argument '--%s <%s>' requires a value but none was supplied", d->l,
                         d->value_name);
                usage_error(msg);
            }
            val = argv[++i];
        }
        *(const char **)((char *)o + d->off) = val;
    }
}

static long parse_pid(const char *s)
{
    char *end;
    errno = 0;
    long v;
    if (!strncasecmp(s, "0x", 2))
        v = strtol(s + 2, &end, 16);
    else
        v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0 || v > INT32_MAX)
        panic_parse("invalid pid", s);
    return v;
}

static long parse_u64(const char *name, const char *s)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s)) {
        char msg[512];
        snprintf(msg, sizeof msg, "Invalid value \"%s\" for '--%s <%s>': %s", s, name, name,
                 *s ? "invalid digit found in string" : "cannot parse integer from empty string");
        usage_error(msg);
    }
    long v = strtol(s, &end, 10);
    if (*end || errno) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "Invalid value \"%s\" for '--%s <%s>': invalid digit found in string", s, name,
                 name);
        usage_error(msg);
    }
    return v;
}

static const char *check_format(const char *f)
{
    static const char *formats[] = {"flamegraph", "raw", "speedscope", "chrometrace"};
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(f, formats[i]))
            return formats[i];
    char msg[512];
    snprintf(msg, sizeof msg,
             "\"%s\" isn't a valid value for '--format <format>'\n"
             "\t[possible values: flamegraph, raw, speedscope, chrometrace]",
             f);
    usage_error(msg);
    return NULL;
}

/* ---- target process ---------------------------------------------------- */

/* py-spy's liveness test: /proc/PID/exe must be readable (a zombie's is not). */
static int target_exe_errno(long pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/exe", pid);
    return readlink(path, buf, sizeof buf) < 0 ? errno : 0;
}

static void read_proc_text(long pid, const char *what, char *out, size_t len, bool nul_to_space)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/%s", pid, what);
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, len - 1);
    close(fd);
    if (n <= 0)
        return;
    out[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (out[i] == '\0' && nul_to_space)
            out[i] = ' ';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\0'))
        out[--n] = '\0';
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !interrupted)
        ;
}

/* Failures of PythonSpy::new are retried 20 times, 20 ms apart, before they surface. */
static void fail_after_retries(const char *text)
{
    sleep_ms(20 * 19);
    fputs(text, stderr);
    exit(1);
}

static void permission_error(void)
{
    if (geteuid() != 0)
        fail_after_retries("Permission Denied: Try running again with elevated permissions by "
                           "going 'sudo env \"PATH=$PATH\" !!'\n");
    fail_after_retries("Error: Failed to get process executable name. Check that the process is "
                       "running.\nReason: Permission denied (os error 13)\n"
                       "Reason: Permission denied (os error 13)\n");
}

static void check_target(long pid, const char *mode)
{
    if (!strcmp(mode, "permission"))
        permission_error();
    int e = target_exe_errno(pid);
    if (e == EACCES || e == EPERM)
        permission_error();
    if (e) {
        char text[512];
        snprintf(text, sizeof text,
                 "Error: Failed to get process executable name. Check that the process is "
                 "running.\nReason: %s (os error %d)\nReason: %s (os error %d)\n",
                 e == ENOENT ? "No such file or directory" : strerror(e), e,
                 e == ENOENT ? "No such file or directory" : strerror(e), e);
        fail_after_retries(text);
    }
    if (!strcmp(mode, "notpython"))
        fail_after_retries("Error: Failed to find python version from target process\n");
}

/* ---- the synthetic call tree ------------------------------------------ */

static void add_stack(const char *frames, long weight, int th, bool active, bool gil)
{
    if (nstacks >= MAX_STACKS || weight <= 0)
        return;
    stack *s = &stacks[nstacks++];
    s->frames = strdup(frames);
    s->weight = weight;
    s->thread = th;
    s->active = active;
    s->gil = gil;
}

static void builtin_tree(long pid)
{
    char comm[64], file[80], buf[1024];
    read_proc_text(pid, "comm", comm, sizeof comm, false);
    if (!comm[0])
        strcpy(comm, "app");
    snprintf(file, sizeof file, "%s.py", comm);
    const char *leaves[][2] = {{"handle_request (%s:30);compute (%s:45)", "5"},
                               {"handle_request (%s:30);serialize (%s:52)", "3"},
                               {"read_input (%s:20)", "2"}};
    for (int i = 0; i < 3; i++) {
        char leaf[512];
        snprintf(leaf, sizeof leaf, leaves[i][0], file, file);
        snprintf(buf, sizeof buf, "<module> (%s:1);main (%s:12);%s", file, file, leaf);
        add_stack(buf, atol(leaves[i][1]), 0, true, i != 2); /* read_input waits on I/O */
    }
    add_stack("_bootstrap (threading.py:1002);_bootstrap_inner (threading.py:1045);run "
              "(threading.py:982);wait (threading.py:629)",
              1, 1, false, false);
    threads[0] = (thread){pid, "MainThread"};
    threads[1] = (thread){pid + 1, "Thread-1 (worker)"};
    nthreads = 2;
}

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *sp = strrchr(line, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        add_stack(line, atol(sp + 1), 0, true, true);
    }
    free(line);
    fclose(f);
    return 0;
}

/* Stack of thread th for interval i: the thread's stacks repeat in proportion to their weights. */
static stack *stack_for(int th, long i)
{
    long total = 0;
    for (int k = 0; k < nstacks; k++)
        if (stacks[k].thread == th)
            total += stacks[k].weight;
    if (!total)
        return NULL;
    long r = i % total;
    for (int k = 0; k < nstacks; k++) {
        if (stacks[k].thread != th)
            continue;
        if (r < stacks[k].weight)
            return &stacks[k];
        r -= stacks[k].weight;
    }
    return NULL;
}

/* ---- output ------------------------------------------------------------ */

/* "name (file:line)" -> parts; frames without a file (thread/process) keep the whole text. */
static void split_frame(const char *fr, size_t len, char *name, char *file, long *line)
{
    file[0] = '\0';
    *line = 0;
    snprintf(name, MAX_FRAME_TEXT, "%.*s", (int)len, fr);
    if (len < 4 || fr[len - 1] != ')' || !strncmp(fr, "thread (", 8) || !strncmp(fr, "process ", 8))
        return;
    const char *open = NULL;
    for (const char *p = fr; p + 1 < fr + len; p++)
        if (p[0] == ' ' && p[1] == '(')
            open = p;
    if (!open)
        return;
    snprintf(name, MAX_FRAME_TEXT, "%.*s", (int)(open - fr), fr);
    const char *in = open + 2, *end = fr + len - 1;
    const char *colon = memrchr(in, ':', (size_t)(end - in));
    if (colon && colon + 1 < end && isdigit((unsigned char)colon[1])) {
        *line = atol(colon + 1);
        snprintf(file, MAX_FRAME_TEXT, "%.*s", (int)(colon - in), in);
    } else {
        snprintf(file, MAX_FRAME_TEXT, "%.*s", (int)(end - in), in);
    }
}

/* The collapsed text of a stack as py-spy prints it for the given options. */
static void render_stack(const opts *o, const stack *s, long pid, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    if (o->subprocesses) {
        char cmd[1024];
        read_proc_text(pid, "cmdline", cmd, sizeof cmd, true);
        n += (size_t)snprintf(out + n, len - n, "process %ld:\"%s\";", pid, cmd);
    }
    if (o->threads && s->thread < nthreads && n < len)
        n += (size_t)snprintf(out + n, len - n, "thread (%ld): %s;", threads[s->thread].tid,
                              threads[s->thread].name);
    for (const char *p = s->frames; *p && n < len;) {
        const char *e = strchr(p, ';');
        size_t flen = e ? (size_t)(e - p) : strlen(p);
        char name[MAX_FRAME_TEXT], file[MAX_FRAME_TEXT];
        long line;
        split_frame(p, flen, name, file, &line);
        if (!file[0])
            n += (size_t)snprintf(out + n, len - n, "%s;", name);
        else if (o->nolineno || line == 0)
            n += (size_t)snprintf(out + n, len - n, "%s (%s);", name, file);
        else
            n += (size_t)snprintf(out + n, len - n, "%s (%s:%ld);", name, file, line);
        p = e ? e + 1 : p + flen;
    }
    if (n > 0 && n <= len && out[n - 1] == ';')
        out[n - 1] = '\0';
}

static void write_raw(FILE *f, const opts *o, long pid)
{
    static char text[65536];
    for (int k = 0; k < nstacks; k++) {
        if (!stacks[k].count)
            continue;
        render_stack(o, &stacks[k], pid, text, sizeof text);
        fprintf(f, "%s %ld\n", text, stacks[k].count);
    }
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Shortest text that reads back as the same double, with ".0" on integers (serde_json). */
static void json_double(FILE *f, double v)
{
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".en"))
        strcat(buf, ".0");
    fputs(buf, f);
}

typedef struct sframe {
    char name[256], file[256];
    long line;
} sframe;

static void copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int frame_index(sframe *fr, int *n, const char *name, const char *file, long line)
{
    for (int i = 0; i < *n; i++)
        if (fr[i].line == line && !strcmp(fr[i].name, name) && !strcmp(fr[i].file, file))
            return i;
    if (*n >= 4096)
        return 0;
    copy(fr[*n].name, sizeof fr[*n].name, name);
    copy(fr[*n].file, sizeof fr[*n].file, file);
    fr[*n].line = line;
    return (*n)++;
}

/* One sampled profile per thread, frames shared; samples are frame indices, root first. */
static void write_speedscope(FILE *f, const opts *o, long pid, long rate, long *sequence, long nseq)
{
    static sframe frames[4096];
    static int idx[MAX_STACKS][256], depth[MAX_STACKS];
    static char text[65536];
    int nframes = 0;
    for (int k = 0; k < nstacks; k++) {
        depth[k] = 0;
        if (!stacks[k].count)
            continue; /* py-spy only knows the frames it has seen */
        render_stack(o, &stacks[k], pid, text, sizeof text);
        for (char *p = text; *p && depth[k] < 256;) {
            char *e = strchr(p, ';');
            size_t flen = e ? (size_t)(e - p) : strlen(p);
            char name[MAX_FRAME_TEXT], file[MAX_FRAME_TEXT];
            long line;
            split_frame(p, flen, name, file, &line);
            if (o->nolineno)
                line = 0;
            idx[k][depth[k]++] = frame_index(frames, &nframes, name, file, line);
            p = e ? e + 1 : p + flen;
        }
    }
    fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"profiles\":[", f);
    bool first_profile = true;
    for (int th = 0; th < nthreads; th++) {
        long n = 0;
        for (long i = 0; i < nseq; i++)
            n += stacks[sequence[i]].thread == th;
        if (!n)
            continue;
        char pname[256];
        if (o->subprocesses)
            snprintf(pname, sizeof pname, "Process %ld Thread %ld \"%s\"", pid, threads[th].tid,
                     threads[th].name);
        else
            snprintf(pname, sizeof pname, "Thread %ld \"%s\"", threads[th].tid, threads[th].name);
        fprintf(f, "%s{\"type\":\"sampled\",\"name\":", first_profile ? "" : ",");
        first_profile = false;
        json_string(f, pname);
        fputs(",\"unit\":\"seconds\",\"startValue\":0.0,\"endValue\":", f);
        json_double(f, (double)n / (double)rate);
        fputs(",\"samples\":[", f);
        bool first = true;
        for (long i = 0; i < nseq; i++) {
            int k = (int)sequence[i];
            if (stacks[k].thread != th)
                continue;
            fputs(first ? "[" : ",[", f);
            first = false;
            for (int d = 0; d < depth[k]; d++)
                fprintf(f, "%s%d", d ? "," : "", idx[k][d]);
            fputc(']', f);
        }
        fputs("],\"weights\":[", f);
        for (long i = 0; i < n; i++) {
            if (i)
                fputc(',', f);
            json_double(f, 1.0 / (double)rate);
        }
        fputs("]}", f);
    }
    fputs("],\"shared\":{\"frames\":[", f);
    for (int i = 0; i < nframes; i++) {
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        json_string(f, frames[i].name);
        fputs(",\"file\":", f);
        json_string(f, frames[i].file);
        if (o->nolineno)
            fputs(",\"line\":null,\"col\":null}", f);
        else
            fprintf(f, ",\"line\":%ld,\"col\":null}", frames[i].line);
    }
    fputs("]},\"activeProfileIndex\":null,\"exporter\":\"py-spy@" VERSION
          "\",\"name\":\"py-spy profile\"}\n",
          f);
}

static void xml_text(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        char c = s[i];
        if (c == '<')
            fputs("&lt;", f);
        else if (c == '>')
            fputs("&gt;", f);
        else if (c == '&')
            fputs("&amp;", f);
        else if (c == '"')
            fputs("&quot;", f);
        else
            fputc(c, f);
    }
}

/* A plain icicle SVG (py-spy draws inverted flame graphs with inferno): one rect per frame of
 * each distinct stack, merged with its neighbour when the prefix is shared. */
static void write_flamegraph(FILE *f, const opts *o, long pid, long total)
{
    static char text[MAX_STACKS][1024];
    int order[MAX_STACKS], n = 0;
    for (int k = 0; k < nstacks; k++)
        if (stacks[k].count) {
            render_stack(o, &stacks[k], pid, text[k], sizeof text[k]);
            order[n++] = k;
        }
    for (int a = 1; a < n; a++) /* insertion sort: few stacks */
        for (int b = a; b > 0 && strcmp(text[order[b - 1]], text[order[b]]) > 0; b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    const double width = 1200.0, h = 16.0;
    fprintf(f,
            "<?xml version=\"1.0\" standalone=\"no\"?>\n<svg version=\"1.1\" width=\"1200\" "
            "height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">\n<text x=\"600\" y=\"20\" "
            "text-anchor=\"middle\">py-spy record</text>\n",
            40 + 64 * 16);
    long x = 0;
    for (int a = 0; a < n; a++) {
        int k = order[a];
        const char *p = text[k];
        for (int d = 0; *p && d < 64; d++) {
            const char *e = strchr(p, ';');
            size_t flen = e ? (size_t)(e - p) : strlen(p);
            /* samples under this frame among the following stacks sharing the prefix */
            size_t plen = (size_t)(p - text[k]) + flen;
            bool shared_before = a > 0 && !strncmp(text[order[a - 1]], text[k], plen) &&
                                 (text[order[a - 1]][plen] == ';' || !text[order[a - 1]][plen]);
            if (!shared_before) {
                long w = 0;
                for (int b = a; b < n && !strncmp(text[order[b]], text[k], plen) &&
                                (text[order[b]][plen] == ';' || !text[order[b]][plen]);
                     b++)
                    w += stacks[order[b]].count;
                fprintf(f, "<g><title>");
                xml_text(f, p, flen);
                fprintf(f,
                        " (%ld samples)</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                        "height=\"15\" fill=\"rgb(230,%d,50)\"/></g>\n",
                        w, width * (double)x / (double)total, 30 + d * h,
                        width * (double)w / (double)total, 100 + (d * 37) % 120);
            }
            p = e ? e + 1 : p + flen;
        }
        x += stacks[k].count;
    }
    fputs("</svg>\n", f);
}

static void write_chrometrace(FILE *f, const opts *o, long pid, long rate, long *sequence,
                              long nseq)
{
    static char text[65536];
    fputc('[', f);
    for (long i = 0; i < nseq; i++) {
        render_stack(o, &stacks[sequence[i]], pid, text, sizeof text);
        fprintf(f, "%s{\"name\":", i ? "," : "");
        json_string(f, text);
        fprintf(f, ",\"ph\":\"X\",\"ts\":%ld,\"dur\":%ld,\"pid\":%ld,\"tid\":%ld}",
                i * 1000000L / rate, 1000000L / rate, pid, threads[stacks[sequence[i]].thread].tid);
    }
    fputs("]\n", f);
}

/* ---- main -------------------------------------------------------------- */

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void log_start(int argc, char **argv)
{
    const char *path = getenv("PYSPY_STANDIN_LOG");
    if (!path || !*path)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char line[8192];
    int n = snprintf(line, sizeof line, "%lld.%09ld %ld", (long long)ts.tv_sec, ts.tv_nsec,
                     (long)getpid());
    for (int i = 0; i < argc && n < (int)sizeof line - 2; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " %s", argv[i]);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, line, (size_t)n); /* one write: whole lines under O_APPEND */
        (void)w;
        close(fd);
    }
}

static void hang_forever(void)
{
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    for (;;)
        pause();
}

static const char *default_output(long pid, const char *format, char *buf, size_t len)
{
    const char *ext =
        !strcmp(format, "flamegraph") ? "svg" : (!strcmp(format, "raw") ? "txt" : "json");
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    char ts[64];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S%z", &tm);
    /* RFC 3339 offset: +hh:mm */
    size_t l = strlen(ts);
    if (l > 4) {
        memmove(ts + l - 1, ts + l - 2, 3);
        ts[l - 2] = ':';
    }
    snprintf(buf, len, "%ld-%s.%s", pid, ts, ext);
    return buf;
}

static int record(int argc, char **argv)
{
    opts o = {0};
    parse_record(argc, argv, &o);
    if (!o.pid_s && !o.program)
        usage_error("The following required arguments were not provided:\n    --pid <pid>");
    long rate = parse_u64("rate", o.rate_s ? o.rate_s : "100");
    const char *format = check_format(o.format ? o.format : "flamegraph");
    long duration = -1;
    if (o.duration_s && strcmp(o.duration_s, "unlimited")) {
        char *end;
        errno = 0;
        duration = strtol(o.duration_s, &end, 10);
        if (!*o.duration_s || *end || errno || duration < 0)
            panic_parse("invalid duration", o.duration_s);
    }
    if (o.nolineno && o.function) {
        fprintf(stderr, "--function & --nolinenos can't be used together\n");
        return 1;
    }
    if (o.nonblocking && o.native) {
        fprintf(stderr, "Can't get native stack traces with the --nonblocking option.\n");
        return 1;
    }
    if (!o.pid_s) {
        fprintf(stderr, "Error: the py-spy stand-in cannot launch programs; use --pid\n");
        return 1;
    }
    long pid = parse_pid(o.pid_s);
    if (rate == 0) { /* Timer::new(0.0): an infinite interval, which Duration rejects */
        fprintf(stderr, "thread '<unnamed>' panicked at 'can not convert float seconds to "
                        "Duration: value is either too big or NaN'\n");
        return 101;
    }
    const char *mode = getenv("PYSPY_STANDIN_MODE");
    mode = mode ? mode : "";
    check_target(pid, mode);

    const char *replay = getenv("PYSPY_STANDIN_STACKS");
    if (replay && *replay) {
        if (replay_file(replay) < 0) {
            fprintf(stderr, "Error: %s (os error %d)\n", strerror(errno), errno);
            return 1;
        }
        threads[0] = (thread){pid, "MainThread"};
        nthreads = 1;
    } else {
        builtin_tree(pid);
    }
    char outbuf[512];
    const char *out = o.output ? o.output : default_output(pid, format, outbuf, sizeof outbuf);

    struct sigaction sa = {0};
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    if (duration >= 0)
        printf(LEDE "Sampling process %ld times a second for %ld seconds. Press Control-C to "
                    "exit.\n\n",
               rate, duration);
    else
        printf(LEDE "Sampling process %ld times a second. Press Control-C to exit.\n\n", rate);
    fflush(stdout);
    if (!strcmp(mode, "hang"))
        hang_forever();

    long max_intervals = duration >= 0 ? duration * rate : -1;
    long capacity = max_intervals > 0 ? max_intervals * nthreads + 16 : 1 << 16;
    long *sequence = malloc((size_t)capacity * sizeof *sequence), nseq = 0;
    const char *exit_message = "Stopped sampling because process exited";
    long samples = 0, intervals = 0, twist_at = max_intervals > 0 ? max_intervals / 2 : rate;
    const char *after = getenv("PYSPY_STANDIN_EXIT_AFTER"); /* samples before the twist */
    if (after && *after)
        twist_at = atol(after);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long i = 0;; i++) {
        if (target_exe_errno(pid))
            break; /* the sampling thread ends: "process exited" */
        if (interrupted) {
            exit_message = "Stopped sampling because Control-C pressed";
            break;
        }
        intervals++;
        if (max_intervals >= 0 && intervals >= max_intervals) {
            exit_message = "";
            break;
        }
        if (i == twist_at && !strcmp(mode, "exit"))
            break;
        if (i == twist_at && !strcmp(mode, "crash")) {
            fprintf(stderr,
                    "Segmentation fault in the py-spy stand-in (PYSPY_STANDIN_MODE=crash)\n");
            signal(SIGSEGV, SIG_DFL); /* not a sanitizer's handler: die of the signal */
            raise(SIGSEGV);
        }
        if (i == twist_at && !strcmp(mode, "stop"))
            raise(SIGSTOP);
        for (int th = 0; th < nthreads; th++) {
            stack *s = stack_for(th, i);
            if (!s || !(o.idle || s->active) || (o.gil && !s->gil))
                continue;
            s->count++;
            samples++;
            if (nseq < capacity)
                sequence[nseq++] = s - stacks;
        }
        /* Timer: the next sample is due at start + (i + 1) / rate. */
        long long due_ns = (long long)(i + 1) * 1000000000LL / rate;
        struct timespec due = {start.tv_sec + (time_t)(due_ns / 1000000000LL),
                               start.tv_nsec + (long)(due_ns % 1000000000LL)};
        if (due.tv_nsec >= 1000000000L) {
            due.tv_sec++;
            due.tv_nsec -= 1000000000L;
        }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR && !interrupted)
            ;
    }
    if (*exit_message)
        printf("\n" LEDE "%s\n", exit_message);

    FILE *f = fopen(out, "w");
    if (!f) {
        int e = errno;
        fprintf(stderr, "Error: %s (os error %d)\n", strerror(e), e);
        return 1;
    }
    if (!strcmp(format, "raw"))
        write_raw(f, &o, pid);
    else if (!strcmp(format, "speedscope"))
        write_speedscope(f, &o, pid, rate, sequence, nseq);
    else if (!strcmp(format, "chrometrace"))
        write_chrometrace(f, &o, pid, rate, sequence, nseq);
    else
        write_flamegraph(f, &o, pid, samples ? samples : 1);
    if (fclose(f) != 0) {
        fprintf(stderr, "Error: %s (os error %d)\n", strerror(errno), errno);
        return 1;
    }
    free(sequence);
    if (!strcmp(format, "raw"))
        printf(LEDE "Wrote raw flamegraph data to '%s'. Samples: %ld Errors: 0\n" LEDE
                    "You can use the flamegraph.pl script from "
                    "https://github.com/brendangregg/flamegraph to generate a SVG\n",
               out, samples);
    else if (!strcmp(format, "speedscope"))
        printf(LEDE "Wrote speedscope file to '%s'. Samples: %ld Errors: 0\n" LEDE
                    "Visit https://www.speedscope.app/ to view\n",
               out, samples);
    else if (!strcmp(format, "chrometrace"))
        printf(LEDE "Wrote chrome trace to '%s'. Samples: %ld Errors: 0\n" LEDE
                    "Visit chrome://tracing or https://ui.perfetto.dev/ to view\n",
               out, samples);
    else
        printf(LEDE "Wrote flamegraph data to '%s'. Samples: %ld Errors: 0\n", out, samples);
    return 0;
}

/* clap's infer_subcommands: any unique prefix of a subcommand name selects it. */
static const char *infer_subcommand(const char *a)
{
    static const char *subs[] = {"record", "top", "dump", "help"};
    const char *hit = NULL;
    size_t n = strlen(a);
    for (int i = 0; i < 4; i++)
        if (!strncmp(subs[i], a, n)) {
            if (hit)
                return NULL;
            hit = subs[i];
        }
    return hit;
}

int main(int argc, char **argv)
{
    log_start(argc, argv);
    if (argc < 2) {
        help(stderr);
        return 2;
    }
    const char *a = argv[1];
    if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
        printf("py-spy " VERSION "\n");
        return 0;
    }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
        help(stdout);
        return 0;
    }
    const char *sub = a[0] == '-' ? NULL : infer_subcommand(a);
    if (a[0] == '-') {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "Found argument '%s' which wasn't expected, or isn't valid in this context\n\n"
                 "\tIf you tried to supply `%s` as a value rather than a flag, use `-- %s`",
                 a, a, a);
        fprintf(stderr,
                "error: %s\n\nUSAGE:\n    py-spy <SUBCOMMAND>\n\nFor more information try "
                "--help\n",
                msg);
        return 2;
    }
    if (!sub) {
        fprintf(stderr,
                "error: The subcommand '%s' wasn't recognized\n\nUSAGE:\n    py-spy "
                "<SUBCOMMAND>\n\nFor more information try --help\n",
                a);
        return 2;
    }
    if (!strcmp(sub, "help")) {
        help(stdout);
        return 0;
    }
    if (strcmp(sub, "record")) {
        fprintf(stderr, "Error: the py-spy stand-in implements only 'record', not '%s'\n", sub);
        return 1;
    }
    return record(argc - 2, argv + 2);
}
