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
 * Reads are few and batched, each batch one process_vm_readv for all threads:
 * the thread states (at the addresses of the previous sample's list), the
 * newest-frame pointers (3.11-3.12: in each thread's _PyCFrame), the 3.8-3.10
 * kernel tids, and the used part of each thread's current data-stack chunk
 * (3.11+: most frames live there and are walked locally; older chunks of a
 * deep stack are read whole as the walk reaches them; frames elsewhere, such
 * as generators', are read one by one). Before 3.11 frame objects are read a
 * 4 KiB page at a time, each page reused for the rest of the walk. Per
 * thread, one batch reads the headers of the stack's distinct code objects
 * that no other thread of this sample has checked yet (code.c then answers
 * from its cache), and line numbers are memoised by (code, offset).
 *
 * Without pausing, the target keeps running while we read, so a stack can be
 * torn. Every read failure or a code pointer that is not a code object makes
 * the whole read fail; with `verify` the walker also re-reads each thread's
 * newest-frame pointer after the walk and fails if it moved. The caller
 * retries (record.c).
 *
 * Depth. A chain longer than PY_MAX_DEPTH frames is cut there: the newest
 * PY_MAX_DEPTH frames are kept (they carry the time), the thread is marked
 * truncated, and output.c writes a marker frame at its root. A deep thread
 * never costs the other threads of the tick their samples.
 *
 * Which threads. The caller's filter sees each thread once its state is read
 * (tstate address, kernel tid) and before any frame is walked; a thread it
 * declines is listed with no frames. That is how idle threads cost one small
 * read, and how pausing mode learns which threads to stop before it reads
 * them. */
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
    int off;    /* byte offset of the instruction; -1 before the first one */
    int owner;  /* 3.11+ _PyInterpreterFrame.owner; 0 before 3.11 */
    bool entry; /* oldest frame of its eval-loop call (native.c's merge needs it) */
} raw_frame;

#define CHUNK_MAX (64 * 1024)
#define CHUNK_BATCH 16 /* threads whose chunks are read in one batch */
#define OLD_CHUNKS 256
#define OLD_BYTES (4u << 20)
#define DISTINCT_SLOTS 8192 /* power of two, > 2 * PY_MAX_DEPTH */

typedef struct walk {
    raw_frame raw[PY_MAX_DEPTH];
    int n;
    uint64_t addrs[PY_MAX_DEPTH];
    uint8_t hdrs[PY_MAX_DEPTH * PY_CODE_HDR_MAX]; /* code headers, py_code_header_size() apart */
    const py_code *codes[PY_MAX_DEPTH];           /* the code object at addrs[k] */
    bool truncated;                               /* the chain went on past PY_MAX_DEPTH */
    /* 3.11+: copy of the used part of the thread's current data-stack chunk */
    uint8_t chunk[CHUNK_MAX];
    const uint8_t *chunkp;                   /* chunk, or the batch's copy of this thread's chunk */
    uint64_t chunk_lo, chunk_hi, chunk_prev; /* chunk_prev: the previous (older) chunk */
    /* older chunks, loaded as the walk reaches them (deep stacks) */
    uint8_t old[OLD_BYTES];
    size_t old_used;
    int nold;
    uint64_t old_lo[OLD_CHUNKS], old_hi[OLD_CHUNKS];
    size_t old_at[OLD_CHUNKS];
    uint64_t old_next; /* the next older chunk to load, 0 none */
} walk;

static walk W; /* one sampler thread: static scratch keeps the stack small */

/* 1 when the walk is full (the frame is not added and the stack is truncated). */
static int add_raw(uint64_t code, int off, int owner)
{
    if (W.n >= PY_MAX_DEPTH) {
        W.truncated = true;
        return 1;
    }
    W.raw[W.n].code = code;
    W.raw[W.n].off = off;
    W.raw[W.n].owner = owner;
    W.raw[W.n].entry = false;
    W.n++;
    return 0;
}

/* 3.8-3.10 frames are heap objects, one read each; but the frames of one stack often sit in
 * the same few pages (obmalloc pools, the per-code zombie frames), so whole 4 KiB pages are read
 * and kept for the rest of this thread's walk: one read per page touched instead of per frame. */
#define PAGE 4096u
#define NPAGES 64
static struct {
    uint64_t page[NPAGES];
    unsigned gen[NPAGES], now;
    uint8_t data[NPAGES][PAGE];
} PC;

static const uint8_t *frame_object(const py_target *t, uint64_t f, size_t len, uint8_t *scratch)
{
    uint64_t page = f & ~(uint64_t)(PAGE - 1);
    if (f + len <= page + PAGE) {
        unsigned i = (unsigned)(page / PAGE) & (NPAGES - 1);
        if (PC.page[i] == page && PC.gen[i] == PC.now)
            return PC.data[i] + (f - page);
        if (py_read(t->pid, page, PC.data[i], PAGE) == 0) {
            PC.page[i] = page;
            PC.gen[i] = PC.now;
            return PC.data[i] + (f - page);
        }
        PC.gen[i] = 0;
    }
    return py_read(t->pid, f, scratch, len) == 0 ? scratch : NULL;
}

static int walk_objects(const py_target *t, uint64_t f)
{
    const py_layout *L = t->L;
    uint8_t scratch[128];
    PC.now++;
    if (PC.now == 0)
        PC.now = 1;
    while (f) {
        if (W.n >= PY_MAX_DEPTH) {
            W.truncated = true;
            return 0;
        }
        const uint8_t *b = frame_object(t, f, (size_t)L->fo_lasti + 4, scratch);
        if (!b)
            return -1;
        uint64_t code, back;
        int32_t lasti;
        memcpy(&code, b + L->fo_code, 8);
        memcpy(&back, b + L->fo_back, 8);
        memcpy(&lasti, b + L->fo_lasti, 4);
        if (add_raw(code, L->lasti_in_units && lasti >= 0 ? lasti * 2 : lasti, 0) != 0)
            return 0;
        W.raw[W.n - 1].entry = true; /* before 3.11 each frame has its own eval loop call */
        f = back;
    }
    return 0;
}

/* Copy [chunk, top) of the thread's data stack, where most 3.11+ frames live. */
/* The used part [chunk, top) of a thread's current data-stack chunk; 0 if none or too big. */
static size_t chunk_span(const py_target *t, const uint8_t *ts, uint64_t *chunk)
{
    const py_layout *L = t->L;
    uint64_t top;
    if (L->ts_datastack_chunk < 0)
        return 0;
    memcpy(chunk, ts + L->ts_datastack_chunk, 8);
    memcpy(&top, ts + L->ts_datastack_top, 8);
    if (!*chunk || top <= *chunk || top - *chunk > CHUNK_MAX)
        return 0;
    return (size_t)(top - *chunk);
}

/* The chunks of the first CHUNK_BATCH walked threads, read in one process_vm_readv. */
static struct {
    uint8_t buf[CHUNK_BATCH][CHUNK_MAX];
    uint64_t addr[CHUNK_BATCH];
    size_t len[CHUNK_BATCH];
    int got;
} CB;

static void chunks_prefetch(const py_target *t, const uint8_t *ts, size_t stride, int n)
{
    static uint8_t *bufs[CHUNK_BATCH];
    int m = n < CHUNK_BATCH ? n : CHUNK_BATCH;
    for (int k = 0; k < m; k++) {
        CB.len[k] = chunk_span(t, ts + (size_t)k * stride, &CB.addr[k]);
        bufs[k] = CB.buf[k];
    }
    CB.got = 0;
    while (CB.got < m && CB.len[CB.got])
        CB.got++; /* a thread without one ends the batch (rare: no Python frame yet) */
    CB.got = CB.got ? py_read_vec(t->pid, CB.addr, CB.len, bufs, CB.got) : 0;
}

static void load_chunk(const py_target *t, const uint8_t *ts, int k)
{
    const py_layout *L = t->L;
    uint64_t chunk, top;
    W.chunk_lo = W.chunk_hi = 0;
    if (k < CB.got) {
        W.nold = 0;
        W.old_used = 0;
        W.chunkp = CB.buf[k];
        W.chunk_lo = CB.addr[k];
        W.chunk_hi = CB.addr[k] + CB.len[k];
        memcpy(&W.old_next, W.chunkp, 8); /* _PyStackChunk.previous */
        return;
    }
    W.nold = 0;
    W.old_used = 0;
    W.old_next = 0;
    if (L->ts_datastack_chunk < 0)
        return;
    memcpy(&chunk, ts + L->ts_datastack_chunk, 8);
    memcpy(&top, ts + L->ts_datastack_top, 8);
    if (!chunk || top <= chunk || top - chunk > sizeof(W.chunk))
        return; /* none, or unusually big: read frame by frame */
    if (py_read(t->pid, chunk, W.chunk, (size_t)(top - chunk)) == 0) {
        W.chunkp = W.chunk;
        W.chunk_lo = chunk;
        W.chunk_hi = top;
        memcpy(&W.old_next, W.chunk, 8); /* _PyStackChunk.previous */
    }
}

/* Load the next older data-stack chunk: a _PyStackChunk is {previous, size (bytes), top (used
 * slots, saved when a newer chunk was pushed), data[]}. Two reads per chunk of ~16 KiB, where
 * the frames in it would cost one read each. 0 when there is none left (or it looks wrong). */
static int load_older(const py_target *t)
{
    uint64_t hdr[3], c = W.old_next;
    W.old_next = 0;
    if (!c || W.nold >= OLD_CHUNKS || py_read(t->pid, c, hdr, sizeof(hdr)) != 0)
        return 0;
    uint64_t used = 24 + hdr[2] * 8;
    if (used > hdr[1] || used > OLD_BYTES - W.old_used || used > (1u << 24))
        return 0;
    if (py_read(t->pid, c, W.old + W.old_used, (size_t)used) != 0)
        return 0;
    W.old_lo[W.nold] = c;
    W.old_hi[W.nold] = c + used;
    W.old_at[W.nold] = W.old_used;
    W.nold++;
    W.old_used += (size_t)used;
    W.old_next = hdr[0];
    return 1;
}

/* Frame bytes from an older chunk, loading older chunks while the walk goes down; NULL when
 * no chunk holds it (a generator's frame lives in the generator object). */
static const uint8_t *older_bytes(const py_target *t, uint64_t f, size_t len)
{
    if (!W.chunk_hi)
        return NULL;
    for (int k = W.nold - 1; k >= 0; k--)
        if (f >= W.old_lo[k] && f + len <= W.old_hi[k])
            return W.old + W.old_at[k] + (f - W.old_lo[k]);
    while (load_older(t)) {
        int k = W.nold - 1;
        if (f >= W.old_lo[k] && f + len <= W.old_hi[k])
            return W.old + W.old_at[k] + (f - W.old_lo[k]);
    }
    return NULL;
}

static const uint8_t *frame_bytes(const py_target *t, uint64_t f, size_t len, uint8_t *scratch)
{
    if (f >= W.chunk_lo && f + len <= W.chunk_hi)
        return W.chunkp + (f - W.chunk_lo);
    const uint8_t *old = older_bytes(t, f, len);
    if (old)
        return old;
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
        if (n >= 4 * PY_MAX_DEPTH || W.n >= PY_MAX_DEPTH) {
            W.truncated = true; /* (shims are skipped, so count the links too) */
            return 0;
        }
        const uint8_t *b = frame_bytes(t, f, (size_t)L->if_read, scratch);
        if (!b)
            return -1;
        uint64_t code, prev, instr;
        memcpy(&code, b + L->if_code, 8);
        code &= ~L->if_code_tag;
        memcpy(&prev, b + L->if_previous, 8);
        memcpy(&instr, b + L->if_instr, 8);
        int owner = b[L->if_owner];
        f = prev;
        if (L->if_owner_skip >= 0 && owner >= L->if_owner_skip) {
            if (W.n > 0) /* a C-stack or interpreter entry shim: the frame above it starts an
                          * eval loop call */
                W.raw[W.n - 1].entry = true;
            continue;
        }
        uint64_t start = bytecode_start(t, code, b);
        int off = instr >= start && instr - start < (1u << 30) ? (int)(instr - start) : -1;
        if (add_raw(code, off, owner) != 0)
            return 0;
        if (L->minor == 11) /* 3.11: bool is_entry sits just before char owner */
            W.raw[W.n - 1].entry = b[L->if_owner - 1] != 0;
    }
    if (W.n > 0)
        W.raw[W.n - 1].entry = true; /* the oldest frame always is */
    return 0;
}

static int push(py_thread *th, const py_code *code, int line, bool entry)
{
    if (th->depth >= PY_MAX_DEPTH)
        return -1;
    th->frames[th->depth].code = code;
    th->frames[th->depth].line = line;
    th->frames[th->depth].entry = entry;
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

/* Line of an instruction, memoised by (code entry, offset): decoding a location table costs
 * more than the rest of the frame's work, and a sampled stack is mostly the same frames at the
 * same instructions as the sample before. Code entries live until the end of the capture, so a
 * pointer is a stable key. */
#define LINE_SLOTS 8192
static int line_of(const py_target *t, const py_code *c, int off)
{
    static struct {
        const py_code *code;
        int off, line;
    } memo[LINE_SLOTS];
    unsigned h =
        (unsigned)(((uintptr_t)c >> 4) * 2654435761u ^ (unsigned)off * 40503u) & (LINE_SLOTS - 1);
    if (memo[h].code == c && memo[h].off == off)
        return memo[h].line;
    int line = py_code_line(t, c, off);
    memo[h].code = c;
    memo[h].off = off;
    memo[h].line = line;
    return line;
}

/* Resolve the collected frames' code objects, the headers of the distinct ones read in one
 * batch; drop 3.11+ frames that have not reached their first traceable instruction
 * (incomplete frames). */
static int resolve(const py_target *t, py_code_cache *cc, py_thread *th)
{
    const py_layout *L = t->L;
    size_t hlen = py_code_header_size(L);
    static int which[PY_MAX_DEPTH];
    static uint64_t unread[PY_MAX_DEPTH];
    static int slot[PY_MAX_DEPTH];
    int n = 0, m = 0;
    for (int i = 0; i < W.n; i++)
        which[i] = distinct(W.raw[i].code, &n);
    for (int k = 0; k < n; k++) /* checked by another thread of this sample: no read */
        if ((W.codes[k] = py_code_recent(cc, W.addrs[k])) == NULL) {
            slot[m] = k;
            unread[m++] = W.addrs[k];
        }
    int got = py_read_many(t->pid, unread, hlen, W.hdrs, m);
    for (int j = 0; j < m; j++)
        W.codes[slot[j]] = j < got
                               ? py_code_from_header(cc, t, unread[j], W.hdrs + (size_t)j * hlen)
                               : py_code_get(cc, t, unread[j]);
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
        if (push(th, c, line_of(t, c, r->off), r->entry) != 0)
            return -1;
    }
    return 0;
}

/* Thread states of the previous read, read again in one batch at the start of the next: the
 * thread list rarely changes between samples, and a list of 100 threads then costs one
 * process_vm_readv instead of 100. The list is still followed through the fresh bytes' next
 * pointers; an address that is not the expected one is read on its own. */
#define TS_MAX PY_TS_MAX
static struct {
    int n, got, at;
    uint64_t addr[PY_MAX_THREADS];
    uint8_t bytes[PY_MAX_THREADS * TS_MAX];
    uint8_t all[PY_MAX_THREADS * TS_MAX]; /* this read's states of every thread */
    uint8_t cur[PY_MAX_THREADS * TS_MAX]; /* ... of the threads walked, in walk order */
    uint64_t vaddr[PY_MAX_THREADS];       /* the verify pass's batch */
    uint8_t vbytes[PY_MAX_THREADS * TS_MAX];
} TS;

static void tstates_prefetch(const py_target *t)
{
    TS.got = TS.n ? py_read_many(t->pid, TS.addr, (size_t)t->L->ts_read, TS.bytes, TS.n) : 0;
    TS.at = 0;
}

static int tstate_bytes(const py_target *t, uint64_t addr, uint8_t *out)
{
    size_t len = (size_t)t->L->ts_read;
    int k = TS.at++;
    if (k < PY_MAX_THREADS) {
        if (k < TS.got && TS.addr[k] == addr) {
            memcpy(out, TS.bytes + (size_t)k * len, len);
            return 0;
        }
        TS.addr[k] = addr; /* for the next sample's batch */
        TS.got = k;        /* later entries are out of step now */
    }
    return py_read(t->pid, addr, out, len);
}

/* The thread's state (into ts) and identity; before 3.11 the kernel tid is read afterwards,
 * for all threads at once (tids_batch). */
static int thread_head(const py_target *t, uint64_t ts_addr, py_thread *th, uint64_t holder,
                       uint64_t *next, uint8_t *ts)
{
    const py_layout *L = t->L;
    if (tstate_bytes(t, ts_addr, ts) != 0)
        return -1;
    memcpy(next, ts + L->ts_next, 8);
    th->tstate = ts_addr;
    memcpy(&th->thread_id, ts + L->ts_thread_id, 8);
    th->tid = 0;
    if (L->ts_native_thread_id >= 0) {
        uint64_t tid;
        memcpy(&tid, ts + L->ts_native_thread_id, 8);
        th->tid = (long)tid;
    }
    th->holds_gil = holder && holder == ts_addr;
    th->depth = 0;
    th->truncated = false;
    th->skipped = false;
    return 0;
}

/* 3.8-3.10: the kernel tids from glibc's struct pthread of each thread, in one batch. */
static void tids_batch(const py_target *t, py_stacks *s)
{
    static uint64_t addrs[PY_MAX_THREADS];
    static int at[PY_MAX_THREADS];
    int32_t tids[PY_MAX_THREADS];
    if (t->L->ts_native_thread_id >= 0 || t->tid_off < 0)
        return;
    int m = 0;
    for (int i = 0; i < s->nthreads; i++)
        if (s->threads[i].thread_id) {
            at[m] = i;
            addrs[m++] = s->threads[i].thread_id + (uint64_t)t->tid_off;
        }
    int got = py_read_many(t->pid, addrs, 4, (uint8_t *)tids, m);
    for (int j = 0; j < got; j++)
        s->threads[at[j]].tid = tids[j];
}

/* Newest frames of n threads from their state bytes; on 3.11-3.12 the pointer sits in the
 * thread's current _PyCFrame, elsewhere: one batch for all of them. */
static int newest_frames(const py_target *t, const uint8_t *ts, size_t stride, int n,
                         uint64_t *tops)
{
    const py_layout *L = t->L;
    if (L->ts_frame >= 0 || L->ts_current_frame >= 0) {
        for (int k = 0; k < n; k++)
            newest_frame(t, ts + (size_t)k * stride, &tops[k]);
        return 0;
    }
    static uint64_t addrs[PY_MAX_THREADS];
    static int at[PY_MAX_THREADS];
    int m = 0;
    for (int k = 0; k < n; k++) {
        uint64_t cframe;
        memcpy(&cframe, ts + (size_t)k * stride + L->ts_cframe, 8);
        tops[k] = 0;
        if (cframe) {
            at[m] = k;
            addrs[m++] = cframe + (uint64_t)L->cf_current_frame;
        }
    }
    uint64_t got[PY_MAX_THREADS];
    if (py_read_many(t->pid, addrs, 8, (uint8_t *)got, m) != m)
        return -1;
    for (int j = 0; j < m; j++)
        tops[at[j]] = got[j];
    return 0;
}

static int thread_walk(const py_target *t, py_code_cache *cc, py_thread *th, const uint8_t *ts,
                       uint64_t top, int k)
{
    W.n = 0;
    W.truncated = false;
    if (t->L->ts_frame >= 0) {
        if (walk_objects(t, top) != 0)
            return -1;
    } else {
        load_chunk(t, ts, k);
        if (walk_interpreter_frames(t, top) != 0)
            return -1;
    }
    th->truncated = W.truncated;
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

int py_read_stacks(const py_target *t, py_code_cache *cc, py_stacks *s, bool verify,
                   const py_filter *want)
{
    const py_layout *L = t->L;
    static uint64_t tops[PY_MAX_THREADS];
    static int walked[PY_MAX_THREADS];
    uint64_t interp;
    s->nthreads = 0;
    py_code_cache_tick(cc);
    tstates_prefetch(t);
    if (py_read_ptr(t->pid, t->runtime + (uint64_t)L->rt_interp_head, &interp) != 0)
        return -1;
    /* 1: every thread's state, and which ones to walk */
    int n = 0;
    for (int ni = 0; interp && ni < 64; ni++) {
        uint64_t holder = gil_holder(t, interp), ts, next_interp;
        if (py_read_ptr(t->pid, interp + (uint64_t)L->is_tstate_head, &ts) != 0 ||
            py_read_ptr(t->pid, interp + (uint64_t)L->is_next, &next_interp) != 0)
            return -1;
        while (ts && s->nthreads < PY_MAX_THREADS) {
            py_thread *th = &s->threads[s->nthreads];
            th->frames = s->pool + (size_t)s->nthreads * PY_MAX_DEPTH;
            uint64_t next;
            if (thread_head(t, ts, th, holder, &next, TS.all + (size_t)s->nthreads * TS_MAX) != 0)
                return -1;
            s->nthreads++;
            ts = next;
        }
        interp = next_interp;
    }
    TS.n = TS.at < PY_MAX_THREADS ? TS.at : PY_MAX_THREADS;
    tids_batch(t, s);
    for (int i = 0; i < s->nthreads; i++) {
        py_thread *th = &s->threads[i];
        th->skipped = want && want->fn && !want->fn(want->ctx, th);
        if (th->skipped)
            continue;
        memcpy(TS.cur + (size_t)n * TS_MAX, TS.all + (size_t)i * TS_MAX, TS_MAX);
        walked[n++] = i;
    }
    /* 2: their newest frames, in one batch; 3: the walks */
    if (newest_frames(t, TS.cur, TS_MAX, n, tops) != 0)
        return -1;
    chunks_prefetch(t, TS.cur, TS_MAX, n);
    for (int k = 0; k < n; k++)
        if (thread_walk(t, cc, &s->threads[walked[k]], TS.cur + (size_t)k * TS_MAX, tops[k], k) !=
            0)
            return -1;
    if (!verify)
        return 0;
    /* The walked threads' newest frames must not have moved: two batches. */
    for (int k = 0; k < n; k++)
        TS.vaddr[k] = s->threads[walked[k]].tstate;
    uint64_t now[PY_MAX_THREADS];
    if (py_read_many(t->pid, TS.vaddr, (size_t)L->ts_read, TS.vbytes, n) != n ||
        newest_frames(t, TS.vbytes, (size_t)L->ts_read, n, now) != 0)
        return -1;
    for (int k = 0; k < n; k++)
        if (now[k] != tops[k])
            return -1;
    return 0;
}

int py_tid_calibrate(py_target *t, pid_t main_tid)
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
        if (words[i] == (int32_t)main_tid) {
            t->tid_off = i * 4;
            return 0;
        }
    errno = ENOENT;
    return -1;
}
