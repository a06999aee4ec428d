/* test_debug_offsets.c - the _Py_DebugOffsets parser (debug_offsets.c) and the 3.13+ layout
 * built from it (layout.c), against real builds.
 *
 * The bytes parsed are the initial contents of `_PyRuntime` in each build's ELF file (its
 * .data: the cookie and the offsets are static initializers), taken from the file without
 * any code under test. For every build present (3.13.0 from pyenv, the provisioned 3.13t,
 * Debian sid's 3.14, 3.14d, 3.15, 3.15d):
 *   - the parse succeeds with the layout of its minor, version and free-threaded flag as the
 *     build is known to be, runtime_state.size equal to the symbol's st_size, and the
 *     sampler's layout builds;
 *   - where the build has DWARF, every field position of our table equals the one gdb
 *     reports for `struct _Py_DebugOffsets`, and no field the DWARF has is missing;
 *   - thread names' object layout takes every offset the debug offsets have, equal to its
 *     DWARF-checked table, and follows one that moves;
 *   - a future 3.16: the real 3.15 block with its version field set to 3.16.0 is read with
 *     the 3.15 layout and flagged as newer; the same with one offset moved outside its
 *     structure (an incompatible layout) is refused; so are a wrong cookie, 3.12 in the
 *     version field and a block cut short.
 * A build that is not there is skipped (failed under CI=true; provision with
 * scripts/provision-pythons.sh). */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/skip.h"
#include "pysampler.h"

typedef struct build {
    const char *name, *rel; /* rel: under PROFD_PYTHONS, or absolute */
    int minor;
    bool free_threaded, dwarf;
} build;

static const build builds[] = {
    {"3.13", "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0", 13, false, true},
    {"3.13t", "3.13t/lib/libpython3.13t.so.1.0", 13, true, true},
    {"3.14", "sid-root/usr/bin/python3.14", 14, false, false},
    {"3.14d", "sid-root/usr/bin/python3.14d", 14, false, true},
    {"3.15", "sid-root/usr/bin/python3.15", 15, false, false},
    {"3.15d", "sid-root/usr/bin/python3.15d", 15, false, true},
};

static void path_of(const build *b, char *out, size_t len)
{
    const char *root = getenv("PROFD_PYTHONS");
    if (b->rel[0] == '/')
        snprintf(out, len, "%s", b->rel);
    else
        snprintf(out, len, "%s/%s", root && *root ? root : "/opt/profd-pythons", b->rel);
}

/* The first n bytes of _PyRuntime's initial contents in the file, through its PT_LOAD. */
static int runtime_bytes(const char *path, uint8_t *out, size_t n, py_symbols *s)
{
    if (py_elf_symbols(path, s) != 0 || !s->runtime)
        return -1;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    Elf64_Ehdr eh;
    int rc = -1;
    if (fread(&eh, sizeof(eh), 1, f) == 1) {
        for (int i = 0; i < eh.e_phnum && rc != 0; i++) {
            Elf64_Phdr ph;
            if (fseek(f, (long)(eh.e_phoff + (uint64_t)i * sizeof(ph)), SEEK_SET) != 0 ||
                fread(&ph, sizeof(ph), 1, f) != 1)
                break;
            if (ph.p_type != PT_LOAD || s->runtime < ph.p_vaddr ||
                s->runtime + n > ph.p_vaddr + ph.p_filesz)
                continue;
            if (fseek(f, (long)(ph.p_offset + s->runtime - ph.p_vaddr), SEEK_SET) == 0 &&
                fread(out, 1, n, f) == n)
                rc = 0;
        }
    }
    fclose(f);
    return rc;
}

static bool load(const build *b, uint8_t *blob, py_symbols *s)
{
    char path[512];
    path_of(b, path, sizeof(path));
    if (access(path, R_OK) != 0)
        return false;
    assert_int_equal(runtime_bytes(path, blob, PY_DEBUG_OFFSETS_READ, s), 0);
    return true;
}

static void test_real_builds(void **state)
{
    (void)state;
    int seen = 0;
    for (size_t i = 0; i < sizeof(builds) / sizeof(builds[0]); i++) {
        const build *b = &builds[i];
        uint8_t blob[PY_DEBUG_OFFSETS_READ];
        py_symbols s;
        if (!load(b, blob, &s)) {
            char what[128];
            snprintf(what, sizeof(what), "CPython %s (scripts/provision-pythons.sh)", b->name);
            if (profd_test_in_ci())
                fail_msg("%s is missing, and CI=true provides it", what);
            print_message("SKIP: %s is missing\n", what);
            continue;
        }
        seen++;
        py_debug_offsets d;
        char why[200];
        assert_int_equal(py_debug_offsets_parse(blob, sizeof(blob), &d, why, sizeof(why)),
                         PY_DO_OK);
        assert_int_equal(d.layout_minor, b->minor);
        assert_false(d.newer);
        assert_int_equal((d.version >> 16) & 0xff, b->minor);
        assert_int_equal(d.free_threaded, b->free_threaded);
        assert_int_equal(d.runtime_state.size, s.runtime_size);
        /* ob_type follows ob_refcnt, or ob_tid..ob_ref_shared when free-threaded */
        assert_int_equal(d.pyobject.ob_type, b->free_threaded ? 24 : 8);
        if (b->minor >= 14) {
            assert_int_not_equal(d.debugger_support.debugger_script_path_size, PY_DO_ABSENT);
            assert_true(d.debugger_support.remote_debugger_support < d.thread_state.size);
        } else {
            assert_int_equal(d.debugger_support.eval_breaker, PY_DO_ABSENT);
        }
        py_layout L;
        assert_int_equal(py_layout_from_debug_offsets(&d, &L, why, sizeof(why)), 0);
        assert_int_equal(L.minor, b->minor);
        assert_int_equal(L.free_threaded, b->free_threaded);
        assert_true(L.ts_read <= PY_TS_MAX && L.if_read <= PY_FRAME_MAX);
        assert_true(py_code_header_size(&L) <= PY_CODE_HDR_MAX);
    }
    if (!seen)
        PROFD_SKIP("every 3.13+ build (scripts/provision-pythons.sh)");
}

/* gdb's `ptype /o struct _Py_DebugOffsets`: "offset name" of every uint64_t, the name dotted
 * with its enclosing struct members ("thread_state.next"). */
static int dwarf_fields(const char *path, char names[][64], int *pos, int max)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd),
             "gdb -nx -batch -ex 'ptype /o struct _Py_DebugOffsets' '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[512], stack[4][64];
    int depth = 0, n = 0, start[4] = {0};
    while (fgets(line, sizeof(line), p)) {
        int off, size, used = 0;
        char what[400];
        if (sscanf(line, " /* %d | %d */ %399[^\n]%n", &off, &size, what, &used) >= 3) {
            char member[64];
            if (strncmp(what, "struct ", 7) == 0 && strchr(what, '{')) {
                if (depth < 4)
                    start[depth++] = n; /* the struct's name comes at its closing line */
            } else if (sscanf(what, "uint64_t %63[a-z_0-9];", member) == 1 && n < max) {
                snprintf(names[n], 64, "%s", member);
                pos[n++] = off;
            }
            continue;
        }
        char member[64];
        if (depth > 0 && sscanf(line, " } %63[a-z_0-9];", member) == 1) {
            depth--;
            snprintf(stack[depth], sizeof(stack[depth]), "%s", member);
            for (int k = start[depth]; k < n; k++) {
                char tmp[64];
                snprintf(tmp, sizeof(tmp), "%.20s.%.40s", member, names[k]);
                memcpy(names[k], tmp, sizeof(tmp));
            }
        }
    }
    pclose(p);
    return n;
}

static void test_table_matches_dwarf(void **state)
{
    (void)state;
    if (system("gdb --version > /dev/null 2>&1") != 0)
        PROFD_SKIP("gdb (to read the builds' DWARF)");
    int checked = 0;
    for (size_t i = 0; i < sizeof(builds) / sizeof(builds[0]); i++) {
        const build *b = &builds[i];
        char path[512];
        path_of(b, path, sizeof(path));
        if (!b->dwarf || access(path, R_OK) != 0)
            continue;
        static char dn[200][64];
        int dpos[200];
        int nd = dwarf_fields(path, dn, dpos, 200);
        if (nd <= 0) {
            print_message("SKIP: no DWARF for _Py_DebugOffsets in %s\n", path);
            continue;
        }
        const char *names[200];
        int pos[200];
        int nt = py_debug_offsets_fields(b->minor, names, pos, 200);
        /* the struct's first member after the cookie is version at 8 */
        assert_int_equal(nt, nd);
        for (int k = 0; k < nt; k++) {
            /* "err_stackitem" is an anonymous struct in 3.15: gdb names only the member */
            const char *want = names[k];
            if (strncmp(want, "err_stackitem.", 14) == 0 && strchr(dn[k], '.') == NULL)
                want += 14;
            if (strcmp(want, dn[k]) != 0 || pos[k] != dpos[k])
                fail_msg("%s: table has %s at %d, DWARF %s at %d", b->name, names[k], pos[k], dn[k],
                         dpos[k]);
        }
        checked++;
    }
    if (!checked)
        PROFD_SKIP("a 3.13+ build with DWARF (scripts/provision-pythons.sh)");
}

static void put64(uint8_t *blob, int at, uint64_t v)
{
    memcpy(blob + at, &v, 8);
}

static int position(int minor, const char *name)
{
    const char *names[200];
    int pos[200];
    int n = py_debug_offsets_fields(minor, names, pos, 200);
    for (int k = 0; k < n; k++)
        if (strcmp(names[k], name) == 0)
            return pos[k];
    fail_msg("no field %s in the 3.%d layout", name, minor);
    return -1;
}

static void test_future_and_bad_blocks(void **state)
{
    (void)state;
    uint8_t real[PY_DEBUG_OFFSETS_READ], blob[PY_DEBUG_OFFSETS_READ];
    py_symbols s;
    if (!load(&builds[4], real, &s)) /* 3.15 */
        PROFD_SKIP("CPython 3.15 from the sid root (scripts/provision-pythons.sh)");
    py_debug_offsets d, d15;
    char why[200];
    assert_int_equal(py_debug_offsets_parse(real, sizeof(real), &d15, why, sizeof(why)), PY_DO_OK);

    /* 3.16.0 final with a compatible block: read with the 3.15 layout, flagged newer */
    memcpy(blob, real, sizeof(blob));
    put64(blob, 8, 0x031000F0);
    assert_int_equal(py_debug_offsets_parse(blob, sizeof(blob), &d, why, sizeof(why)), PY_DO_OK);
    assert_true(d.newer);
    assert_int_equal(d.layout_minor, 15);
    assert_int_equal(d.thread_state.native_thread_id, d15.thread_state.native_thread_id);
    assert_int_equal(d.code_object.qualname, d15.code_object.qualname);
    py_layout L;
    assert_int_equal(py_layout_from_debug_offsets(&d, &L, why, sizeof(why)), 0);
    assert_int_equal(L.minor, 16);

    /* 3.16 whose block moved: thread_state.next now beyond the thread state's size */
    put64(blob, position(15, "thread_state.next"), d15.thread_state.size + 8);
    assert_int_equal(py_debug_offsets_parse(blob, sizeof(blob), &d, why, sizeof(why)),
                     PY_DO_INSANE);
    assert_non_null(strstr(why, "thread_state.next"));

    /* a size that cannot be one */
    memcpy(blob, real, sizeof(blob));
    put64(blob, position(15, "code_object.size"), 0);
    assert_int_equal(py_debug_offsets_parse(blob, sizeof(blob), &d, why, sizeof(why)),
                     PY_DO_INSANE);

    memcpy(blob, real, sizeof(blob));
    blob[0] = 'y';
    assert_int_equal(py_debug_offsets_parse(blob, sizeof(blob), &d, why, sizeof(why)),
                     PY_DO_NO_COOKIE);
    memcpy(blob, real, sizeof(blob));
    put64(blob, 8, 0x030C01F0); /* 3.12.1 has no debug offsets */
    assert_int_equal(py_debug_offsets_parse(blob, sizeof(blob), &d, why, sizeof(why)),
                     PY_DO_VERSION);
    assert_int_equal(py_debug_offsets_parse(real, 600, &d, why, sizeof(why)), PY_DO_SHORT);
    assert_int_equal(py_debug_offsets_parse(real, 12, &d, why, sizeof(why)), PY_DO_NO_COOKIE);
}

/* Thread names' object layout (threadnames.c) on 3.13+: every offset the build's debug
 * offsets carry is the one the build itself says, and equals what the per-minor table holds
 * (checked against DWARF), so the table is only a fallback for the shapes; an offset the
 * debug offsets move is followed; a future 3.16 gets the 3.15 shapes. */
static void test_objlayout_from_debug_offsets(void **state)
{
    (void)state;
    int seen = 0;
    for (size_t i = 0; i < sizeof(builds) / sizeof(builds[0]); i++) {
        const build *b = &builds[i];
        uint8_t blob[PY_DEBUG_OFFSETS_READ];
        py_symbols s;
        if (!load(b, blob, &s))
            continue; /* test_real_builds says what is missing */
        seen++;
        py_debug_offsets d;
        char why[200];
        assert_int_equal(py_debug_offsets_parse(blob, sizeof(blob), &d, why, sizeof(why)),
                         PY_DO_OK);
        py_objlayout own, table;
        assert_int_equal(py_objlayout_from_debug_offsets(&d, &own), 0);
        py_debug_offsets none = d; /* the table alone: no offset to take */
        none.pyobject.ob_type = none.interpreter_state.imports_modules = PY_DO_ABSENT;
        none.type_object.tp_flags = none.type_object.tp_dictoffset = PY_DO_ABSENT;
        none.type_object.tp_basicsize = none.heap_type_object.ht_cached_keys = PY_DO_ABSENT;
        none.dict_object.ma_keys = none.dict_object.ma_values = PY_DO_ABSENT;
        none.unicode_object.length = none.unicode_object.state = PY_DO_ABSENT;
        none.unicode_object.asciiobject_size = PY_DO_ABSENT;
        none.long_object.lv_tag = none.long_object.ob_digit = PY_DO_ABSENT;
        assert_int_equal(py_objlayout_from_debug_offsets(&none, &table), 0);
        assert_memory_equal(&own, &table, sizeof(own));
        assert_int_equal(own.ob_type, (int)d.pyobject.ob_type);
        assert_int_equal(own.is_modules, (int)d.interpreter_state.imports_modules);
        assert_int_equal(own.ma_keys, (int)d.dict_object.ma_keys);
        assert_int_equal(own.long_digits, (int)d.long_object.ob_digit);
        assert_int_equal(own.free_threaded, b->free_threaded);
        py_debug_offsets moved = d;
        moved.interpreter_state.imports_modules += 8;
        moved.dict_object.ma_values = moved.dict_object.ma_keys;
        py_objlayout m;
        assert_int_equal(py_objlayout_from_debug_offsets(&moved, &m), 0);
        assert_int_equal(m.is_modules, own.is_modules + 8);
        assert_int_equal(m.ma_values, own.ma_keys);
        if (b->minor == 15 && !b->free_threaded) {
            py_debug_offsets next = d;
            next.version = 0x031000F0; /* 3.16.0 */
            assert_int_equal(py_objlayout_from_debug_offsets(&next, &m), 0);
            assert_int_equal(m.minor, 16);
            assert_int_equal(m.dict, own.dict);
            assert_int_equal(m.managed, own.managed);
            next.version = 0x030C00F0; /* 3.12 has no debug offsets: no entry taken */
            assert_int_equal(py_objlayout_from_debug_offsets(&next, &m), -1);
        }
    }
    if (!seen)
        PROFD_SKIP("every 3.13+ build (scripts/provision-pythons.sh)");
}

static void test_version_string(void **state)
{
    (void)state;
    char v[32];
    py_version_string(0x030E0AF0, v, sizeof(v));
    assert_string_equal(v, "3.14.10");
    py_version_string(0x030F02F0, v, sizeof(v));
    assert_string_equal(v, "3.15.2");
    py_version_string(0x030F00B1, v, sizeof(v));
    assert_string_equal(v, "3.15.0b1");
    py_version_string(0x031000C2, v, sizeof(v));
    assert_string_equal(v, "3.16.0rc2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_builds),
        cmocka_unit_test(test_table_matches_dwarf),
        cmocka_unit_test(test_future_and_bad_blocks),
        cmocka_unit_test(test_objlayout_from_debug_offsets),
        cmocka_unit_test(test_version_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
