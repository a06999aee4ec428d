/* test_util.c - the shared helpers: RFC 3339, UUIDs, name rules, URL
 * redaction and the file helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profd/util.h"

static void test_rfc3339(void **state)
{
    (void)state;
    int64_t ms;
    char out[32];
    assert_int_equal(profd_parse_rfc3339("2024-01-15T10:30:00Z", &ms), 0);
    assert_int_equal(ms, 1705314600000LL);
    profd_rfc3339(ms, out);
    assert_string_equal(out, "2024-01-15T10:30:00Z");
    assert_int_equal(profd_parse_rfc3339("2024-01-15T11:30:00.250+01:00", &ms), 0);
    assert_int_equal(ms, 1705314600250LL);
    const char *bad[] = {"",
                         "2024-01-15",
                         "2024-13-01T00:00:00Z",
                         "2024-01-15T10:30:00",
                         "2024-01-15T10:30:00Zjunk",
                         "2024-01-15T25:00:00Z",
                         "2024-01-15T10:30:00.Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(profd_parse_rfc3339(bad[i], &ms), -1);
}

static void test_uuids(void **state)
{
    (void)state;
    char id[PROFD_UUID_LEN + 1], again[PROFD_UUID_LEN + 1];
    /* RFC 4122 appendix B's DNS namespace; a widely published v5 value. */
    profd_uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org", id);
    assert_string_equal(id, "886313e1-3b8a-5372-9b90-0c9aee199e5d");
    profd_uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org", again);
    assert_string_equal(id, again);
    profd_uuid4(id);
    profd_uuid4(again);
    assert_true(profd_uuid_valid(id));
    assert_string_not_equal(id, again);
    assert_int_equal(id[14], '4');
    assert_false(profd_uuid_valid("886313e1-3b8a-5372-9b90-0c9aee199e5"));
    assert_false(profd_uuid_valid("886313e1x3b8a-5372-9b90-0c9aee199e5d"));
    assert_false(profd_uuid_valid("../../etc/passwd-00000000000000000000"));
}

static void test_service_names(void **state)
{
    (void)state;
    assert_true(profd_service_name_valid("web-api"));
    assert_true(profd_service_name_valid("a"));
    assert_true(profd_service_name_valid("jobs.worker_2"));
    char long63[64];
    memset(long63, 'a', 63);
    long63[63] = '\0';
    assert_true(profd_service_name_valid(long63));
    const char *bad[] = {"",       "-web",   "Web", "web api",
                         "../etc", "web;rm", "a/b", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(profd_service_name_valid(bad[i]));
    char long64[65];
    memset(long64, 'a', 64);
    long64[64] = '\0';
    assert_false(profd_service_name_valid(long64));
}

static void test_url_redact(void **state)
{
    (void)state;
    char out[256];
    profd_url_redact("redis://:s3cret@10.0.0.1:6379/0", out, sizeof out);
    assert_string_equal(out, "redis://:***@10.0.0.1:6379/0");
    profd_url_redact("rediss://user:s3cret@host:6380", out, sizeof out);
    assert_string_equal(out, "rediss://user:***@host:6380");
    profd_url_redact("redis://127.0.0.1:6379/0", out, sizeof out);
    assert_string_equal(out, "redis://127.0.0.1:6379/0");
    profd_url_redact("file:///tmp/a@b", out, sizeof out);
    assert_string_equal(out, "file:///tmp/a@b");
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/profd-util.XXXXXX", path[300];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    assert_int_equal(profd_mkdir_p(path, 0700), 0);
    assert_int_equal(profd_mkdir_p(path, 0700), 0); /* exists: fine */
    snprintf(path, sizeof path, "%s/a/file", dir);
    assert_int_equal(profd_write_file_atomic(path, "hello", 5), 0);
    size_t n = 0;
    char *got = profd_read_file(path, 1024, &n);
    assert_non_null(got);
    assert_int_equal(n, 5);
    assert_string_equal(got, "hello");
    free(got);
    assert_null(profd_read_file(path, 3, &n)); /* over the cap */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* RFC 4648 section 10's vectors in both alphabets, and the two decoders. */
static void test_base64(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const padded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                         "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[16];
        unsigned char back[16];
        size_t n = strlen(plain[i]);
        assert_int_equal(profd_b64_encode((const unsigned char *)plain[i], n, false, out),
                         strlen(padded[i]));
        assert_string_equal(out, padded[i]);
        profd_b64_encode((const unsigned char *)plain[i], n, true, out);
        assert_string_equal(out, url[i]);
        assert_int_equal(profd_b64url_decode(url[i], strlen(url[i]), back), (long)n);
        assert_memory_equal(back, plain[i], n);
        size_t got = 99;
        assert_int_equal(profd_b64_decode(padded[i], back, &got), 0);
        assert_int_equal(got, n);
        assert_memory_equal(back, plain[i], n);
    }
    unsigned char raw[] = {0xfb, 0xff, 0xbf}, back[8];
    char *s = profd_b64(raw, 3, false);
    assert_string_equal(s, "+/+/");
    free(s);
    s = profd_b64(raw, 3, true);
    assert_string_equal(s, "-_-_");
    free(s);
    size_t got;
    assert_int_equal(profd_b64_decode("-_-_", back, &got), 0); /* lenient: either alphabet */
    assert_memory_equal(back, raw, 3);
    assert_int_equal(profd_b64url_decode("+/+/", 4, back), -1); /* strict: URL alphabet only */
    assert_int_equal(profd_b64url_decode("Zg==", 4, back), -1); /* no padding */
    assert_int_equal(profd_b64url_decode("Zh", 2, back), -1);   /* stray bits */
    assert_int_equal(profd_b64_decode("Z!", back, &got), -1);
}

static void esc(const char *in, size_t len, unsigned flags, size_t cap, const char *want)
{
    char out[256];
    size_t n = profd_escape(in, len == SIZE_MAX ? strlen(in) : len, flags, out, cap);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, want);
}

/* profd_escape: the one rule for untrusted text in logs and details. */
static void test_escape(void **state)
{
    (void)state;
    const unsigned C = PROFD_ESC_CONTROLS;
    esc("plain text", SIZE_MAX, C, 256, "plain text");
    esc("a\nb\rc\td\\e", SIZE_MAX, C, 256, "a\\nb\\rc\\td\\\\e");
    esc("a\nb", SIZE_MAX, 0, 256, "a\nb"); /* without CONTROLS: left to the JSON encoder */
    esc("\x1b[2J\x7f", SIZE_MAX, C, 256, "\\x1b[2J\\x7f");
    esc("nul\0x", 5, C, 256, "nul\\x00x");
    esc("nul\0x", 5, 0, 256, "nul\\x00x"); /* a NUL always: the output is a C string */
    /* Valid UTF-8 stays, whatever the flags. */
    esc("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5", SIZE_MAX, C, 256,
        "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5");
    /* Invalid UTF-8 never does: stray bytes, overlongs, surrogates, > U+10FFFF,
     * a sequence cut by the end of the input. */
    esc("\xff\xfe", SIZE_MAX, 0, 256, "\\xff\\xfe");
    esc("\xc0\xaf", SIZE_MAX, 0, 256, "\\xc0\\xaf");
    esc("\xe0\x80\xaf", SIZE_MAX, 0, 256, "\\xe0\\x80\\xaf");
    esc("\xed\xa0\x80", SIZE_MAX, 0, 256, "\\xed\\xa0\\x80");
    esc("\xf4\x90\x80\x80", SIZE_MAX, 0, 256, "\\xf4\\x90\\x80\\x80");
    esc("ok\xe2\x82", SIZE_MAX, 0, 256, "ok\\xe2\\x82");
    /* C1 controls and the line/paragraph separators, with CONTROLS only. */
    esc("\xc2\x85|\xe2\x80\xa8|\xe2\x80\xa9", SIZE_MAX, C, 256, "\\u0085|\\u2028|\\u2029");
    esc("\xe2\x80\xa8", SIZE_MAX, 0, 256, "\xe2\x80\xa8");
    /* Cut between characters, never inside an escape or a sequence. */
    esc("ab\ncd", SIZE_MAX, C, 4, "ab");
    esc("ab\xc3\xa9", SIZE_MAX, C, 4, "ab");
    esc("abc", SIZE_MAX, C, 1, "");
    char one;
    assert_int_equal(profd_escape("x", 1, C, &one, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3339),       cmocka_unit_test(test_uuids),
        cmocka_unit_test(test_service_names), cmocka_unit_test(test_url_redact),
        cmocka_unit_test(test_files),         cmocka_unit_test(test_base64),
        cmocka_unit_test(test_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
