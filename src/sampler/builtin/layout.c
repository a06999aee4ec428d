/* layout.c - byte offsets of the CPython structures the sampler reads, per minor version.
 *
 * These are facts of each version's headers, for CPython built for x86_64
 * (LP64, default configuration, not free-threaded, not debug):
 *   Include/internal/pycore_runtime.h   _PyRuntimeState (interpreters.head, main_thread,
 *                                       ceval.gil through 3.11), _Py_DebugOffsets (3.13)
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
 * Each number was checked against the DWARF of the pyenv builds 3.8.18, 3.9.18, 3.10.13,
 * 3.11.7, 3.12.1 and 3.13.0 (gdb: &((T *)0)->field), and runtime_size against the
 * st_size of their `_PyRuntime` symbol (which is how a target's build is checked before
 * any of these numbers are trusted: see locate.c). */
#include <stddef.h>

#include "pysampler.h"

#define NONE (-1)

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
    },
    {
        .minor = 13,
        .runtime_size = 283320,
        .rt_interp_head = 632,
        .rt_main_thread = 656,
        .rt_gil = NONE,
        .is_next = 7264,
        .is_tstate_head = 7344,
        .is_gil_ptr = 16, /* ceval.gil */
        .gil_last_holder = 8,
        .gil_locked = 16,
        .ts_next = 8,
        .ts_frame = NONE,
        .ts_cframe = NONE,
        .ts_current_frame = 72, /* _PyInterpreterFrame *current_frame */
        .ts_thread_id = 152,
        .ts_native_thread_id = 160,
        .ts_datastack_chunk = 232,
        .ts_datastack_top = 240,
        .ts_read = 248,
        .if_code = 0, /* PyObject *f_executable */
        .if_previous = 8,
        .if_instr = 56, /* _Py_CODEUNIT *instr_ptr */
        .if_owner = 70,
        .co_firstlineno = 68,
        .co_filename = 112,
        .co_name = 120,
        .co_qualname = 128,
        .co_linetable = 136,
        .co_code_adaptive = 200,
        .co_firsttraceable = 184,
        .linetable = LT_LOCATIONS,
        .ascii_size = 40,
        .compact_size = 56,
    },
};

const py_layout *py_layout_for(int minor)
{
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
        if (layouts[i].minor == minor)
            return &layouts[i];
    return NULL;
}
