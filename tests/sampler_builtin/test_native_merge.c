/* test_native_merge.c - `--native`'s merge rule (py-spy's native_stack_trace.rs), apart from
 * libdw: which native frames are dropped, kept or stand for an eval-loop call, and how the
 * Python frames (with their entry flags) are put in place of the eval calls. The frames are
 * made up here; the real unwinding is exercised by features.sh on live targets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pysampler.h"

static void test_kinds(void **state)
{
    (void)state;
    const char *lib = "/usr/lib/libpython3.11.so.1.0",
               *libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    assert_int_equal(py_native_kind("_PyEval_EvalFrameDefault", lib, true), PY_NATIVE_EVAL);
    assert_int_equal(py_native_kind("_PyEval_EvalFrameDefault.cold", lib, true), PY_NATIVE_EVAL);
    assert_int_equal(py_native_kind("PyEval_EvalFrameEx", lib, true), PY_NATIVE_EVAL);
    assert_int_equal(py_native_kind("PyEval_EvalCode", lib, true), PY_NATIVE_IGNORE);
    assert_int_equal(py_native_kind("list_sort_impl", lib, true), PY_NATIVE_IGNORE);
    assert_int_equal(py_native_kind("time_sleep", lib, true), PY_NATIVE_KEEP);
    assert_int_equal(py_native_kind("PyThread_acquire_lock_timed", lib, true), PY_NATIVE_KEEP);
    assert_int_equal(py_native_kind("_PyGilState_NoteThreadState", lib, true), PY_NATIVE_KEEP);
    assert_int_equal(py_native_kind(NULL, lib, true), PY_NATIVE_IGNORE);
    /* other modules: kept, but for the thread and process start-up frames py-spy drops */
    assert_int_equal(py_native_kind("qsort_r", libc, false), PY_NATIVE_KEEP);
    assert_int_equal(py_native_kind(NULL, libc, false), PY_NATIVE_KEEP);
    assert_int_equal(py_native_kind("__libc_start_main@@GLIBC_2.34", libc, false),
                     PY_NATIVE_IGNORE);
    assert_int_equal(py_native_kind("__clone", libc, false), PY_NATIVE_IGNORE);
    assert_int_equal(py_native_kind("__clone3", libc, false), PY_NATIVE_KEEP);
    assert_int_equal(py_native_kind("start_thread", "/lib/libpthread.so.0", false),
                     PY_NATIVE_IGNORE);
    assert_int_equal(py_native_kind("start_thread", libc, false), PY_NATIVE_KEEP);
}

static py_code codes[8];

static py_frame pyf(int c, bool entry)
{
    py_frame f = {&codes[c], 10 + c, entry};
    return f;
}

static py_native_frame nf(int kind, int c)
{
    py_native_frame f = {kind, kind == PY_NATIVE_KEEP ? &codes[c] : NULL, 0};
    return f;
}

/* 3.11-style: callback (entry) called from C; main and <module> run in one eval call. */
static void test_merge_groups(void **state)
{
    (void)state;
    /* Python, innermost first: cmp(entry) | main, module(entry) */
    py_frame py[] = {pyf(0, true), pyf(1, false), pyf(2, true)};
    /* native: eval(cmp), closure(5), qsort(6), ignored, eval(main+module), start(7) */
    py_native_frame nat[] = {nf(PY_NATIVE_EVAL, 0),   nf(PY_NATIVE_KEEP, 5), nf(PY_NATIVE_KEEP, 6),
                             nf(PY_NATIVE_IGNORE, 0), nf(PY_NATIVE_EVAL, 0), nf(PY_NATIVE_KEEP, 7)};
    py_frame out[16];
    int k = py_merge_stacks(nat, 6, py, 3, out, 16);
    assert_int_equal(k, 6);
    const py_code *want[] = {&codes[0], &codes[5], &codes[6], &codes[1], &codes[2], &codes[7]};
    for (int i = 0; i < 6; i++)
        assert_ptr_equal(out[i].code, want[i]);
    assert_int_equal(out[0].line, 10);
    assert_int_equal(out[3].line, 11);
}

/* 3.8-3.10: every frame is an entry, one eval call each. */
static void test_merge_each_frame(void **state)
{
    (void)state;
    py_frame py[] = {pyf(0, true), pyf(1, true)};
    py_native_frame nat[] = {nf(PY_NATIVE_EVAL, 0), nf(PY_NATIVE_KEEP, 5), nf(PY_NATIVE_EVAL, 0)};
    py_frame out[8];
    assert_int_equal(py_merge_stacks(nat, 3, py, 2, out, 8), 3);
    assert_ptr_equal(out[0].code, &codes[0]);
    assert_ptr_equal(out[1].code, &codes[5]);
    assert_ptr_equal(out[2].code, &codes[1]);
}

static void test_merge_mismatch(void **state)
{
    (void)state;
    py_frame py[] = {pyf(0, true), pyf(1, true), pyf(2, true)};
    py_frame out[8];
    /* no eval frame: the Python frames go after the native ones */
    py_native_frame only[] = {nf(PY_NATIVE_KEEP, 5)};
    assert_int_equal(py_merge_stacks(only, 1, py, 3, out, 8), 4);
    assert_ptr_equal(out[0].code, &codes[5]);
    assert_ptr_equal(out[3].code, &codes[2]);
    /* one eval frame more than the Python groups: accepted */
    py_native_frame extra[] = {nf(PY_NATIVE_EVAL, 0), nf(PY_NATIVE_EVAL, 0), nf(PY_NATIVE_EVAL, 0),
                               nf(PY_NATIVE_EVAL, 0)};
    assert_int_equal(py_merge_stacks(extra, 4, py, 3, out, 8), 3);
    /* two more, or fewer than the groups: refused */
    py_native_frame more[] = {nf(PY_NATIVE_EVAL, 0), nf(PY_NATIVE_EVAL, 0), nf(PY_NATIVE_EVAL, 0),
                              nf(PY_NATIVE_EVAL, 0), nf(PY_NATIVE_EVAL, 0)};
    assert_int_equal(py_merge_stacks(more, 5, py, 3, out, 8), -1);
    py_native_frame fewer[] = {nf(PY_NATIVE_EVAL, 0), nf(PY_NATIVE_KEEP, 5)};
    assert_int_equal(py_merge_stacks(fewer, 2, py, 3, out, 8), -1);
    /* the output is bounded */
    assert_int_equal(py_merge_stacks(only, 1, py, 3, out, 2), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_merge_groups),
        cmocka_unit_test(test_merge_each_frame),
        cmocka_unit_test(test_merge_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
