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
 * Each structure is read with one process_vm_readv of just the bytes needed.
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

static int push(py_thread *th, const py_code *code, int line)
{
    if (th->depth >= PY_MAX_DEPTH)
        return -1;
    th->frames[th->depth].code = code;
    th->frames[th->depth].line = line;
    th->depth++;
    return 0;
}

static int walk_objects(const py_target *t, py_code_cache *cc, uint64_t f, py_thread *th)
{
    const py_layout *L = t->L;
    uint8_t b[128];
    for (int n = 0; f; n++) {
        if (n > PY_MAX_DEPTH || py_read(t->pid, f, b, (size_t)L->fo_lasti + 4) != 0)
            return -1;
        uint64_t code, back;
        int32_t lasti;
        memcpy(&code, b + L->fo_code, 8);
        memcpy(&back, b + L->fo_back, 8);
        memcpy(&lasti, b + L->fo_lasti, 4);
        const py_code *c = py_code_get(cc, t, code);
        if (!c)
            return -1;
        int off = L->lasti_in_units && lasti >= 0 ? lasti * 2 : lasti;
        if (push(th, c, py_code_line(t, c, off)) != 0)
            return -1;
        f = back;
    }
    return 0;
}

static int walk_interpreter_frames(const py_target *t, py_code_cache *cc, uint64_t f,
                                   py_thread *th)
{
    const py_layout *L = t->L;
    uint8_t b[80];
    for (int n = 0; f; n++) {
        if (n > PY_MAX_DEPTH || py_read(t->pid, f, b, (size_t)L->if_owner + 1) != 0)
            return -1;
        uint64_t code, prev, instr;
        memcpy(&code, b + L->if_code, 8);
        memcpy(&prev, b + L->if_previous, 8);
        memcpy(&instr, b + L->if_instr, 8);
        int owner = b[L->if_owner];
        f = prev;
        if (owner == PY_FRAME_OWNED_BY_CSTACK && L->minor >= 12)
            continue;
        const py_code *c = py_code_get(cc, t, code);
        if (!c) {
            if (L->minor >= 13 && !t->code_type)
                continue; /* f_executable need not be code; nothing to name it by */
            return -1;
        }
        uint64_t start = code + (uint64_t)L->co_code_adaptive;
        if (owner != PY_FRAME_OWNED_BY_GENERATOR &&
            instr < start + 2 * (uint64_t)(c->first_traceable > 0 ? c->first_traceable : 0))
            continue; /* incomplete frame */
        int off = instr >= start ? (int)(instr - start) : -1;
        if (push(th, c, py_code_line(t, c, off)) != 0)
            return -1;
    }
    return 0;
}

static int read_thread(const py_target *t, py_code_cache *cc, uint64_t ts_addr, py_thread *th,
                       uint64_t holder, uint64_t *next, uint64_t *top)
{
    const py_layout *L = t->L;
    uint8_t ts[256];
    if (py_read(t->pid, ts_addr, ts, 200) != 0)
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
    if (newest_frame(t, ts, top) != 0)
        return -1;
    return L->ts_frame >= 0 ? walk_objects(t, cc, *top, th)
                            : walk_interpreter_frames(t, cc, *top, th);
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
        uint8_t ts[256];
        uint64_t top;
        if (py_read(t->pid, s->threads[i].tstate, ts, 200) != 0 || newest_frame(t, ts, &top) != 0 ||
            top != tops[i])
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
