/* output.c - aggregating samples and writing them as py-spy writes them.
 *
 * raw: py-spy's collapsed format, one line per distinct stack:
 *   "root;...;leaf COUNT", each frame "name (file:line)" (or "name (file)"
 *   when the line is unknown), file being py-spy's short filename; with
 *   --threads a root frame "thread (TID): NAME" (decimal kernel tid, or the
 *   pthread id as "0x7F..." when the tid is unknown, as py-spy's
 *   format_threadid does; NAME is threading.Thread.name, and a thread without
 *   one is "thread (TID)"); with --subprocesses the process frames
 *   `process PID:"cmdline"` of children.c come first (th->roots).
 * speedscope: a "sampled" profile per thread named `Thread TID "NAME"` (with
 *   --subprocesses `Process PID Thread TID "NAME"`, as py-spy), weights of
 *   1/rate seconds, frames shared (name, full filename, line), sorted by name,
 *   exporter/name fields like py-spy's.
 * Names in raw lines. py-spy writes names verbatim (its flamegraph.rs joins
 * "name (file:line)" with ';' and adds " COUNT"), so a ';' or a newline in a
 * function or file name would split a frame or a line there. We keep the
 * format parseable instead: ';' becomes ':' (what render's own collapsed
 * writer does), newline, CR and tab become \n, \r, \t and other control
 * characters \xHH, so the frame stays one frame and the damage is visible.
 * speedscope keeps the names as they are (JSON escapes them). A stack cut at
 * PY_MAX_DEPTH gets a marker frame at its root (TRUNCATED_FRAME).
 *
 * Stacks are kept as strings in a hash table (raw) and as frame-index lists
 * per thread (speedscope); a sample that repeats its thread's previous stack
 * shares that list, so memory grows with distinct stacks and with changes of
 * stack, not with frames read. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pysampler.h"

typedef struct strmap {
    char **keys;
    long *vals;
    size_t cap, n;
    size_t *order; /* insertion order */
    unsigned gen;  /* bumped when slots move (growth) */
} strmap;

typedef struct span {
    size_t start, n; /* in tprof.idx */
} span;

typedef struct tprof {
    uint64_t thread_id;
    pid_t pid;
    char name[192];
    int *idx; /* concatenated distinct stacks, root first */
    size_t nidx, capidx;
    span *samples; /* each sample's stack in idx; a repeat shares its predecessor's */
    size_t nsamples, capsamples;
    /* the previous sample of this thread: a repeat of it costs a compare, not a line */
    py_frame *last;
    int last_depth, last_cap;
    bool last_trunc, last_tframe;
    uint64_t last_roots; /* hash of children.c's process frames (0 none) */
    char last_name[128]; /* the thread name it was written with ("" none) */
    long last_slot;      /* its raw line's slot in stacks, -1 none */
    unsigned last_gen;
    size_t last_start, last_n; /* its indices in idx */
} tprof;

/* (code, line) -> its frame text and speedscope index: most frames repeat every sample. */
typedef struct memo {
    const py_code *code;
    int line;
    int index;
    char *text;
} memo;

#define MEMO_SLOTS 4096
#define STR2(x) #x
#define STR(x) STR2(x)
#define TRUNCATED_FRAME "[truncated: stack deeper than " STR(PY_MAX_DEPTH) " frames]"

struct py_output {
    memo memo[MEMO_SLOTS];
    strmap stacks; /* raw line -> count */
    strmap frames; /* "name\x1ffile\x1fline" -> index */
    tprof *threads;
    size_t nthreads;
    long samples;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
    return h;
}

static int map_grow(strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    char **keys = calloc(cap, sizeof(*keys));
    long *vals = calloc(cap, sizeof(*vals));
    size_t *order = malloc(cap * sizeof(*order));
    if (!keys || !vals || !order) {
        free(keys);
        free(vals);
        free(order);
        return -1;
    }
    size_t n = 0;
    for (size_t k = 0; k < m->n; k++) {
        size_t i = m->order[k];
        size_t j = hash(m->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
        order[n++] = j;
    }
    free(m->keys);
    free(m->vals);
    free(m->order);
    m->keys = keys;
    m->vals = vals;
    m->order = order;
    m->cap = cap;
    m->gen++;
    return 0;
}

/* Slot of key, inserting it with value `init` when absent; -1 on memory failure. */
static long map_slot(strmap *m, const char *key, long init)
{
    if ((m->n + 1) * 2 > m->cap && map_grow(m) != 0)
        return -1;
    size_t j = hash(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0)
            return (long)j;
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = strdup(key);
    if (!m->keys[j])
        return -1;
    m->vals[j] = init;
    m->order[m->n++] = j;
    return (long)j;
}

static void map_free(strmap *m)
{
    for (size_t k = 0; k < m->n; k++)
        free(m->keys[m->order[k]]);
    free(m->keys);
    free(m->vals);
    free(m->order);
}

py_output *py_output_new(void)
{
    return calloc(1, sizeof(py_output));
}

void py_output_free(py_output *o)
{
    if (!o)
        return;
    map_free(&o->stacks);
    map_free(&o->frames);
    for (int i = 0; i < MEMO_SLOTS; i++)
        free(o->memo[i].text);
    for (size_t i = 0; i < o->nthreads; i++) {
        free(o->threads[i].idx);
        free(o->threads[i].samples);
        free(o->threads[i].last);
    }
    free(o->threads);
    free(o);
}

long py_output_samples(const py_output *o)
{
    return o->samples;
}

static void thread_label(const py_thread *th, char *out, size_t len)
{
    if (th->tid > 0)
        snprintf(out, len, "%ld", th->tid);
    else
        snprintf(out, len, "0x%" PRIX64, th->thread_id);
}

static tprof *thread_prof(py_output *o, pid_t pid, const py_thread *th)
{
    for (size_t i = 0; i < o->nthreads; i++)
        if (o->threads[i].thread_id == th->thread_id && o->threads[i].pid == pid)
            return &o->threads[i];
    tprof *t = realloc(o->threads, (o->nthreads + 1) * sizeof(*t));
    if (!t)
        return NULL;
    o->threads = t;
    t = &o->threads[o->nthreads++];
    memset(t, 0, sizeof(*t));
    t->thread_id = th->thread_id;
    t->last_slot = -1;
    t->pid = pid;
    char label[32];
    thread_label(th, label, sizeof(label));
    if (th->roots)
        snprintf(t->name, sizeof(t->name), "Process %d Thread %s \"%.128s\"", (int)pid, label,
                 th->name ? th->name : "");
    else
        snprintf(t->name, sizeof(t->name), "Thread %s \"%.128s\"", label, th->name ? th->name : "");
    return t;
}

static int frame_index(py_output *o, const char *name, const char *file, int line)
{
    size_t room = strlen(name) + strlen(file) + 16;
    char *key = malloc(room);
    if (!key)
        return -1;
    snprintf(key, room, "%s\x1f%s\x1f%d", name, file, line);
    long j = map_slot(&o->frames, key, (long)o->frames.n);
    free(key);
    return j < 0 ? -1 : (int)o->frames.vals[j];
}

static int push_index(tprof *t, int v)
{
    if (t->nidx == t->capidx) {
        size_t cap = t->capidx ? t->capidx * 2 : 4096;
        int *p = realloc(t->idx, cap * sizeof(*p));
        if (!p)
            return -1;
        t->idx = p;
        t->capidx = cap;
    }
    t->idx[t->nidx++] = v;
    return 0;
}

static int start_sample(tprof *t)
{
    if (t->nsamples == t->capsamples) {
        size_t cap = t->capsamples ? t->capsamples * 2 : 1024;
        span *p = realloc(t->samples, cap * sizeof(*p));
        if (!p)
            return -1;
        t->samples = p;
        t->capsamples = cap;
    }
    t->samples[t->nsamples++] = (span){t->nidx, 0};
    return 0;
}

static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 2 > *cap) {
        size_t c = (*cap + n) * 2 + 256;
        char *p = realloc(*buf, c);
        if (!p)
            return -1;
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
    return 0;
}

/* Copy s into out (room bytes, NUL-terminated), escaped for a raw line (see the top). */
static size_t raw_escape(const char *s, char *out, size_t room)
{
    size_t o = 0;
    for (; *s && o + 5 < room; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ';')
            out[o++] = ':';
        else if (c == '\n' || c == '\r' || c == '\t') {
            out[o++] = '\\';
            out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(out + o, room - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
    return o;
}

/* The raw text of a frame: "name (file:line)", or "name (file)" without a line. */
static char *frame_text(const py_code *c, int ln)
{
    size_t room = 4 * (strlen(c->name) + strlen(c->short_filename)) + 32;
    char *text = malloc(room);
    if (!text)
        return NULL;
    size_t o = raw_escape(c->name, text, room);
    text[o++] = ' ';
    text[o++] = '(';
    o += raw_escape(c->short_filename, text + o, room - o);
    if (ln)
        snprintf(text + o, room - o, ":%d)", ln);
    else
        snprintf(text + o, room - o, ")");
    return text;
}

static const memo *frame_memo(py_output *o, const py_code *c, int line)
{
    int ln = line > 0 ? line : 0;
    memo *m = &o->memo[(((uintptr_t)c >> 4) * 31 + (unsigned)ln) & (MEMO_SLOTS - 1)];
    if (m->text && m->code == c && m->line == ln)
        return m;
    int index = frame_index(o, c->name, c->filename, ln);
    char *text = frame_text(c, ln);
    if (index < 0 || !text) {
        free(text);
        return NULL;
    }
    free(m->text);
    m->code = c;
    m->line = ln;
    m->index = index;
    m->text = text;
    return m;
}

static bool same_as_last(const py_output *o, const tprof *t, const py_thread *th, bool tframe)
{
    if (t->last_slot < 0 || t->last_gen != o->stacks.gen || t->last_depth != th->depth ||
        t->last_trunc != th->truncated || t->last_tframe != tframe ||
        t->last_roots != (th->roots ? hash(th->roots) : 0) ||
        (tframe && strcmp(t->last_name, th->name ? th->name : "") != 0))
        return false;
    for (int i = 0; i < th->depth; i++)
        if (t->last[i].code != th->frames[i].code || t->last[i].line != th->frames[i].line)
            return false;
    return true;
}

/* The sample repeats the thread's previous one: count its line again, share its indices. */
static int repeat_last(py_output *o, tprof *t)
{
    t->samples[t->nsamples - 1] = (span){t->last_start, t->last_n};
    o->stacks.vals[t->last_slot]++;
    o->samples++;
    return 0;
}

static void remember(const py_output *o, tprof *t, const py_thread *th, bool tframe, long slot,
                     size_t start)
{
    t->last_slot = -1;
    if (th->depth > t->last_cap) {
        py_frame *p = realloc(t->last, (size_t)th->depth * sizeof(*p));
        if (!p)
            return;
        t->last = p;
        t->last_cap = th->depth;
    }
    for (int i = 0; i < th->depth; i++)
        t->last[i] = th->frames[i];
    t->last_depth = th->depth;
    t->last_trunc = th->truncated;
    t->last_tframe = tframe;
    t->last_roots = th->roots ? hash(th->roots) : 0;
    snprintf(t->last_name, sizeof(t->last_name), "%s", th->name ? th->name : "");
    t->last_slot = slot;
    t->last_gen = o->stacks.gen;
    t->last_start = start;
    t->last_n = t->nidx - start;
}

int py_output_add(py_output *o, pid_t pid, const py_thread *th, bool with_thread_frame)
{
    tprof *t = thread_prof(o, pid, th);
    if (!t || start_sample(t) != 0)
        return -1;
    if (same_as_last(o, t, th, with_thread_frame))
        return repeat_last(o, t);
    size_t start = t->nidx;
    char *line = NULL, frame[2600];
    size_t len = 0, cap = 0;
    int rc = 0;
    /* Process and thread frames: escaped like names in the raw line, as they are in speedscope */
    char plain[1200];
    for (const char *r = th->roots; r && *r && rc == 0;) {
        size_t n = strcspn(r, "\n"); /* children.c: one process frame a line, root first */
        snprintf(plain, sizeof(plain), "%.*s", (int)n, r);
        raw_escape(plain, frame, sizeof(frame));
        if (len)
            rc |= append(&line, &len, &cap, ";");
        rc |= append(&line, &len, &cap, frame);
        rc |= push_index(t, frame_index(o, plain, "", 0));
        r += n + (r[n] == '\n');
    }
    if (with_thread_frame) {
        char label[32];
        thread_label(th, label, sizeof(label));
        if (th->name)
            snprintf(plain, sizeof(plain), "thread (%s): %.1024s", label, th->name);
        else
            snprintf(plain, sizeof(plain), "thread (%s)", label);
        raw_escape(plain, frame, sizeof(frame));
        if (len)
            rc |= append(&line, &len, &cap, ";");
        rc |= append(&line, &len, &cap, frame);
        rc |= push_index(t, frame_index(o, plain, "", 0));
    }
    if (th->truncated && rc == 0) {
        if (len)
            rc |= append(&line, &len, &cap, ";");
        rc |= append(&line, &len, &cap, TRUNCATED_FRAME);
        rc |= push_index(t, frame_index(o, TRUNCATED_FRAME, "", 0));
    }
    for (int i = th->depth - 1; i >= 0 && rc == 0; i--) {
        const memo *m = frame_memo(o, th->frames[i].code, th->frames[i].line);
        if (!m) {
            rc = -1;
            break;
        }
        if (len)
            rc |= append(&line, &len, &cap, ";");
        rc |= append(&line, &len, &cap, m->text);
        rc |= push_index(t, m->index);
    }
    if (rc == 0) {
        long j = map_slot(&o->stacks, line ? line : "", 0);
        if (j < 0)
            rc = -1;
        else
            o->stacks.vals[j]++;
        if (j >= 0)
            remember(o, t, th, with_thread_frame, j, start);
    }
    t->samples[t->nsamples - 1].n = t->nidx - start;
    free(line);
    o->samples++;
    return rc;
}

int py_output_write_raw(const py_output *o, FILE *f)
{
    for (size_t k = 0; k < o->stacks.n; k++) {
        size_t j = o->stacks.order[k];
        if (o->stacks.keys[j][0] == '\0')
            continue; /* a thread with no Python frames: py-spy writes nothing either */
        fprintf(f, "%s %ld\n", o->stacks.keys[j], o->stacks.vals[j]);
    }
    return ferror(f) ? -1 : 0;
}

static void json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const tprof *const *)a)->name, (*(const tprof *const *)b)->name);
}

static void write_frames(const py_output *o, FILE *f)
{
    /* frames.vals[j] is the index; write in index order, i.e. insertion order. */
    for (size_t k = 0; k < o->frames.n; k++) {
        const char *key = o->frames.keys[o->frames.order[k]];
        const char *s1 = strchr(key, '\x1f');
        const char *s2 = s1 ? strchr(s1 + 1, '\x1f') : NULL;
        if (!s2)
            continue;
        fputs(k ? ",{\"name\":" : "{\"name\":", f);
        json_str(f, key, (size_t)(s1 - key));
        fputs(",\"file\":", f);
        json_str(f, s1 + 1, (size_t)(s2 - s1 - 1));
        fprintf(f, ",\"line\":%d}", atoi(s2 + 1));
    }
}

static void write_profile(const tprof *t, FILE *f, int rate_hz)
{
    double w = 1.0 / rate_hz;
    fputs("{\"type\":\"sampled\",\"name\":", f);
    json_str(f, t->name, strlen(t->name));
    fprintf(f, ",\"unit\":\"seconds\",\"startValue\":0.0,\"endValue\":%.6f,\"samples\":[",
            (double)t->nsamples * w);
    for (size_t s = 0; s < t->nsamples; s++) {
        const span *p = &t->samples[s];
        fputs(s ? ",[" : "[", f);
        for (size_t i = 0; i < p->n; i++)
            fprintf(f, i ? ",%d" : "%d", t->idx[p->start + i]);
        fputc(']', f);
    }
    fputs("],\"weights\":[", f);
    for (size_t s = 0; s < t->nsamples; s++)
        fprintf(f, s ? ",%.6f" : "%.6f", w);
    fputs("]}", f);
}

int py_output_write_speedscope(const py_output *o, FILE *f, int rate_hz)
{
    const tprof **sorted = malloc((o->nthreads + 1) * sizeof(*sorted));
    if (!sorted)
        return -1;
    for (size_t i = 0; i < o->nthreads; i++)
        sorted[i] = &o->threads[i];
    qsort(sorted, o->nthreads, sizeof(*sorted), by_name);
    fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"profiles\":[", f);
    for (size_t i = 0; i < o->nthreads; i++) {
        if (i)
            fputc(',', f);
        write_profile(sorted[i], f, rate_hz);
    }
    fputs("],\"shared\":{\"frames\":[", f);
    write_frames(o, f);
    fprintf(f,
            "]},\"activeProfileIndex\":0,\"exporter\":\"profd-builtin@%s\","
            "\"name\":\"py-spy profile\"}\n",
            "0.1.0");
    free(sorted);
    return ferror(f) ? -1 : 0;
}
