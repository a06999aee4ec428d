/* threadnames.c - threading.Thread names of the target, for `--threads`.
 *
 * py-spy names a thread `thread (TID): NAME`, NAME being `threading.Thread.name`,
 * found the way CPython itself keeps it: the interpreter's sys.modules dict ->
 * the "threading" module -> its dict -> `_active` (ident -> Thread) -> each
 * Thread's instance dict -> `_name`. The ident is `threading.get_ident()`, the
 * pthread id, which is `PyThreadState.thread_id`, so a stack finds its name by
 * that id. A thread with no entry in `_active` (started from C, or the
 * threading module not imported) has no name, and is written `thread (TID)` as
 * py-spy does.
 *
 * Everything structural comes from a py_objlayout (dict, type, int and
 * instance-dict layouts per version). On 3.8-3.12 it is a table entry here; on
 * 3.13+ every field the target's _Py_DebugOffsets has (object header, dict,
 * type, heap type, str, int, sys.modules) is taken from there, and the table
 * gives only what the debug offsets lack: the dict, instance-dict and int
 * shapes, values_header and managed_dict (the newest entry standing in for a
 * newer, compatible minor). A free-threaded build has an entry of its own. Dicts are read in their
 * three shapes: 3.8-3.10 (dk_size, 24-byte entries after the index table), 3.11+
 * (dk_log2_index_bytes, general or unicode entries), and split tables whose
 * values live apart (ma_values; on 3.11+ an instance's values sit before the
 * object, tagged at obj-24 on 3.12, or inline after it on 3.13, with the keys
 * shared in the type's ht_cached_keys).
 *
 * Cost: names are looked up again at most every REFRESH_NS, or sooner (but not
 * more often than MISS_NS) when a thread id is not known yet, so a rename shows
 * within a second and a new thread gets its name at its first samples. A
 * refresh is a few dozen reads: the key names of a dict (sys.modules has
 * hundreds) are read in one batched process_vm_readv. */
#include <string.h>
#include <time.h>

#include "pysampler.h"

#define REFRESH_NS 1000000000LL
#define MISS_NS 200000000LL
#define MAX_ENTRIES 4096 /* entries of one dict we look through */

/* Checked against the DWARF of the pyenv builds 3.8.18-3.13.0, of Debian sid's 3.14.10 and 3.15.2
 * (release builds: their debug files under /usr/lib/debug/.build-id; the -dbg builds have the
 * same numbers) and of the free-threaded 3.13.15 (gdb: &((T *)0)->field). */
#define GIL_BUILD .ob_type = 8, .str_length = 16, .str_state = 32, .managed_dict = -24
#define DICTS                                                                                      \
    .tp_flags = 168, .tp_dictoffset = 288, .tp_basicsize = 32, .ma_keys = 32, .ma_values = 40
#define LONG_OLD .long_ = PY_LONG_OB_SIZE, .long_size = 16, .long_digits = 24
#define LONG_TAG .long_ = PY_LONG_LV_TAG, .long_size = 16, .long_digits = 24
static const py_objlayout objlayouts[] = {
    {.minor = 8,
     .is_modules = 56,
     .ht_cached_keys = 872,
     .dict = PY_DICT_OLD,
     .managed = PY_MANAGED_NONE,
     .str_data = 48,
     DICTS,
     GIL_BUILD,
     LONG_OLD},
    {.minor = 9,
     .is_modules = 856,
     .ht_cached_keys = 864,
     .dict = PY_DICT_OLD,
     .managed = PY_MANAGED_NONE,
     .str_data = 48,
     DICTS,
     GIL_BUILD,
     LONG_OLD},
    {.minor = 10,
     .is_modules = 856,
     .ht_cached_keys = 872,
     .dict = PY_DICT_OLD,
     .managed = PY_MANAGED_NONE,
     .str_data = 48,
     DICTS,
     GIL_BUILD,
     LONG_OLD},
    {.minor = 11,
     .is_modules = 888,
     .ht_cached_keys = 872,
     .dict = PY_DICT_NEW,
     .managed = PY_MANAGED_311,
     .str_data = 48,
     DICTS,
     GIL_BUILD,
     LONG_OLD},
    {.minor = 12,
     .is_modules = 944,
     .ht_cached_keys = 880,
     .dict = PY_DICT_NEW,
     .managed = PY_MANAGED_312,
     .str_data = 40,
     DICTS,
     GIL_BUILD,
     LONG_TAG},
    {.minor = 13,
     .is_modules = 7656,
     .ht_cached_keys = 880,
     .dict = PY_DICT_NEW,
     .managed = PY_MANAGED_313,
     .values_header = 8,
     .str_data = 40,
     DICTS,
     GIL_BUILD,
     LONG_TAG},
    /* free-threaded 3.13t: a 32-byte object header (ob_tid, flags, mutex, gc bits, local and
     * shared refcounts before ob_type), the managed dict at obj-8 */
    {.minor = 13,
     .free_threaded = true,
     .is_modules = 7664,
     .ht_cached_keys = 896,
     .dict = PY_DICT_NEW,
     .managed = PY_MANAGED_313,
     .values_header = 8,
     .str_data = 56,
     .tp_flags = 184,
     .tp_dictoffset = 304,
     .tp_basicsize = 48,
     .ma_keys = 48,
     .ma_values = 56,
     .ob_type = 24,
     .str_length = 32,
     .str_state = 48,
     .managed_dict = -8,
     .long_ = PY_LONG_LV_TAG,
     .long_size = 32,
     .long_digits = 40},
    {.minor = 14,
     .is_modules = 7688,
     .ht_cached_keys = 880,
     .dict = PY_DICT_NEW,
     .managed = PY_MANAGED_313,
     .values_header = 8,
     .str_data = 40,
     DICTS,
     GIL_BUILD,
     LONG_TAG},
    {.minor = 15,
     .is_modules = 7592,
     .ht_cached_keys = 888,
     .dict = PY_DICT_NEW,
     .managed = PY_MANAGED_313,
     .values_header = 8,
     .str_data = 40,
     DICTS,
     GIL_BUILD,
     LONG_TAG},
};

/* The table's entry for (minor, free-threaded); a minor newer than the table's newest takes
 * the newest (its debug offsets passed the compatibility checks). NULL when none. */
static const py_objlayout *table_entry(int minor, bool ft)
{
    const py_objlayout *best = NULL;
    for (size_t i = 0; i < sizeof(objlayouts) / sizeof(objlayouts[0]); i++) {
        const py_objlayout *o = &objlayouts[i];
        if (o->free_threaded == ft && o->minor <= minor && (!best || o->minor > best->minor))
            best = o;
    }
    return best && (best->minor == minor || minor > PY_DEBUG_OFFSETS_NEWEST_MINOR) ? best : NULL;
}

/* One field from the debug offsets when the target's version has it, and it is a plausible
 * offset into the structure it belongs to (below `within` when that is known). */
static void take(int *field, uint64_t v, uint64_t within)
{
    if (v != PY_DO_ABSENT && v < 65536 && (within == PY_DO_ABSENT || !within || v < within))
        *field = (int)v;
}

int py_objlayout_from_debug_offsets(const py_debug_offsets *d, py_objlayout *out)
{
    int minor = (int)((d->version >> 16) & 0xff);
    const py_objlayout *base = minor >= 13 ? table_entry(minor, d->free_threaded != 0) : NULL;
    if (!base)
        return -1;
    *out = *base; /* the shapes, values_header and managed_dict: no debug offset for them */
    out->minor = minor;
    take(&out->ob_type, d->pyobject.ob_type, d->pyobject.size);
    take(&out->is_modules, d->interpreter_state.imports_modules, d->interpreter_state.size);
    take(&out->tp_flags, d->type_object.tp_flags, d->type_object.size);
    take(&out->tp_dictoffset, d->type_object.tp_dictoffset, d->type_object.size);
    take(&out->tp_basicsize, d->type_object.tp_basicsize, d->type_object.size);
    take(&out->ht_cached_keys, d->heap_type_object.ht_cached_keys, d->heap_type_object.size);
    take(&out->ma_keys, d->dict_object.ma_keys, d->dict_object.size);
    take(&out->ma_values, d->dict_object.ma_values, d->dict_object.size);
    take(&out->str_length, d->unicode_object.length, d->unicode_object.size);
    take(&out->str_state, d->unicode_object.state, d->unicode_object.size);
    take(&out->str_data, d->unicode_object.asciiobject_size, PY_DO_ABSENT);
    take(&out->long_size, d->long_object.lv_tag, d->long_object.size);
    take(&out->long_digits, d->long_object.ob_digit, d->long_object.size);
    return 0;
}

int py_objlayout_for(const py_target *t, py_objlayout *out)
{
    if (t->have_debug_offsets) /* 3.13+: the target's own numbers wherever it has them */
        return py_objlayout_from_debug_offsets(&t->dbg, out);
    const py_objlayout *o = table_entry(t->L->minor, t->L->free_threaded);
    if (!o || o->minor != t->L->minor)
        return -1;
    *out = *o;
    return 0;
}

#define TPFLAGS_INLINE_VALUES (1UL << 2)
#define TPFLAGS_MANAGED_DICT (1UL << 4)

/* Where a dict's (key, value) pairs are: n entries of `stride` bytes from `entries`, the value
 * at +16 (general entries: hash, key, value) or +8 (unicode entries: key, value), or in
 * values[i] when `values` is set (split tables). */
typedef struct dview {
    uint64_t entries, values;
    int n, stride, key_at, value_at;
} dview;

/* The entries of the keys object at `keys`, with values at `values` (0: in the entries). */
static int keys_view(const py_target *t, const py_objlayout *O, uint64_t keys, uint64_t values,
                     dview *v)
{
    uint8_t k[40];
    if (py_read(t->pid, keys, k, sizeof(k)) != 0)
        return -1;
    int64_t nentries;
    if (O->dict == PY_DICT_OLD) {
        int64_t size;
        memcpy(&size, k + 8, 8);
        memcpy(&nentries, k + 32, 8);
        if (size <= 0 || size > (1 << 26))
            return -1;
        int ix = size <= 0xff ? 1 : size <= 0xffff ? 2 : 4;
        v->entries = keys + 40 + (uint64_t)(size * ix);
        v->stride = 24;
        v->key_at = 8;
        v->value_at = 16;
    } else {
        memcpy(&nentries, k + 24, 8);
        if (k[9] > 32)
            return -1;
        v->entries = keys + 32 + (1ULL << k[9]);
        bool general = k[10] == 0; /* dk_kind: 0 general, 1 unicode, 2 split */
        v->stride = general ? 24 : 16;
        v->key_at = general ? 8 : 0;
        v->value_at = general ? 16 : 8;
    }
    if (nentries < 0)
        return -1;
    v->n = nentries > MAX_ENTRIES ? MAX_ENTRIES : (int)nentries;
    v->values = values;
    return 0;
}

static int dict_view(const py_target *t, const py_objlayout *O, uint64_t dict, dview *v)
{
    uint64_t keys, values;
    if (py_read_ptr(t->pid, dict + (uint64_t)O->ma_keys, &keys) != 0 ||
        py_read_ptr(t->pid, dict + (uint64_t)O->ma_values, &values) != 0)
        return -1;
    if (values)
        values += (uint64_t)O->values_header; /* 3.13+: capacity, size, embedded, valid */
    return keys_view(t, O, keys, values, v);
}

/* The instance dict of a plain class instance (a Thread). */
static int instance_view(const py_target *t, const py_objlayout *O, uint64_t obj, dview *v)
{
    uint64_t type, flags;
    int64_t dictoffset, basicsize;
    if (py_read_ptr(t->pid, obj + (uint64_t)O->ob_type, &type) != 0 ||
        py_read_ptr(t->pid, type + (uint64_t)O->tp_flags, &flags) != 0 ||
        py_read(t->pid, type + (uint64_t)O->tp_dictoffset, &dictoffset, 8) != 0 ||
        py_read(t->pid, type + (uint64_t)O->tp_basicsize, &basicsize, 8) != 0)
        return -1;
    uint64_t dict = 0, values = 0;
    if (O->managed != PY_MANAGED_NONE && (flags & TPFLAGS_MANAGED_DICT)) {
        uint64_t pre[2]; /* the words at managed_dict - 8 and managed_dict (obj-32, obj-24) */
        if (py_read(t->pid, obj + (uint64_t)(int64_t)O->managed_dict - 8, pre, sizeof(pre)) != 0)
            return -1;
        if (O->managed == PY_MANAGED_311) {
            values = pre[0];
            dict = values ? 0 : pre[1];
        } else if (O->managed == PY_MANAGED_312) {
            if (pre[1] & 1)
                values = pre[1] + 1; /* tagged: the values pointer minus one */
            else
                dict = pre[1];
        } else {
            dict = pre[1];
            if (!dict && (flags & TPFLAGS_INLINE_VALUES))
                values = obj + (uint64_t)basicsize + (uint64_t)O->values_header;
        }
        if (values) {
            uint64_t keys;
            if (py_read_ptr(t->pid, type + (uint64_t)O->ht_cached_keys, &keys) != 0)
                return -1;
            return keys_view(t, O, keys, values, v);
        }
    } else if (dictoffset > 0) {
        if (py_read_ptr(t->pid, obj + (uint64_t)dictoffset, &dict) != 0)
            return -1;
    }
    return dict ? dict_view(t, O, dict, v) : -1;
}

/* Value of the str key `name` in the view; 0 if found. Keys are read in one batch. */
static int view_find(const py_target *t, const py_objlayout *O, const dview *v, const char *name,
                     uint64_t *value)
{
    static uint8_t ents[MAX_ENTRIES * 24];
    static uint8_t keys[MAX_ENTRIES * 64];
    static uint64_t addrs[MAX_ENTRIES];
    size_t nlen = strlen(name), klen = (size_t)O->str_data + 16;
    if (v->n <= 0 || nlen > 15 || py_read(t->pid, v->entries, ents, (size_t)v->n * v->stride) != 0)
        return -1;
    int n = 0, idx[MAX_ENTRIES];
    for (int i = 0; i < v->n; i++) {
        uint64_t k;
        memcpy(&k, ents + (size_t)i * v->stride + v->key_at, 8);
        if (k) {
            idx[n] = i;
            addrs[n++] = k;
        }
    }
    /* A key that cannot be read in full (a short str at the end of a mapping) stops the batch:
     * the rest are read one by one. */
    int got = py_read_many(t->pid, addrs, klen, keys, n);
    for (int j = 0; j < n; j++) {
        uint8_t one[64];
        const uint8_t *h = keys + (size_t)j * klen;
        if (j >= got) {
            if (py_read(t->pid, addrs[j], one, (size_t)O->str_data + nlen) != 0)
                continue;
            h = one;
        }
        int64_t len;
        uint32_t state;
        memcpy(&len, h + O->str_length, 8);
        memcpy(&state, h + O->str_state, 4);
        bool ascii_compact = ((state >> 5) & 1) && ((state >> 6) & 1);
        if (!ascii_compact || len != (int64_t)nlen || memcmp(h + O->str_data, name, nlen) != 0)
            continue;
        int i = idx[j];
        if (v->values)
            return py_read_ptr(t->pid, v->values + (uint64_t)i * 8, value);
        memcpy(value, ents + (size_t)i * v->stride + v->value_at, 8);
        return 0;
    }
    return -1;
}

/* An int object's value (the idents are pthread ids: positive, up to 64 bits). */
static int read_long(const py_target *t, const py_objlayout *O, uint64_t addr, uint64_t *out)
{
    uint8_t b[64];
    if (py_read(t->pid, addr, b, (size_t)O->long_digits + 12) != 0)
        return -1;
    int64_t size;
    memcpy(&size, b + O->long_size, 8);
    int64_t ndigits = O->long_ == PY_LONG_OB_SIZE ? size : (int64_t)((uint64_t)size >> 3);
    bool negative = O->long_ == PY_LONG_OB_SIZE ? size < 0 : (size & 3) == 2;
    if (negative || ndigits < 0 || ndigits > 3)
        return -1;
    uint64_t v = 0;
    for (int64_t i = ndigits - 1; i >= 0; i--) {
        uint32_t d;
        memcpy(&d, b + O->long_digits + 4 * i, 4);
        v = (v << 30) | (d & 0x3fffffff);
    }
    *out = v;
    return 0;
}

/* threading._active of one interpreter, from its sys.modules. */
static uint64_t find_active(const py_target *t, const py_objlayout *O, uint64_t interp)
{
    uint64_t modules, threading, active, mtype;
    int64_t dictoffset;
    dview v;
    if (py_read_ptr(t->pid, interp + (uint64_t)O->is_modules, &modules) != 0 || !modules ||
        dict_view(t, O, modules, &v) != 0 || view_find(t, O, &v, "threading", &threading) != 0 ||
        py_read_ptr(t->pid, threading + (uint64_t)O->ob_type, &mtype) != 0 ||
        py_read(t->pid, mtype + (uint64_t)O->tp_dictoffset, &dictoffset, 8) != 0 || dictoffset <= 0)
        return 0;
    uint64_t mdict;
    if (py_read_ptr(t->pid, threading + (uint64_t)dictoffset, &mdict) != 0 ||
        dict_view(t, O, mdict, &v) != 0 || view_find(t, O, &v, "_active", &active) != 0)
        return 0;
    return active;
}

static void add_names(py_names *nm, const py_target *t, const py_objlayout *O, uint64_t active)
{
    dview v;
    static uint8_t ents[MAX_ENTRIES * 24];
    if (dict_view(t, O, active, &v) != 0 || v.values || v.n <= 0 ||
        py_read(t->pid, v.entries, ents, (size_t)v.n * v.stride) != 0)
        return;
    for (int i = 0; i < v.n && nm->n < PY_MAX_THREADS; i++) {
        uint64_t key, thread, name, ident;
        memcpy(&key, ents + (size_t)i * v.stride + v.key_at, 8);
        memcpy(&thread, ents + (size_t)i * v.stride + v.value_at, 8);
        dview tv;
        if (!key || !thread || read_long(t, O, key, &ident) != 0 ||
            instance_view(t, O, thread, &tv) != 0 || view_find(t, O, &tv, "_name", &name) != 0 ||
            py_read_str(t, name, nm->names[nm->n], sizeof(nm->names[0])) != 0)
            continue;
        nm->ids[nm->n++] = ident;
    }
}

static void refresh(py_names *nm, const py_target *t)
{
    py_objlayout O;
    nm->n = 0;
    if (py_objlayout_for(t, &O) != 0)
        return;
    uint64_t interp;
    if (py_read_ptr(t->pid, t->runtime + (uint64_t)t->L->rt_interp_head, &interp) != 0)
        return;
    for (int k = 0; interp && k < 8; k++) {
        uint64_t active = find_active(t, &O, interp);
        if (active)
            add_names(nm, t, &O, active);
        if (py_read_ptr(t->pid, interp + (uint64_t)t->L->is_next, &interp) != 0)
            break;
    }
}

void py_names_init(py_names *nm)
{
    memset(nm, 0, sizeof(*nm));
}

const char *py_names_get(py_names *nm, const py_target *t, uint64_t thread_id)
{
    int64_t now = py_now_ns();
    for (int pass = 0; pass < 2; pass++) {
        if (nm->at == 0 || now - nm->at > REFRESH_NS) {
            refresh(nm, t);
            nm->at = now;
            nm->refreshes++;
        }
        for (int i = 0; i < nm->n; i++)
            if (nm->ids[i] == thread_id)
                return nm->names[i];
        if (now - nm->at < MISS_NS)
            return NULL; /* looked up just now: this thread has no Thread object (yet) */
        nm->at = 0;
    }
    return NULL;
}
