/* debug_offsets.h - the `_Py_DebugOffsets` of a CPython 3.13+ target, parsed (debug_offsets.c).
 *
 * CPython 3.13 and later open `_PyRuntime` with a `_Py_DebugOffsets` block
 * (Include/internal/pycore_debug_offsets.h; pycore_runtime.h in 3.13): the cookie "xdebugpy",
 * PY_VERSION_HEX, the free-threaded flag, then groups of uint64 offsets (and sizes) of the
 * structures an out-of-process tool needs, written by the target's own compiler. Every field
 * of every known layout (3.13, 3.14, 3.15) is here, so that later features (memory profiling,
 * PEP 768 remote execution: issue 17) take what they need from the one parse. A field that
 * the target's layout does not have is PY_DO_ABSENT.
 *
 * Meaning of the fields that are not plain `offsetof(struct, field)`:
 *   *.size                     sizeof the structure
 *   interpreter_state.ceval_gil        offset of `ceval.gil`, a pointer to the GIL in use
 *   interpreter_state.gil_runtime_state_*   offsets of the interpreter's own `_gil` and its
 *                              `enabled` (free-threaded only, else 0), `locked`, `last_holder`
 *   unicode_object.asciiobject_size / compactunicodeobject_size   where compact text starts
 *   gc.*                       inside `struct _gc_runtime_state` (at interpreter_state.gc)
 *   debugger_support (PEP 768, 3.14+):
 *     eval_breaker, remote_debugger_support   offsets in PyThreadState
 *     remote_debugging_enabled                offset in PyInterpreterState (config.remote_debug)
 *     debugger_pending_call, debugger_script_path   offsets inside the thread's
 *                              `_PyRemoteDebuggerSupport`
 *     debugger_script_path_size               bytes of that path buffer
 * The layouts were read from the DWARF of 3.13.0 (pyenv), 3.13.15t and Debian sid's
 * python3.14d / python3.15d (gdb `ptype /o struct _Py_DebugOffsets`), which agree with the
 * CPython headers of those versions. */
#ifndef PROFD_DEBUG_OFFSETS_H
#define PROFD_DEBUG_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PY_DO_ABSENT UINT64_MAX
/* Bytes at the start of _PyRuntime that hold any known layout (3.15: 888). */
#define PY_DEBUG_OFFSETS_READ 1024
/* The newest layout known; a newer version is read with it if it passes the checks. */
#define PY_DEBUG_OFFSETS_NEWEST_MINOR 15

typedef struct py_debug_offsets {
    uint64_t version; /* PY_VERSION_HEX of the target */
    uint64_t free_threaded;
    int layout_minor; /* the layout this was read with: 13, 14 or 15 */
    bool newer;       /* version newer than PY_DEBUG_OFFSETS_NEWEST_MINOR */
    struct {
        uint64_t size, finalizing, interpreters_head;
    } runtime_state;
    struct {
        uint64_t size, id, next, threads_head, threads_main, gc, imports_modules, sysdict, builtins,
            ceval_gil, gil_runtime_state, gil_runtime_state_enabled, gil_runtime_state_locked,
            gil_runtime_state_holder, code_object_generation, tlbc_generation;
    } interpreter_state;
    struct {
        uint64_t size, prev, next, interp, current_frame, base_frame, last_profiled_frame,
            last_profiled_frame_seq, thread_id, native_thread_id, datastack_chunk, status,
            holds_gil, gil_requested, current_exception, exc_state;
    } thread_state;
    struct {
        uint64_t exc_value;
    } err_stackitem;
    struct {
        uint64_t size, previous, executable, instr_ptr, localsplus, owner, stackpointer, tlbc_index;
    } interpreter_frame;
    struct {
        uint64_t size, filename, name, qualname, linetable, firstlineno, argcount, localsplusnames,
            localspluskinds, co_code_adaptive, co_tlbc;
    } code_object;
    struct {
        uint64_t size, ob_type;
    } pyobject;
    struct {
        uint64_t size, tp_name, tp_repr, tp_flags, tp_basicsize, tp_dictoffset;
    } type_object;
    struct {
        uint64_t size, ht_cached_keys;
    } heap_type_object;
    struct {
        uint64_t size, ob_item, ob_size;
    } tuple_object, list_object;
    struct {
        uint64_t size, used, table, mask;
    } set_object;
    struct {
        uint64_t size, ma_keys, ma_values;
    } dict_object;
    struct {
        uint64_t size, ob_fval;
    } float_object;
    struct {
        uint64_t size, lv_tag, ob_digit;
    } long_object;
    struct {
        uint64_t size, ob_size, ob_sval;
    } bytes_object;
    struct {
        uint64_t size, state, length, asciiobject_size, compactunicodeobject_size;
    } unicode_object;
    struct {
        uint64_t size, collecting, frame, generation_stats_size, generation_stats;
    } gc;
    struct {
        uint64_t size, gi_name, gi_iframe, gi_frame_state;
    } gen_object;
    struct {
        uint64_t next, prev;
    } llist_node;
    struct {
        uint64_t eval_breaker, remote_debugger_support, remote_debugging_enabled,
            debugger_pending_call, debugger_script_path, debugger_script_path_size;
    } debugger_support;
} py_debug_offsets;

typedef enum py_do_result {
    PY_DO_OK = 0,
    PY_DO_NO_COOKIE, /* no "xdebugpy" at the start */
    PY_DO_VERSION,   /* the version field is not 3.13 or later */
    PY_DO_SHORT,     /* fewer bytes than the layout needs */
    PY_DO_INSANE,    /* a size or an offset that cannot be right (named in `why`) */
} py_do_result;

/* Parse the first len bytes of a target's _PyRuntime. On anything but PY_DO_OK, why holds a
 * short phrase ("thread_state.next 4096 is not inside its 832-byte structure"). A version newer
 * than the newest known layout is parsed with that layout and sets out->newer; every offset
 * must then lie inside its structure, so an incompatible layout is refused, not misread. */
py_do_result py_debug_offsets_parse(const uint8_t *blob, size_t len, py_debug_offsets *out,
                                    char *why, size_t why_len);

/* The field list of the layout of 3.minor (13..PY_DEBUG_OFFSETS_NEWEST_MINOR): up to max
 * names ("thread_state.next") and byte positions, in table order. Returns the count, -1 for an
 * unknown layout. For tests that check the table against a build's DWARF. */
int py_debug_offsets_fields(int minor, const char **names, int *pos, int max);

#endif
