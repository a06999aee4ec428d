/* test_memory_output.c - the parser of the memory capture script's output
 * (src/sampler/memory_output.c): what the script writes is accepted and copied out as
 * collapsed stacks; every rule of the untrusted-input check refuses with its own line;
 * the summary file round trip the worker relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "profd/sampler.h"

#define GOOD_HEAD "# profd-memory 1\n"
#define GOOD_STACKS                                                                                \
    "<module> (app.py:30);main (app.py:20);grow_cache (app.py:6) 41945640\n"                       \
    "<module> (app.py:30);main (app.py:21);grow_index (app.py:9) 10486458\n"
#define GOOD_SUMMARY "# summary bytes=52432098 blocks=100 peak=52449845 frames=64 tracer=profd\n"
#define GOOD GOOD_HEAD GOOD_STACKS GOOD_SUMMARY "# end\n"

static int parse(const char *text, char *out, size_t outlen, profd_memory_summary *sum, char *msg)
{
    FILE *f = out ? fmemopen(out, outlen, "w") : NULL;
    int rc = profd_memory_parse(text, strlen(text), f, sum, msg, 512);
    if (f)
        fclose(f);
    return rc;
}

static void test_good_output(void **state)
{
    (void)state;
    char out[1024] = "", msg[512] = "";
    profd_memory_summary sum;
    assert_int_equal(parse(GOOD, out, sizeof out, &sum, msg), 0);
    assert_string_equal(out, GOOD_STACKS);
    assert_int_equal(sum.bytes, 52432098);
    assert_int_equal(sum.blocks, 100);
    assert_int_equal(sum.peak, 52449845);
    assert_int_equal(sum.frames, 64);
    assert_int_equal(sum.stacks, 2);
    assert_false(sum.traced_by_target);
    const char *target = GOOD_HEAD GOOD_STACKS
        "# summary bytes=52432098 blocks=100 peak=9 frames=8 tracer=target\n# end\n";
    assert_int_equal(parse(target, NULL, 0, &sum, msg), 0);
    assert_true(sum.traced_by_target);
    const char *empty = GOOD_HEAD "# summary bytes=0 blocks=0 peak=0 frames=1 tracer=profd\n"
                                  "# end\n";
    assert_int_equal(parse(empty, NULL, 0, &sum, msg), 0);
    assert_int_equal(sum.stacks, 0);
}

static void test_bad_output(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why;
    } cases[] = {
        {"", "does not end with a newline"},
        {"# profd-memory 2\n# end\n", "line 1: the first line must be"},
        {GOOD_HEAD GOOD_STACKS GOOD_SUMMARY, "does not end with '# end'"},
        {GOOD_HEAD GOOD_STACKS "# end\n", "no summary line"},
        {GOOD_HEAD GOOD_STACKS GOOD_SUMMARY "# end\nmore\n", "text after '# end'"},
        {GOOD_HEAD "a;b 0\n# summary bytes=0 blocks=0 peak=0 frames=1 tracer=profd\n# end\n",
         "line 2: a stack line must end in a space and a positive byte count"},
        {GOOD_HEAD "a;b 012\n", "line 2: a stack line must end"},
        {GOOD_HEAD "a;b -5\n", "line 2: a stack line must end"},
        {GOOD_HEAD "a;b 99999999999999999\n", "line 2: a stack line must end"},
        {GOOD_HEAD "a;;b 5\n", "line 2: empty frame"},
        {GOOD_HEAD ";b 5\n", "line 2: empty frame"},
        {GOOD_HEAD "a; 5\n", "line 2: empty frame"},
        {GOOD_HEAD "a\tb 5\n", "line 2: control character"},
        {GOOD_HEAD "5\n", "line 2: a stack line must end"},
        {GOOD_HEAD "# comment\n", "line 2: unknown or repeated '#' line"},
        {GOOD_HEAD GOOD_SUMMARY GOOD_SUMMARY "# end\n", "line 3: unknown or repeated"},
        {GOOD_HEAD GOOD_SUMMARY "a 5\n# end\n", "line 3: a stack line after the summary"},
        {GOOD_HEAD "a 5\n# summary bytes=6 blocks=1 peak=1 frames=1 tracer=profd\n# end\n",
         "bytes= differs from the sum"},
        {GOOD_HEAD "a 5\n# summary bytes=5 blocks=1 frames=1 tracer=profd\n# end\n",
         "line 3: the summary needs bytes="},
        {GOOD_HEAD "a 5\n# summary bytes=5 blocks=1 peak=1 frames=1 tracer=me\n# end\n",
         "line 3: tracer= must be"},
        {GOOD_HEAD "a 5\n# summary bytes=5 blocks=1 peak=1 frames=0 tracer=profd\n# end\n",
         "line 3: the summary needs"},
        {GOOD_HEAD "# error MemoryError\n# end\n", "script failed in the target (MemoryError)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[512] = "";
        profd_memory_summary sum;
        if (parse(cases[i].text, NULL, 0, &sum, msg) != -1 || !strstr(msg, cases[i].why))
            fail_msg("case %zu: got '%s', want '%s'", i, msg, cases[i].why);
    }
}

static void test_limits(void **state)
{
    (void)state;
    char msg[512];
    profd_memory_summary sum;
    /* a NUL byte, counted by length */
    const char nul[] = GOOD_HEAD "a\0b 5\n";
    assert_int_equal(profd_memory_parse(nul, sizeof nul - 1, NULL, &sum, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "NUL byte"));
    /* a line over the limit */
    size_t n = strlen(GOOD_HEAD) + PROFD_MEMORY_LINE_MAX + 16;
    char *big = malloc(n + 1);
    assert_non_null(big);
    strcpy(big, GOOD_HEAD);
    memset(big + strlen(GOOD_HEAD), 'a', n - strlen(GOOD_HEAD) - 3);
    memcpy(big + n - 3, " 5\n", 4);
    assert_int_equal(profd_memory_parse(big, n, NULL, &sum, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "line 2: line longer than 256 KiB"));
    free(big);
    /* the whole file over the limit is refused before it is read */
    assert_int_equal(
        profd_memory_parse("x", (size_t)PROFD_MEMORY_OUTPUT_MAX + 1, NULL, &sum, msg, sizeof msg),
        -1);
    assert_non_null(strstr(msg, "64 MiB"));
}

static void test_summary_file(void **state)
{
    (void)state;
    char path[] = "/tmp/profd-memsum-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *j = "{\"bytes_total\":52432098,\"blocks_total\":100,\"peak_bytes\":7,\"stacks\":2,"
                    "\"frames\":64,\"traced_by_target\":true,\"overhead_percent\":12.5}";
    assert_int_equal(write(fd, j, strlen(j)), (ssize_t)strlen(j));
    close(fd);
    profd_memory_summary sum;
    double overhead;
    assert_int_equal(profd_memory_summary_read(path, &sum, &overhead), 0);
    assert_int_equal(sum.bytes, 52432098);
    assert_int_equal(sum.blocks, 100);
    assert_true(sum.traced_by_target);
    assert_true(overhead > 12.4 && overhead < 12.6);
    unlink(path);
    assert_int_equal(profd_memory_summary_read(path, &sum, &overhead), -1);
    assert_true(overhead < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_output),
        cmocka_unit_test(test_bad_output),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_summary_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
