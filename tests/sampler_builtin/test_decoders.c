/* test_decoders.c - the built-in sampler's pure parts: the three line-table formats, UTF-8
 * encoding of code points, py-spy's short filenames (against a real directory tree), and the
 * per-version layouts' basic invariants, and py_module_open's device-and-inode rule on real
 * files. Tables are built by hand from each format's spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pysampler.h"

static void test_lnotab(void **state)
{
    (void)state;
    /* first line 10; byte 0 -> 10, +6 bytes -> +1, +4 bytes -> +2, +8 bytes -> -1 (negative) */
    const uint8_t t[] = {6, 1, 4, 2, 8, 0xff};
    assert_int_equal(py_line_lnotab(t, sizeof(t), 10, 0), 10);
    assert_int_equal(py_line_lnotab(t, sizeof(t), 10, 5), 10);
    assert_int_equal(py_line_lnotab(t, sizeof(t), 10, 6), 11);
    assert_int_equal(py_line_lnotab(t, sizeof(t), 10, 9), 11);
    assert_int_equal(py_line_lnotab(t, sizeof(t), 10, 10), 13);
    assert_int_equal(py_line_lnotab(t, sizeof(t), 10, 18), 12);
    assert_int_equal(py_line_lnotab(t, sizeof(t), 10, 400), 12);
}

static void test_pep626(void **state)
{
    (void)state;
    /* first 5: bytes 0-3 line 6, bytes 4-9 no line, bytes 10-11 line 8 */
    const uint8_t t[] = {4, 1, 6, 0x80, 2, 2};
    assert_int_equal(py_line_pep626(t, sizeof(t), 5, 0), 6);
    assert_int_equal(py_line_pep626(t, sizeof(t), 5, 3), 6);
    assert_int_equal(py_line_pep626(t, sizeof(t), 5, 4), -1);
    assert_int_equal(py_line_pep626(t, sizeof(t), 5, 10), 8);
    assert_int_equal(py_line_pep626(t, sizeof(t), 5, 12), -1);
}

static void test_locations(void **state)
{
    (void)state;
    const uint8_t t[] = {
        0xE8, 0x02,                   /* code 13, 1 unit, line +1 */
        0x81, 0x04,                   /* code 0 (short), 2 units, same line */
        0xDA, 0x01, 0x02,             /* code 11 (one line, +1), 3 units */
        0xF0, 0x05, 0x00, 0x01, 0x02, /* code 14 (long), 1 unit, line -2 */
        0xF8,                         /* code 15, no location, 1 unit */
        0xE8, 0x42, 0x01,             /* code 13, 1 unit, line +33 (two-group varint 66) */
    };
    int first = 10;
    assert_int_equal(py_line_locations(t, sizeof(t), first, 0), 11);
    assert_int_equal(py_line_locations(t, sizeof(t), first, 2), 11);
    assert_int_equal(py_line_locations(t, sizeof(t), first, 4), 11);
    assert_int_equal(py_line_locations(t, sizeof(t), first, 6), 12);
    assert_int_equal(py_line_locations(t, sizeof(t), first, 10), 12);
    assert_int_equal(py_line_locations(t, sizeof(t), first, 12), 10);
    assert_int_equal(py_line_locations(t, sizeof(t), first, 14), -1);
    assert_int_equal(py_line_locations(t, sizeof(t), first, 16), 43);
    assert_int_equal(py_line_locations(t, sizeof(t), first, 18), -1);
    const uint8_t bad[] = {0x01};
    assert_int_equal(py_line_locations(bad, sizeof(bad), first, 0), -1);
}

static void test_utf8(void **state)
{
    (void)state;
    char b[8];
    assert_int_equal(py_utf8_put('A', b, 8), 1);
    assert_int_equal(py_utf8_put(0xE9, b, 8), 2);
    assert_memory_equal(b, "\xC3\xA9", 2);
    assert_int_equal(py_utf8_put(0x6DF1, b, 8), 3);
    assert_memory_equal(b, "\xE6\xB7\xB1", 3);
    assert_int_equal(py_utf8_put(0x1F600, b, 8), 4);
    assert_memory_equal(b, "\xF0\x9F\x98\x80", 4);
    assert_int_equal(py_utf8_put(0xD800, b, 8), 3); /* lone surrogate -> U+FFFD */
    assert_memory_equal(b, "\xEF\xBF\xBD", 3);
    assert_int_equal(py_utf8_put(0x6DF1, b, 2), 0); /* no room: nothing written */
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static void test_short_filename(void **state)
{
    (void)state;
    char dir[] = "/tmp/profd-short-XXXXXX", p[512], out[512];
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/pkg", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/pkg/sub", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/pkg/__init__.py", dir);
    touch(p);
    snprintf(p, sizeof(p), "%s/pkg/sub/__init__.py", dir);
    touch(p);
    snprintf(p, sizeof(p), "%s/pkg/sub/mod.py", dir);
    py_short_filename(getpid(), p, out, sizeof(out));
    assert_string_equal(out, "pkg/sub/mod.py");
    snprintf(p, sizeof(p), "%s/top.py", dir);
    py_short_filename(getpid(), p, out, sizeof(out));
    assert_string_equal(out, "top.py");
    py_short_filename(getpid(), "<frozen importlib._bootstrap>", out, sizeof(out));
    assert_string_equal(out, "<frozen importlib._bootstrap>");
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "%s/pkg/sub/__init__.py", dir);
    unlink(cmd);
    snprintf(cmd, sizeof(cmd), "%s/pkg/__init__.py", dir);
    unlink(cmd);
    snprintf(p, sizeof(p), "%s/pkg/sub", dir);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/pkg", dir);
    rmdir(p);
    rmdir(dir);
}

static void test_layouts(void **state)
{
    (void)state;
    assert_null(py_layout_for(7));
    assert_null(py_layout_for(13)); /* 3.13+: from the target's _Py_DebugOffsets */
    for (int m = 8; m <= 12; m++) {
        const py_layout *L = py_layout_for(m);
        assert_non_null(L);
        assert_int_equal(L->minor, m);
        /* exactly one way to the newest frame */
        int ways = (L->ts_frame >= 0) + (L->ts_cframe >= 0) + (L->ts_current_frame >= 0);
        assert_int_equal(ways, 1);
        /* exactly one place for the GIL */
        assert_int_equal((L->rt_gil >= 0) + (L->is_gil_ptr >= 0), 1);
        assert_int_equal(L->co_qualname >= 0, m >= 11);
        assert_int_equal(L->linetable, m <= 9 ? LT_LNOTAB : m == 10 ? LT_PEP626 : LT_LOCATIONS);
    }
}

/* py_module_open against real files of this process's own root: the maps entry's device and
 * inode decide, the path alone never does. */
static void test_module_open(void **state)
{
    (void)state;
    char dir[] = "/tmp/profd-modopen.XXXXXX", a[64], b[64], why[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(a, sizeof(a), "%s/libpython-a.so", dir);
    snprintf(b, sizeof(b), "%s/libpython-b.so", dir);
    FILE *f = fopen(a, "w");
    fputs("a", f);
    fclose(f);
    f = fopen(b, "w");
    fputs("b", f);
    fclose(f);
    struct stat sa, sb;
    assert_int_equal(stat(a, &sa), 0);
    assert_int_equal(stat(b, &sb), 0);
    py_module m;
    memset(&m, 0, sizeof(m));
    snprintf(m.path, sizeof(m.path), "%s", a);
    m.dev = (uint64_t)sa.st_dev;
    m.ino = (uint64_t)sa.st_ino;
    m.base = 0x1000;
    m.end = 0x2000;
    int fd = py_module_open(getpid(), &m, why, sizeof(why));
    assert_true(fd >= 0); /* /proc/PID/root + path is this very file */
    close(fd);
    char want[128];
    snprintf(want, sizeof(want), "/proc/%d/root%s", (int)getpid(), a);
    assert_string_equal(m.open_path, want);
    /* maps says b's inode at a's path (the file there was replaced): both path candidates are
     * a different file, and this process has no mapping at 0x1000 for map_files */
    m.ino = (uint64_t)sb.st_ino;
    fd = py_module_open(getpid(), &m, why, sizeof(why));
    assert_int_equal(fd, -1);
    assert_non_null(strstr(why, "a different file"));
    assert_non_null(strstr(why, "map_files/1000-2000"));
    unlink(a);
    unlink(b);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lnotab),         cmocka_unit_test(test_pep626),
        cmocka_unit_test(test_locations),      cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_short_filename), cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_module_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
