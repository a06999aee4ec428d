/* stack.c - walking interpreters, threads and frames of the target.
 *
 * _PyRuntime.interpreters.head -> PyInterpreterState (-> next) -> thread list
 * (tstate_head / threads.head, -> next) -> the thread's newest frame:
 *   3.8-3.10  tstate->frame, a PyFrameObject chain through f_back; the
 *             instruction is f_lasti (bytes; 3.10 in code units).
 *   3.11-3.12 tstate->cframe->current_frame, a _PyInterpreterFrame chain
 *             through previous; the instruction is prev_instr.
 *   3.13      tstate->current_frame; the instruction is instr_ptr.
 * On 3.11+ a frame owned by the C stack (owner 3, the entry shims of 3.12+)
 * is skipped, and so is an incomplete frame, one that has not reached its
 * first traceable instruction yet (pycore_frame.h _PyFrame_IsIncomplete).
 * Reads are few and batched: one read of the thread state, one of the used
 * part of the thread's current data-stack chunk (3.11+: most frames live
 * there and are then walked locally; frames elsewhere, such as generators'
 * and older chunks', are read one by one), one per PyFrameObject before 3.11,
 * and one process_vm_readv with an iovec per frame for all the code-object
 * headers of the stack (code.c then answers from its cache).
 *
 * Without pausing, the target keeps running while we read, so a stack can be
 * torn. Every read failure, a code pointer that is not a code object, or a
 * chain longer than PY_MAX_DEPTH makes the whole read fail; with `verify` the
 * walker also re-reads each thread's newest-frame pointer after the walk and
 * fails if it moved. The caller retries (record.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pysampler.h"

int py_stacks_init(py_stacks *s)
{
    memset(s, 0, sizeof(*s));
    s->pool = malloc(sizeof(py_frame) * PY_MAX_THREADS * (size_t)PY_MAX_DEPTH);
    return s->pool ? 0 : -1;
}

void py_stacks_free(py_stacks *s)
{
    free(s->pool);
    s->pool = NULL;
}

/* Address of the newest frame of a thread, from its tstate bytes. */
static int newest_frame(const py_target *t, const uint8_t *ts, uint64_t *out)
{
    const py_layout *L = t->L;
    if (L->ts_frame >= 0) {
        memcpy(out, ts + L->ts_frame, 8);
        return 0;
    }
    if (L->ts_current_frame >= 0) {
        memcpy(out, ts + L->ts_current_frame, 8);
        return 0;
    }
    uint64_t cframe;
    memcpy(&cframe, ts + L->ts_cframe, 8);
    if (!cframe) {
        *out = 0;
        return 0;
    }
    return py_read_ptr(t->pid, cframe + (uint64_t)L->cf_current_frame, out);
}

/* What the walk collects per frame before code objects are resolved in one batch. */
typedef struct raw_frame {
    uint64_t code;
    int off;   /* byte offset of the instruction; -1 before the first one */
    int owner; /* 3.11+ _PyInterpreterFrame.owner; 0 before 3.11 */
} raw_frame;

#define DISTINCT_SLOTS 8192 /* power of two, > 2 * PY_MAX_DEPTH */

typedef struct walk {
    raw_frame raw[PY_MAX_DEPTH];
    int n;
    uint64_t addrs[PY_MAX_DEPTH];
    uint8_t hdrs[PY_MAX_DEPTH * 256];   /* code headers, py_code_header_size() apart */
    const py_code *codes[PY_MAX_DEPTH]; /* the code object at addrs[k] */
    /* 3.11+: copy of the used part of the thread's current data-stack chunk */
    uint8_t chunk[64 * 1024];
    uint64_t chunk_lo, chunk_hi;
} walk;

static walk W; /* one sampler thread: static scratch keeps the stack small */

static int add_raw(uint64_t code, int off, int owner)
{
    if (W.n >= PY_MAX_DEPTH)
        return -1;
    W.raw[W.n].code = code;
    W.raw[W.n].off = off;
    W.raw[W.n].owner = owner;
    W.n++;
    return 0;
}

static int walk_objects(const py_target *t, uint64_t f)
{
    const py_layout *L = t->L;
    uint8_t b[128];
    for (int n = 0; f; n++) {
        if (n >= PY_MAX_DEPTH || py_read(t->pid, f, b, (size_t)L->fo_lasti + 4) != 0)
            return -1;
        uint64_t code, back;
        int32_t lasti;
        memcpy(&code, b + L->fo_code, 8);
        memcpy(&back, b + L->fo_back, 8);
        memcpy(&lasti, b + L->fo_lasti, 4);
        if (add_raw(code, L->lasti_in_units && lasti >= 0 ? lasti * 2 : lasti, 0) != 0)
            return -1;
        f = back;
    }
    return 0;
}

/* Copy [chunk, top) of the thread's data stack, where most 3.11+ frames live. */
static void load_chunk(const py_target *t, const uint8_t *ts)
{
    const py_layout *L = t->L;
    uint64_t chunk, top;
    W.chunk_lo = W.chunk_hi = 0;
    if (L->ts_datastack_chunk < 0)
        return;
    memcpy(&chunk, ts + L->ts_datastack_chunk, 8);
    memcpy(&top, ts + L->ts_datastack_top, 8);
    if (!chunk || top <= chunk || top - chunk > sizeof(W.chunk))
        return; /* none, or unusually big: read frame by frame */
    if (py_read(t->pid, chunk, W.chunk, (size_t)(top - chunk)) == 0) {
        W.chunk_lo = chunk;
        W.chunk_hi = top;
    }
}

static const uint8_t *frame_bytes(const py_target *t, uint64_t f, size_t len, uint8_t *scratch)
{
    if (f >= W.chunk_lo && f + len <= W.chunk_hi)
        return W.chunk + (f - W.chunk_lo);
    return py_read(t->pid, f, scratch, len) == 0 ? scratch : NULL;
}

/* Free-threaded 3.14+: a thread may run its own copy of the bytecode, entry tlbc_index of the
 * code's _PyCodeArray co_tlbc {Py_ssize_t size; char *entries[]}; entry 0 is the main copy. */
static uint64_t bytecode_start(const py_target *t, uint64_t code, const uint8_t *frame)
{
    const py_layout *L = t->L;
    uint64_t main_copy = code + (uint64_t)L->co_code_adaptive, arr, base;
    int32_t idx;
    int64_t size;
    if (L->if_tlbc_index < 0)
        return main_copy;
    memcpy(&idx, frame + L->if_tlbc_index, 4);
    if (idx <= 0 || py_read_ptr(t->pid, code + (uint64_t)L->co_tlbc, &arr) != 0 || !arr ||
        py_read(t->pid, arr, &size, 8) != 0 || idx >= size ||
        py_read_ptr(t->pid, arr + 8 + 8 * (uint64_t)idx, &base) != 0 || !base)
        return main_copy;
    return base;
}

static int walk_interpreter_frames(const py_target *t, uint64_t f)
{
    const py_layout *L = t->L;
    uint8_t scratch[PY_FRAME_MAX];
    for (int n = 0; f; n++) {
        const uint8_t *b = n < PY_MAX_DEPTH ? frame_bytes(t, f, (size_t)L->if_read, scratch) : NULL;
        if (!b)
            return -1;
        uint64_t code, prev, instr;
        memcpy(&code, b + L->if_code, 8);
        code &= ~L->if_code_tag;
        memcpy(&prev, b + L->if_previous, 8);
        memcpy(&instr, b + L->if_instr, 8);
        int owner = b[L->if_owner];
        f = prev;
        if (L->if_owner_skip >= 0 && owner >= L->if_owner_skip)
            continue; /* a C-stack or interpreter entry frame */
        uint64_t start = bytecode_start(t, code, b);
        int off = instr >= start && instr - start < (1u << 30) ? (int)(instr - start) : -1;
        if (add_raw(code, off, owner) != 0)
            return -1;
    }
    return 0;
}

static int push(py_thread *th, const py_code *code, int line)
{
    if (th->depth >= PY_MAX_DEPTH)
        return -1;
    th->frames[th->depth].code = code;
    th->frames[th->depth].line = line;
    th->depth++;
    return 0;
}

/* Index of code address a among the distinct ones of this stack, adding it if new. A small
 * open-addressed table: recursion and wrappers repeat code objects, and each distinct one needs
 * its header read (and checked) only once per stack. */
static int distinct(uint64_t a, int *n)
{
    /* slot = generation << 16 | index; entries of older generations count as empty */
    static uint64_t table[DISTINCT_SLOTS];
    static uint64_t gen;
    if (*n == 0)
        gen++;
    unsigned h = (unsigned)((a >> 4) * 2654435761u) & (DISTINCT_SLOTS - 1);
    while ((table[h] >> 16) == gen) {
        int k = (int)(table[h] & 0xffff);
        if (W.addrs[k] == a)
            return k;
        h = (h + 1) & (DISTINCT_SLOTS - 1);
    }
    W.addrs[*n] = a;
    table[h] = gen << 16 | (uint64_t)*n;
    return (*n)++;
}

/* Resolve the collected frames' code objects, the headers of the distinct ones read in one
 * batch; drop 3.11+ frames that have not reached their first traceable instruction
 * (incomplete frames). */
static int resolve(const py_target *t, py_code_cache *cc, py_thread *th)
{
    const py_layout *L = t->L;
    size_t hlen = py_code_header_size(L);
    static int which[PY_MAX_DEPTH];
    int n = 0;
    for (int i = 0; i < W.n; i++)
        which[i] = distinct(W.raw[i].code, &n);
    int got = py_read_many(t->pid, W.addrs, hlen, W.hdrs, n);
    for (int k = 0; k < n; k++)
        W.codes[k] = k < got ? py_code_from_header(cc, t, W.addrs[k], W.hdrs + (size_t)k * hlen)
                             : py_code_get(cc, t, W.addrs[k]);
    for (int i = 0; i < W.n; i++) {
        const raw_frame *r = &W.raw[i];
        const py_code *c = W.codes[which[i]];
        if (!c) {
            if (L->minor >= 13 && !t->code_type)
                continue; /* f_executable need not be code; nothing to name it by */
            return -1;
        }
        if (L->minor >= 11 && r->owner != PY_FRAME_OWNED_BY_GENERATOR &&
            r->off < 2 * c->first_traceable)
            continue;
        if (push(th, c, py_code_line(t, c, r->off)) != 0)
            return -1;
    }
    return 0;
}

static int read_thread(const py_target *t, py_code_cache *cc, uint64_t ts_addr, py_thread *th,
                       uint64_t holder, uint64_t *next, uint64_t *top)
{
    const py_layout *L = t->L;
    uint8_t ts[PY_TS_MAX];
    if (py_read(t->pid, ts_addr, ts, (size_t)L->ts_read) != 0)
        return -1;
    memcpy(next, ts + L->ts_next, 8);
    th->tstate = ts_addr;
    memcpy(&th->thread_id, ts + L->ts_thread_id, 8);
    th->tid = 0;
    if (L->ts_native_thread_id >= 0) {
        uint64_t tid;
        memcpy(&tid, ts + L->ts_native_thread_id, 8);
        th->tid = (long)tid;
    } else if (t->tid_off >= 0 && th->thread_id) {
        int32_t tid;
        if (py_read(t->pid, th->thread_id + (uint64_t)t->tid_off, &tid, 4) == 0)
            th->tid = tid;
    }
    th->holds_gil = holder && holder == ts_addr;
    th->depth = 0;
    W.n = 0;
    if (newest_frame(t, ts, top) != 0)
        return -1;
    if (L->ts_frame >= 0) {
        if (walk_objects(t, *top) != 0)
            return -1;
    } else {
        load_chunk(t, ts);
        if (walk_interpreter_frames(t, *top) != 0)
            return -1;
    }
    return resolve(t, cc, th);
}

static uint64_t gil_holder(const py_target *t, uint64_t interp)
{
    const py_layout *L = t->L;
    uint64_t gil = t->runtime + (uint64_t)L->rt_gil;
    if (L->rt_gil < 0 && py_read_ptr(t->pid, interp + (uint64_t)L->is_gil_ptr, &gil) != 0)
        return 0;
    uint8_t g[24];
    if (!gil || py_read(t->pid, gil, g, sizeof(g)) != 0)
        return 0;
    int32_t locked;
    uint64_t holder;
    memcpy(&holder, g + L->gil_last_holder, 8);
    memcpy(&locked, g + L->gil_locked, 4);
    return locked ? holder : 0;
}

int py_read_stacks(const py_target *t, py_code_cache *cc, py_stacks *s, bool verify)
{
    const py_layout *L = t->L;
    uint64_t interp, tops[PY_MAX_THREADS];
    s->nthreads = 0;
    if (py_read_ptr(t->pid, t->runtime + (uint64_t)L->rt_interp_head, &interp) != 0)
        return -1;
    for (int ni = 0; interp && ni < 64; ni++) {
        uint64_t holder = gil_holder(t, interp), ts, next_interp;
        if (py_read_ptr(t->pid, interp + (uint64_t)L->is_tstate_head, &ts) != 0 ||
            py_read_ptr(t->pid, interp + (uint64_t)L->is_next, &next_interp) != 0)
            return -1;
        while (ts && s->nthreads < PY_MAX_THREADS) {
            py_thread *th = &s->threads[s->nthreads];
            th->frames = s->pool + (size_t)s->nthreads * PY_MAX_DEPTH;
            uint64_t next;
            if (read_thread(t, cc, ts, th, holder, &next, &tops[s->nthreads]) != 0)
                return -1;
            s->nthreads++;
            ts = next;
        }
        interp = next_interp;
    }
    if (!verify)
        return 0;
    for (int i = 0; i < s->nthreads; i++) {
        uint8_t ts[PY_TS_MAX];
        uint64_t top;
        if (py_read(t->pid, s->threads[i].tstate, ts, (size_t)L->ts_read) != 0 ||
            newest_frame(t, ts, &top) != 0 || top != tops[i])
            return -1;
    }
    return 0;
}

int py_tid_calibrate(py_target *t)
{
    if (t->L->ts_native_thread_id >= 0)
        return 0;
    uint64_t main_thread;
    int32_t words[512];
    if (py_read_ptr(t->pid, t->runtime + (uint64_t)t->L->rt_main_thread, &main_thread) != 0 ||
        !main_thread || py_read(t->pid, main_thread, words, sizeof(words)) != 0)
        return -1;
    /* glibc's struct pthread (the pthread_t) holds the kernel tid; for the main
     * thread that equals the pid. Its offset is the first word equal to the pid. */
    for (int i = 0; i < 512; i++)
        if (words[i] == (int32_t)t->pid) {
            t->tid_off = i * 4;
            return 0;
        }
    errno = ENOENT;
    return -1;
}
