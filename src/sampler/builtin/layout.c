/* layout.c - byte offsets of the CPython structures the sampler reads, per minor version.
 *
 * 3.8-3.12 carry no description of themselves, so their offsets are a table: facts of each
 * version's headers, for CPython built for x86_64 (LP64, default configuration, not
 * free-threaded, not debug):
 *   Include/internal/pycore_runtime.h   _PyRuntimeState (interpreters.head, main_thread,
 *                                       ceval.gil through 3.11)
 *   Include/internal/pycore_interp.h    PyInterpreterState (next, tstate_head / threads.head,
 *                                       ceval.gil pointer 3.12+)
 *   Include/internal/pycore_gil.h       struct _gil_runtime_state (last_holder, locked)
 *   Include/cpython/pystate.h           PyThreadState (next, frame / cframe / current_frame,
 *                                       thread_id, native_thread_id 3.11+, datastack_chunk
 *                                       and datastack_top 3.11+), _PyCFrame, _PyStackChunk
 *   Include/cpython/frameobject.h,      PyFrameObject (f_back, f_code, f_lasti) 3.8-3.10
 *   Include/internal/pycore_frame.h     _PyInterpreterFrame (f_code / f_executable, previous,
 *                                       prev_instr / instr_ptr, owner) 3.11+
 *   Include/cpython/code.h              PyCodeObject (co_firstlineno, co_filename, co_name,
 *                                       co_qualname 3.11+, co_lnotab / co_linetable,
 *                                       _co_firsttraceable, co_code_adaptive)
 *   Include/cpython/unicodeobject.h     sizeof(PyASCIIObject), sizeof(PyCompactUnicodeObject)
 *   Include/object.h, bytesobject.h     PyObject.ob_type, PyBytesObject ob_size / ob_sval
 * Each number was checked against the DWARF of the pyenv builds 3.8.18, 3.9.18, 3.10.13,
 * 3.11.7 and 3.12.1 (gdb: &((T *)0)->field), and runtime_size against the st_size of their
 * `_PyRuntime` symbol. A patch release may change that size (a field added at the end of a
 * structure) while the offsets used here hold, so a different size alone does not refuse a
 * target: locate.c then checks the offsets against the live process.
 *
 * 3.13 and later describe themselves: py_layout_from_debug_offsets() builds the layout from
 * the target's _Py_DebugOffsets (debug_offsets.c), which covers release, debug and
 * free-threaded builds alike. The few facts those offsets leave out are per minor and
 * written here, next to that function. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pysampler.h"

#define NONE (-1)

/* The default object header (not free-threaded): ob_type after ob_refcnt; a bytes object's
 * ob_size after its PyObject and ob_sval after ob_shash; a str's length after its PyObject and
 * state after hash; a thread state's interp after prev and next. Facts for 3.8-3.12. */
#define CLASSIC_OBJECTS                                                                            \
    .ob_type = 8, .bytes_size = 16, .bytes_sval = 32, .str_length = 16, .str_state = 32,           \
    .ts_interp = 16, .if_code_tag = 0, .if_tlbc_index = NONE, .co_tlbc = NONE,                     \
    .free_threaded = false

static const py_layout layouts[] = {
    {
        .minor = 8,
        .runtime_size = 1464,
        .rt_interp_head = 32, /* interpreters.head */
        .rt_main_thread = 72, /* main_thread (unsigned long, pthread_t) */
        .rt_gil = 1152,       /* ceval.gil (struct _gil_runtime_state) */
        .is_next = 0,
        .is_tstate_head = 8,
        .is_gil_ptr = NONE,
        .gil_last_holder = 8, /* _Py_atomic_address last_holder */
        .gil_locked = 16,     /* _Py_atomic_int locked */
        .ts_next = 8,
        .ts_frame = 24, /* struct _frame *frame */
        .ts_cframe = NONE,
        .ts_current_frame = NONE,
        .ts_thread_id = 176, /* unsigned long thread_id (pthread_self()) */
        .ts_native_thread_id = NONE,
        .ts_datastack_chunk = NONE,
        .ts_datastack_top = NONE,
        .ts_read = 184,
        .fo_back = 24,
        .fo_code = 32,
        .fo_lasti = 104, /* int f_lasti, byte offset */
        .co_firstlineno = 40,
        .co_filename = 104,
        .co_name = 112,
        .co_qualname = NONE,
        .co_linetable = 120, /* co_lnotab */
        .co_code_adaptive = NONE,
        .co_firsttraceable = NONE,
        .linetable = LT_LNOTAB,
        .ascii_size = 48,
        .compact_size = 72,
        .if_read = 0,
        .if_owner_skip = NONE,
        CLASSIC_OBJECTS,
    },
    {
        .minor = 9,
        .runtime_size = 656,
        .rt_interp_head = 32,
        .rt_main_thread = 72,
        .rt_gil = 352, /* ceval.gil */
        .is_next = 0,
        .is_tstate_head = 8,
        .is_gil_ptr = NONE,
        .gil_last_holder = 8,
        .gil_locked = 16,
        .ts_next = 8,
        .ts_frame = 24,
        .ts_cframe = NONE,
        .ts_current_frame = NONE,
        .ts_thread_id = 176,
        .ts_native_thread_id = NONE,
        .ts_datastack_chunk = NONE,
        .ts_datastack_top = NONE,
        .ts_read = 184,
        .fo_back = 24,
        .fo_code = 32,
        .fo_lasti = 104,
        .co_firstlineno = 40,
        .co_filename = 104,
        .co_name = 112,
        .co_qualname = NONE,
        .co_linetable = 120, /* co_lnotab */
        .co_code_adaptive = NONE,
        .co_firsttraceable = NONE,
        .linetable = LT_LNOTAB,
        .ascii_size = 48,
        .compact_size = 72,
        .if_read = 0,
        .if_owner_skip = NONE,
        CLASSIC_OBJECTS,
    },
    {
        .minor = 10,
        .runtime_size = 672,
        .rt_interp_head = 32,
        .rt_main_thread = 72,
        .rt_gil = 352,
        .is_next = 0,
        .is_tstate_head = 8,
        .is_gil_ptr = NONE,
        .gil_last_holder = 8,
        .gil_locked = 16,
        .ts_next = 8,
        .ts_frame = 24, /* PyFrameObject *frame (cframe at 48 only carries use_tracing) */
        .ts_cframe = NONE,
        .ts_current_frame = NONE,
        .ts_thread_id = 176,
        .ts_native_thread_id = NONE,
        .ts_datastack_chunk = NONE,
        .ts_datastack_top = NONE,
        .ts_read = 184,
        .fo_back = 24,
        .fo_code = 32,
        .fo_lasti = 96, /* int f_lasti, in code units (PEP 626) */
        .lasti_in_units = true,
        .co_firstlineno = 40,
        .co_filename = 104,
        .co_name = 112,
        .co_qualname = NONE,
        .co_linetable = 120, /* PEP 626 co_linetable */
        .co_code_adaptive = NONE,
        .co_firsttraceable = NONE,
        .linetable = LT_PEP626,
        .ascii_size = 48,
        .compact_size = 72,
        .if_read = 0,
        .if_owner_skip = NONE,
        CLASSIC_OBJECTS,
    },
    {
        .minor = 11,
        .runtime_size = 166688,
        .rt_interp_head = 40,
        .rt_main_thread = 80,
        .rt_gil = 360, /* ceval.gil */
        .is_next = 0,
        .is_tstate_head = 16, /* threads.head */
        .is_gil_ptr = NONE,
        .gil_last_holder = 8,
        .gil_locked = 16,
        .ts_next = 8,
        .ts_frame = NONE,
        .ts_cframe = 56, /* _PyCFrame *cframe */
        .ts_current_frame = NONE,
        .ts_thread_id = 152,
        .ts_native_thread_id = 160,
        .ts_datastack_chunk = 296, /* _PyStackChunk *datastack_chunk */
        .ts_datastack_top = 304,   /* PyObject **datastack_top */
        .ts_read = 312,
        .cf_current_frame = 8, /* after int use_tracing */
        .if_code = 32,         /* PyCodeObject *f_code */
        .if_previous = 48,
        .if_instr = 56, /* _Py_CODEUNIT *prev_instr */
        .if_owner = 69, /* char owner */
        .co_firstlineno = 72,
        .co_filename = 112,
        .co_name = 120,
        .co_qualname = 128,
        .co_linetable = 136,
        .co_code_adaptive = 184,
        .co_firsttraceable = 168,
        .linetable = LT_LOCATIONS,
        .ascii_size = 48,
        .compact_size = 72,
        .if_read = 70,         /* through owner */
        .if_owner_skip = NONE, /* 3.11 has no C-stack frames */
        CLASSIC_OBJECTS,
    },
    {
        .minor = 12,
        .runtime_size = 459944,
        .rt_interp_head = 40,
        .rt_main_thread = 64,
        .rt_gil = NONE,
        .is_next = 0,
        .is_tstate_head = 72, /* threads.head */
        .is_gil_ptr = 384,    /* ceval.gil (struct _gil_runtime_state *) */
        .gil_last_holder = 8,
        .gil_locked = 16,
        .ts_next = 8,
        .ts_frame = NONE,
        .ts_cframe = 56,
        .ts_current_frame = NONE,
        .ts_thread_id = 136,
        .ts_native_thread_id = 144,
        .ts_datastack_chunk = 232,
        .ts_datastack_top = 240,
        .ts_read = 248,
        .cf_current_frame = 0,
        .if_code = 0,
        .if_previous = 8,
        .if_instr = 56, /* prev_instr */
        .if_owner = 70,
        .co_firstlineno = 68,
        .co_filename = 112,
        .co_name = 120,
        .co_qualname = 128,
        .co_linetable = 136,
        .co_code_adaptive = 192,
        .co_firsttraceable = 176,
        .linetable = LT_LOCATIONS,
        .ascii_size = 40, /* wstr fields are gone in 3.12 */
        .compact_size = 56,
        .if_read = 71,
        .if_owner_skip = 3, /* FRAME_OWNED_BY_CSTACK */
        CLASSIC_OBJECTS,
    },
};

const py_layout *py_layout_for(int minor)
{
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
        if (layouts[i].minor == minor)
            return &layouts[i];
    return NULL;
}

/* Offsets that fit an int and the sampler's read buffers. */
static bool fits(uint64_t v, uint64_t limit)
{
    return v != PY_DO_ABSENT && v < limit;
}

int py_layout_from_debug_offsets(const py_debug_offsets *d, py_layout *L, char *why, size_t len)
{
    memset(L, 0, sizeof(*L));
    const char *missing = NULL;
#define NEED(v, limit)                                                                             \
    if (!missing && !fits(v, limit))                                                               \
        missing = #v;
    NEED(d->runtime_state.interpreters_head, 1u << 24)
    NEED(d->interpreter_state.next, 1u << 24)
    NEED(d->interpreter_state.threads_head, 1u << 24)
    NEED(d->thread_state.next, PY_TS_MAX - 8)
    NEED(d->thread_state.interp, PY_TS_MAX - 8)
    NEED(d->thread_state.current_frame, PY_TS_MAX - 8)
    NEED(d->thread_state.thread_id, PY_TS_MAX - 8)
    NEED(d->thread_state.native_thread_id, PY_TS_MAX - 8)
    NEED(d->thread_state.datastack_chunk, PY_TS_MAX - 16)
    NEED(d->interpreter_frame.previous, PY_FRAME_MAX - 8)
    NEED(d->interpreter_frame.executable, PY_FRAME_MAX - 8)
    NEED(d->interpreter_frame.instr_ptr, PY_FRAME_MAX - 8)
    NEED(d->interpreter_frame.owner, PY_FRAME_MAX - 1)
    NEED(d->code_object.filename, PY_CODE_HDR_MAX - 8)
    NEED(d->code_object.qualname, PY_CODE_HDR_MAX - 8)
    NEED(d->code_object.linetable, PY_CODE_HDR_MAX - 8)
    NEED(d->code_object.firstlineno, PY_CODE_HDR_MAX - 4)
    NEED(d->code_object.co_code_adaptive, PY_CODE_HDR_MAX + 16)
    NEED(d->pyobject.ob_type, 64)
    NEED(d->bytes_object.ob_size, 64)
    NEED(d->bytes_object.ob_sval, 64)
    NEED(d->unicode_object.length, 57)
    NEED(d->unicode_object.state, 60)
    NEED(d->unicode_object.asciiobject_size, 128)
#undef NEED
    if (missing) {
        snprintf(why, len, "%s is missing or too large for this sampler", missing + 3);
        return -1;
    }
    bool ft = d->free_threaded != 0;
    L->minor = (int)((d->version >> 16) & 0xff);
    L->runtime_size = (size_t)d->runtime_state.size;
    L->rt_interp_head = (int)d->runtime_state.interpreters_head;
    L->rt_main_thread = NONE; /* only for 3.8-3.10's tid lookup */
    L->rt_gil = NONE;
    L->is_next = (int)d->interpreter_state.next;
    L->is_tstate_head = (int)d->interpreter_state.threads_head;
    /* interp->ceval.gil points at the GIL in use; holder and locked are given as offsets of
     * the interpreter's own _gil fields, so relative to _gil they hold for any GIL. */
    uint64_t gil = d->interpreter_state.gil_runtime_state;
    uint64_t holder = d->interpreter_state.gil_runtime_state_holder;
    uint64_t locked = d->interpreter_state.gil_runtime_state_locked;
    bool gil_ok = fits(d->interpreter_state.ceval_gil, 1u << 24) && fits(gil, 1u << 24) &&
                  holder != PY_DO_ABSENT && locked != PY_DO_ABSENT && holder >= gil &&
                  locked >= gil && holder - gil < 16 && locked - gil < 20;
    L->is_gil_ptr = gil_ok ? (int)d->interpreter_state.ceval_gil : NONE;
    L->gil_last_holder = gil_ok ? (int)(holder - gil) : NONE;
    L->gil_locked = gil_ok ? (int)(locked - gil) : NONE;
    L->ts_next = (int)d->thread_state.next;
    L->ts_interp = (int)d->thread_state.interp;
    L->ts_frame = NONE;
    L->ts_cframe = NONE;
    L->ts_current_frame = (int)d->thread_state.current_frame;
    L->ts_thread_id = (int)d->thread_state.thread_id;
    L->ts_native_thread_id = (int)d->thread_state.native_thread_id;
    /* pystate.h 3.11+: datastack_top follows datastack_chunk */
    L->ts_datastack_chunk = (int)d->thread_state.datastack_chunk;
    L->ts_datastack_top = L->ts_datastack_chunk + 8;
    int ts_end = L->ts_datastack_top + 8;
    int used[] = {L->ts_next, L->ts_interp, L->ts_current_frame, L->ts_thread_id,
                  L->ts_native_thread_id};
    for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++)
        if (used[i] + 8 > ts_end)
            ts_end = used[i] + 8;
    L->ts_read = ts_end;
    L->if_code = (int)d->interpreter_frame.executable;
    L->if_previous = (int)d->interpreter_frame.previous;
    L->if_instr = (int)d->interpreter_frame.instr_ptr;
    L->if_owner = (int)d->interpreter_frame.owner;
    /* 3.14+: f_executable is a _PyStackRef whose low bits are tags (pycore_stackref.h) */
    L->if_code_tag = L->minor >= 14 ? 3 : 0;
    /* pycore_frame.h: owners from 3 (3.13 FRAME_OWNED_BY_CSTACK; 3.14+
     * FRAME_OWNED_BY_INTERPRETER, and 3.14's CSTACK) are not Python frames */
    L->if_owner_skip = 3;
    L->if_tlbc_index = NONE;
    L->co_tlbc = NONE;
    if (ft && fits(d->interpreter_frame.tlbc_index, PY_FRAME_MAX - 4) &&
        fits(d->code_object.co_tlbc, PY_CODE_HDR_MAX - 8) && d->code_object.co_tlbc != 0) {
        L->if_tlbc_index = (int)d->interpreter_frame.tlbc_index;
        L->co_tlbc = (int)d->code_object.co_tlbc;
    }
    int if_end = L->if_owner + 1;
    int fused[] = {L->if_code + 8, L->if_previous + 8, L->if_instr + 8,
                   L->if_tlbc_index >= 0 ? L->if_tlbc_index + 4 : 0};
    for (size_t i = 0; i < sizeof(fused) / sizeof(fused[0]); i++)
        if (fused[i] > if_end)
            if_end = fused[i];
    L->if_read = if_end;
    L->co_firstlineno = (int)d->code_object.firstlineno;
    L->co_filename = (int)d->code_object.filename;
    L->co_name = (int)d->code_object.name;
    L->co_qualname = (int)d->code_object.qualname;
    L->co_linetable = (int)d->code_object.linetable;
    L->co_code_adaptive = (int)d->code_object.co_code_adaptive;
    /* cpython/code.h 3.13-3.15: int _co_firsttraceable; void *co_extra; [_PyCodeArray
     * *co_tlbc (free-threaded 3.14+);] char co_code_adaptive[] */
    L->co_firsttraceable = (L->co_tlbc >= 0 ? L->co_tlbc : L->co_code_adaptive) - 16;
    L->linetable = LT_LOCATIONS;
    L->ob_type = (int)d->pyobject.ob_type;
    L->bytes_size = (int)d->bytes_object.ob_size;
    L->bytes_sval = (int)d->bytes_object.ob_sval;
    L->str_length = (int)d->unicode_object.length;
    L->str_state = (int)d->unicode_object.state;
    L->ascii_size = (int)d->unicode_object.asciiobject_size;
    /* PyCompactUnicodeObject adds utf8_length and utf8 (3.15 states its size) */
    uint64_t compact = d->unicode_object.compactunicodeobject_size;
    L->compact_size = fits(compact, 128) ? (int)compact : L->ascii_size + 16;
    L->free_threaded = ft;
    if (py_code_header_size(L) > PY_CODE_HDR_MAX || L->ts_read > PY_TS_MAX ||
        L->if_read > PY_FRAME_MAX) {
        snprintf(why, len, "its structures are larger than this sampler reads");
        return -1;
    }
    return 0;
}
