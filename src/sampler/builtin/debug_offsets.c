/* debug_offsets.c - parsing the `_Py_DebugOffsets` that open a 3.13+ target's `_PyRuntime`.
 *
 * The block is a cookie followed by uint64 fields whose order differs per minor version
 * (3.14 added groups and fields in the middle, 3.15 more), so each known layout is one column
 * of the table below: the byte position of every field in 3.13, 3.14 and 3.15, -1 where that
 * version has no such field. One row per field keeps each fact in one place. The table was
 * taken from the DWARF of real builds (see debug_offsets.h) and is checked against it by
 * tests/sampler_builtin/debug_offsets_dwarf.sh.
 *
 * Nothing read is trusted blindly: the cookie must match, the version must be 3.13+, every
 * size must be plausible and every offset that belongs to a structure must lie inside that
 * structure's size as the same block states it. A version newer than the newest known layout
 * is read with that layout and accepted only if all of this holds (locate.c then also checks
 * the live process against it, and warns once). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "debug_offsets.h"

#define NLAYOUTS 3 /* 3.13, 3.14, 3.15 */
#define NO_BOUND UINT16_MAX

typedef struct row {
    const char *name;
    uint16_t dst;   /* offsetof(py_debug_offsets, field) */
    uint16_t bound; /* offsetof the size of the structure the offset points into, or NO_BOUND */
    int16_t at[NLAYOUTS];
} row;

#define OFF(f) ((uint16_t)offsetof(py_debug_offsets, f))
/* RAW: a value with no structure to check it against; IN: an offset inside group g */
#define RAW(f, a, b, c)                                                                            \
    {                                                                                              \
#f, OFF(f), NO_BOUND,                                                                      \
        {                                                                                          \
            a, b, c                                                                                \
        }                                                                                          \
    }
#define IN(f, g, a, b, c)                                                                          \
    {                                                                                              \
#f, OFF(f), OFF(g.size),                                                                   \
        {                                                                                          \
            a, b, c                                                                                \
        }                                                                                          \
    }

static const row rows[] = {
    RAW(version, 8, 8, 8),
    RAW(free_threaded, 16, 16, 16),
    RAW(runtime_state.size, 24, 24, 24),
    IN(runtime_state.finalizing, runtime_state, 32, 32, 32),
    IN(runtime_state.interpreters_head, runtime_state, 40, 40, 40),
    RAW(interpreter_state.size, 48, 48, 48),
    IN(interpreter_state.id, interpreter_state, 56, 56, 56),
    IN(interpreter_state.next, interpreter_state, 64, 64, 64),
    IN(interpreter_state.threads_head, interpreter_state, 72, 72, 72),
    IN(interpreter_state.threads_main, interpreter_state, -1, 80, 80),
    IN(interpreter_state.gc, interpreter_state, 80, 88, 88),
    IN(interpreter_state.imports_modules, interpreter_state, 88, 96, 96),
    IN(interpreter_state.sysdict, interpreter_state, 96, 104, 104),
    IN(interpreter_state.builtins, interpreter_state, 104, 112, 112),
    IN(interpreter_state.ceval_gil, interpreter_state, 112, 120, 120),
    IN(interpreter_state.gil_runtime_state, interpreter_state, 120, 128, 128),
    IN(interpreter_state.gil_runtime_state_enabled, interpreter_state, 128, 136, 136),
    IN(interpreter_state.gil_runtime_state_locked, interpreter_state, 136, 144, 144),
    IN(interpreter_state.gil_runtime_state_holder, interpreter_state, 144, 152, 152),
    IN(interpreter_state.code_object_generation, interpreter_state, -1, 160, 160),
    IN(interpreter_state.tlbc_generation, interpreter_state, -1, 168, 168),
    RAW(thread_state.size, 152, 176, 176),
    IN(thread_state.prev, thread_state, 160, 184, 184),
    IN(thread_state.next, thread_state, 168, 192, 192),
    IN(thread_state.interp, thread_state, 176, 200, 200),
    IN(thread_state.current_frame, thread_state, 184, 208, 208),
    IN(thread_state.base_frame, thread_state, -1, -1, 216),
    IN(thread_state.last_profiled_frame, thread_state, -1, -1, 224),
    IN(thread_state.last_profiled_frame_seq, thread_state, -1, -1, 232),
    IN(thread_state.thread_id, thread_state, 192, 216, 240),
    IN(thread_state.native_thread_id, thread_state, 200, 224, 248),
    IN(thread_state.datastack_chunk, thread_state, 208, 232, 256),
    IN(thread_state.status, thread_state, 216, 240, 264),
    IN(thread_state.holds_gil, thread_state, -1, -1, 272),
    IN(thread_state.gil_requested, thread_state, -1, -1, 280),
    IN(thread_state.current_exception, thread_state, -1, -1, 288),
    IN(thread_state.exc_state, thread_state, -1, -1, 296),
    RAW(err_stackitem.exc_value, -1, -1, 304),
    RAW(interpreter_frame.size, 224, 248, 312),
    IN(interpreter_frame.previous, interpreter_frame, 232, 256, 320),
    IN(interpreter_frame.executable, interpreter_frame, 240, 264, 328),
    IN(interpreter_frame.instr_ptr, interpreter_frame, 248, 272, 336),
    IN(interpreter_frame.localsplus, interpreter_frame, 256, 280, 344),
    IN(interpreter_frame.owner, interpreter_frame, 264, 288, 352),
    IN(interpreter_frame.stackpointer, interpreter_frame, -1, 296, 360),
    IN(interpreter_frame.tlbc_index, interpreter_frame, -1, 304, 368),
    RAW(code_object.size, 272, 312, 376),
    IN(code_object.filename, code_object, 280, 320, 384),
    IN(code_object.name, code_object, 288, 328, 392),
    IN(code_object.qualname, code_object, 296, 336, 400),
    IN(code_object.linetable, code_object, 304, 344, 408),
    IN(code_object.firstlineno, code_object, 312, 352, 416),
    IN(code_object.argcount, code_object, 320, 360, 424),
    IN(code_object.localsplusnames, code_object, 328, 368, 432),
    IN(code_object.localspluskinds, code_object, 336, 376, 440),
    IN(code_object.co_code_adaptive, code_object, 344, 384, 448),
    IN(code_object.co_tlbc, code_object, -1, 392, 456),
    RAW(pyobject.size, 352, 400, 464),
    IN(pyobject.ob_type, pyobject, 360, 408, 472),
    RAW(type_object.size, 368, 416, 480),
    IN(type_object.tp_name, type_object, 376, 424, 488),
    IN(type_object.tp_repr, type_object, 384, 432, 496),
    IN(type_object.tp_flags, type_object, 392, 440, 504),
    IN(type_object.tp_basicsize, type_object, -1, -1, 512),
    IN(type_object.tp_dictoffset, type_object, -1, -1, 520),
    RAW(heap_type_object.size, -1, -1, 528),
    IN(heap_type_object.ht_cached_keys, heap_type_object, -1, -1, 536),
    RAW(tuple_object.size, 400, 448, 544),
    IN(tuple_object.ob_item, tuple_object, 408, 456, 552),
    IN(tuple_object.ob_size, tuple_object, 416, 464, 560),
    RAW(list_object.size, 424, 472, 568),
    IN(list_object.ob_item, list_object, 432, 480, 576),
    IN(list_object.ob_size, list_object, 440, 488, 584),
    RAW(set_object.size, -1, 496, 592),
    IN(set_object.used, set_object, -1, 504, 600),
    IN(set_object.table, set_object, -1, 512, 608),
    IN(set_object.mask, set_object, -1, 520, 616),
    RAW(dict_object.size, 448, 528, 624),
    IN(dict_object.ma_keys, dict_object, 456, 536, 632),
    IN(dict_object.ma_values, dict_object, 464, 544, 640),
    RAW(float_object.size, 472, 552, 648),
    IN(float_object.ob_fval, float_object, 480, 560, 656),
    RAW(long_object.size, 488, 568, 664),
    IN(long_object.lv_tag, long_object, 496, 576, 672),
    IN(long_object.ob_digit, long_object, 504, 584, 680),
    RAW(bytes_object.size, 512, 592, 688),
    IN(bytes_object.ob_size, bytes_object, 520, 600, 696),
    IN(bytes_object.ob_sval, bytes_object, 528, 608, 704),
    RAW(unicode_object.size, 536, 616, 712),
    IN(unicode_object.state, unicode_object, 544, 624, 720),
    IN(unicode_object.length, unicode_object, 552, 632, 728),
    IN(unicode_object.asciiobject_size, unicode_object, 560, 640, 736),
    IN(unicode_object.compactunicodeobject_size, unicode_object, -1, -1, 744),
    RAW(gc.size, 568, 648, 752),
    IN(gc.collecting, gc, 576, 656, 760),
    IN(gc.frame, gc, -1, -1, 768),
    RAW(gc.generation_stats_size, -1, -1, 776),
    IN(gc.generation_stats, gc, -1, -1, 784),
    RAW(gen_object.size, -1, 664, 792),
    IN(gen_object.gi_name, gen_object, -1, 672, 800),
    IN(gen_object.gi_iframe, gen_object, -1, 680, 808),
    IN(gen_object.gi_frame_state, gen_object, -1, 688, 816),
    RAW(llist_node.next, -1, 696, 824),
    RAW(llist_node.prev, -1, 704, 832),
    IN(debugger_support.eval_breaker, thread_state, -1, 712, 840),
    IN(debugger_support.remote_debugger_support, thread_state, -1, 720, 848),
    IN(debugger_support.remote_debugging_enabled, interpreter_state, -1, 728, 856),
    RAW(debugger_support.debugger_pending_call, -1, 736, 864),
    RAW(debugger_support.debugger_script_path, -1, 744, 872),
    RAW(debugger_support.debugger_script_path_size, -1, 752, 880),
};

/* Total bytes of each layout (the struct's sizeof). */
static const size_t layout_size[NLAYOUTS] = {584, 760, 888};

#define MAX_STRUCT (64u << 20) /* no CPython structure comes near 64 MiB */

static py_do_result insane(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static py_do_result insane(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return PY_DO_INSANE;
}

static uint64_t field(const py_debug_offsets *d, uint16_t off)
{
    uint64_t v;
    memcpy(&v, (const uint8_t *)d + off, sizeof(v));
    return v;
}

/* Sizes plausible, offsets inside their structures. */
static py_do_result check(const py_debug_offsets *d, int col, char *why, size_t len)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const row *r = &rows[i];
        if (r->at[col] < 0)
            continue;
        uint64_t v = field(d, r->dst);
        size_t n = strlen(r->name);
        if (n > 5 && strcmp(r->name + n - 5, ".size") == 0 && (v == 0 || v > MAX_STRUCT))
            return insane(why, len, "%s %llu is not a plausible size", r->name,
                          (unsigned long long)v);
        if (r->bound == NO_BOUND)
            continue;
        uint64_t size = field(d, r->bound);
        if (v >= size)
            return insane(why, len, "%s %llu is not inside its %llu-byte structure", r->name,
                          (unsigned long long)v, (unsigned long long)size);
    }
    if (d->free_threaded > 1)
        return insane(why, len, "free_threaded %llu is neither 0 nor 1",
                      (unsigned long long)d->free_threaded);
    return PY_DO_OK;
}

py_do_result py_debug_offsets_parse(const uint8_t *blob, size_t len, py_debug_offsets *out,
                                    char *why, size_t why_len)
{
    memset(out, 0xff, sizeof(*out)); /* every field PY_DO_ABSENT */
    out->newer = false;
    out->layout_minor = -1;
    snprintf(why, why_len, "ok");
    if (len < 16 || memcmp(blob, "xdebugpy", 8) != 0) {
        snprintf(why, why_len, "no \"xdebugpy\" cookie at the start of _PyRuntime");
        return PY_DO_NO_COOKIE;
    }
    uint64_t version;
    memcpy(&version, blob + 8, 8);
    unsigned major = (unsigned)(version >> 24) & 0xff, minor = (unsigned)(version >> 16) & 0xff;
    if (major != 3 || minor < 13 || (version >> 32) != 0) {
        snprintf(why, why_len, "the version field 0x%llx is not CPython 3.13 or later",
                 (unsigned long long)version);
        return PY_DO_VERSION;
    }
    int col = minor > PY_DEBUG_OFFSETS_NEWEST_MINOR ? NLAYOUTS - 1 : (int)minor - 13;
    if (len < layout_size[col]) {
        snprintf(why, why_len, "only %zu bytes of _Py_DebugOffsets, the 3.%d layout has %zu", len,
                 col + 13, layout_size[col]);
        return PY_DO_SHORT;
    }
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].at[col] >= 0)
            memcpy((uint8_t *)out + rows[i].dst, blob + rows[i].at[col], 8);
    out->layout_minor = col + 13;
    out->newer = minor > PY_DEBUG_OFFSETS_NEWEST_MINOR;
    return check(out, col, why, why_len);
}

int py_debug_offsets_fields(int minor, const char **names, int *pos, int max)
{
    if (minor < 13 || minor > PY_DEBUG_OFFSETS_NEWEST_MINOR)
        return -1;
    int col = minor - 13, n = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && n < max; i++)
        if (rows[i].at[col] >= 0) {
            names[n] = rows[i].name;
            pos[n] = rows[i].at[col];
            n++;
        }
    return n;
}
