/* test_http_parse.c - the front's strict HTTP/1.1 parser (src/api/parse.c):
 * what it accepts and how it reads it. What it must reject is the corpus in
 * tests/hardening/http_corpus.py, run against the real server; the cases
 * here pin the accepting side and the limits, so strictness cannot creep
 * into refusing valid requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"

static api_parse_result parse(const char *s, api_head *h)
{
    size_t end = 0;
    api_parse_result r = api__head_end(s, strlen(s), &end);
    if (r != API_PARSE_OK)
        return r;
    char why[200];
    return api__parse_head(s, end, h, why, sizeof why);
}

static void test_head_end(void **state)
{
    (void)state;
    size_t end = 0;
    const char *s = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nNEXT";
    assert_int_equal(api__head_end(s, strlen(s), &end), API_PARSE_OK);
    assert_string_equal(s + end, "NEXT");
    assert_int_equal(api__head_end("GET / HTTP/1.1\r\nHost: a\r\n\r", 26, &end), API_PARSE_MORE);
    assert_int_equal(api__head_end("GET / HTTP/1.1\r\nHost: a\n", 24, &end), API_PARSE_BAD);
    assert_int_equal(api__head_end("GET / HTTP/1.1\rX", 16, &end), API_PARSE_BAD);
    char *big = malloc(API_HTTP_MAX_HEAD + 100);
    memset(big, 'a', API_HTTP_MAX_HEAD + 100);
    assert_int_equal(api__head_end(big, API_HTTP_MAX_HEAD + 100, &end), API_PARSE_HEAD_TOO_LARGE);
    free(big);
}

static void test_accepts(void **state)
{
    (void)state;
    api_head h;
    assert_int_equal(parse("GET /api/v1/monitoring/profile?limit=5&service_name=a+b%2Fc&flag "
                           "HTTP/1.1\r\nHOST: example:8080\r\nX-Empty:\r\nX-Pad: \t v \t\r\n\r\n",
                           &h),
                     API_PARSE_OK);
    assert_string_equal(h.method, "GET");
    assert_string_equal(h.path, "/api/v1/monitoring/profile");
    assert_string_equal(api__head_arg(&h, "limit"), "5");
    assert_string_equal(api__head_arg(&h, "service_name"), "a b/c");
    assert_string_equal(api__head_arg(&h, "flag"), "");
    assert_null(api__head_arg(&h, "missing"));
    assert_string_equal(api__head_field(&h, "host"), "example:8080");
    assert_string_equal(api__head_field(&h, "x-empty"), "");
    assert_string_equal(api__head_field(&h, "X-PAD"), "v");
    assert_int_equal(h.minor, 1);
    assert_true(h.keep_alive);
    assert_int_equal(h.body, API_BODY_NONE);
    api__head_free(&h);

    assert_int_equal(parse("POST /x%41 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n"
                           "Connection: keep-alive, Close\r\nExpect: 100-continue\r\n\r\n",
                           &h),
                     API_PARSE_OK);
    assert_string_equal(h.path, "/xA");
    assert_int_equal(h.body, API_BODY_LENGTH);
    assert_int_equal(h.length, 12);
    assert_false(h.keep_alive);
    assert_true(h.expect_100);
    api__head_free(&h);

    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", &h),
                     API_PARSE_OK);
    assert_int_equal(h.body, API_BODY_CHUNKED);
    api__head_free(&h);

    /* HTTP/1.0: Host optional, close unless keep-alive. */
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h), API_PARSE_OK);
    assert_false(h.keep_alive);
    api__head_free(&h);
    assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &h), API_PARSE_OK);
    assert_true(h.keep_alive);
    api__head_free(&h);
    /* Content-Length: 0 is no body. */
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &h),
                     API_PARSE_OK);
    assert_int_equal(h.body, API_BODY_NONE);
    api__head_free(&h);
}

static void test_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *req;
        api_parse_result want;
    } cases[] = {
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", API_PARSE_BAD_VERSION},
        {"GET / HTTP/1.1\r\n\r\n", API_PARSE_BAD},
        {"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", API_PARSE_BAD},
        {"GET /a%00 HTTP/1.1\r\nHost: a\r\n\r\n", API_PARSE_BAD},
        {"GET /a%0a HTTP/1.1\r\nHost: a\r\n\r\n", API_PARSE_BAD},
        {"GET /?a=%00 HTTP/1.1\r\nHost: a\r\n\r\n", API_PARSE_BAD},
        {"GET /?a=%g0 HTTP/1.1\r\nHost: a\r\n\r\n", API_PARSE_BAD},
        {"GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", API_PARSE_BAD},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
         API_PARSE_BAD},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1234567890123456789\r\n\r\n",
         API_PARSE_BAD},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-V: a\x1b[31m\r\n\r\n", API_PARSE_BAD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        api_head h;
        api_parse_result r = parse(cases[i].req, &h);
        api__head_free(&h);
        if (r != cases[i].want)
            fail_msg("case %zu: got %d, want %d", i, (int)r, (int)cases[i].want);
    }
    /* 65 fields: too many. */
    char req[4096] = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < API_HTTP_MAX_FIELDS; i++)
        strcat(req, "X: y\r\n");
    strcat(req, "\r\n");
    api_head h;
    assert_int_equal(parse(req, &h), API_PARSE_HEAD_TOO_LARGE);
    api__head_free(&h);
}

static api_parse_result chunked(const char *in, size_t cap, char **body, size_t *len, size_t *used)
{
    api_chunked c;
    memset(&c, 0, sizeof c);
    *body = NULL;
    *len = 0;
    /* One byte at a time: the decoder must keep its state across calls. */
    size_t n = strlen(in), u = 0, total = 0;
    api_parse_result r = API_PARSE_MORE;
    for (size_t i = 0; i < n && r == API_PARSE_MORE; i += u) {
        r = api__chunked_feed(&c, in + i, 1, &u, body, len, cap);
        total += u;
    }
    *used = total;
    return r;
}

static void test_chunked(void **state)
{
    (void)state;
    char *b;
    size_t len, used;
    const char *in = "5;name=value;q=\"a \\\" b\"\r\nhello\r\n6 ; x\r\n world\r\n0\r\n"
                     "Trailer-Field: ok\r\n\r\nNEXT";
    assert_int_equal(chunked(in, 100, &b, &len, &used), API_PARSE_OK);
    assert_int_equal(len, 11);
    assert_memory_equal(b, "hello world", 11);
    assert_string_equal(in + used, "NEXT");
    free(b);
    assert_int_equal(chunked("A\r\n0123456789\r\n0\r\n\r\n", 5, &b, &len, &used),
                     API_PARSE_BODY_TOO_LARGE);
    free(b);
    assert_int_equal(chunked("fffffffffffffffff\r\n", 100, &b, &len, &used), API_PARSE_BAD);
    free(b);
    assert_int_equal(chunked("5\r\nhello\n0\r\n\r\n", 100, &b, &len, &used), API_PARSE_BAD);
    free(b);
}

static void test_percent_decode(void **state)
{
    (void)state;
    char *s = api__percent_decode("a%2fb+c%C3%A9", 13, true, false);
    assert_string_equal(s, "a/b c\xc3\xa9");
    free(s);
    s = api__percent_decode("a+b", 3, false, true);
    assert_string_equal(s, "a+b");
    free(s);
    assert_null(api__percent_decode("%00", 3, true, false));
    assert_null(api__percent_decode("%0", 2, true, false));
    assert_null(api__percent_decode("%", 1, true, false));
    assert_null(api__percent_decode("%09", 3, false, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_end),       cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_rejects),        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_percent_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
