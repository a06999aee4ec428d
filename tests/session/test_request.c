/* test_request.c - profd_request_parse against the shared fixture set and the
 * rules the fixtures cannot show (configured bounds, size limit, defaults,
 * session id kept on failure, truncations).
 *
 * Every .json file in tests/fixtures/requests/good must parse, and survive a
 * round trip through profd_request_to_json; every one in bad/ must fail with
 * invalid_request and the error line that tests/fixtures/requests/EXPECTED
 * lists for it, so a fixture cannot pass for the wrong reason. The same files
 * go through the JSON Schema in tests/session/schema_drift.sh.
 *
 * With PROFD_EMIT_DIR set, the good test also writes what profd itself
 * produces (re-encoded requests, sessions and events) into that directory, for
 * schema_drift.sh to hold against the schemas. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "profd/session.h"
#include "json_check.h"

static const profd_limits seed_limits = {10, 300};
static const profd_limits integration_limits = {1, 300};

static char *fixture_dir(const char *sub, char *buf, size_t size)
{
    const char *src = getenv("PROFD_SOURCE_DIR");
    if (snprintf(buf, size, "%s/tests/fixtures/requests/%s", src ? src : ".", sub) >= (int)size)
        fail_msg("PROFD_SOURCE_DIR is too long");
    return buf;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.json names of a fixture directory; NULL-terminated, malloc'd. */
static char **list_json(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s (is PROFD_SOURCE_DIR set?)", dir);
    size_t n = 0, cap = 256;
    char **names = calloc(cap + 1, sizeof *names);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        assert_true(n < cap);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    *count = n;
    return names;
}

static void free_list(char **names)
{
    for (char **p = names; *p; p++)
        free(*p);
    free(names);
}

static char *read_fixture(const char *dir, const char *name, size_t *len)
{
    char path[8192];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        fail_msg("path too long: %s", dir);
    char *buf = profd_read_file(path, 1 << 20, len);
    if (!buf)
        fail_msg("cannot read %s", path);
    return buf;
}

static void write_emit(const char *name, const char *text)
{
    const char *dir = getenv("PROFD_EMIT_DIR");
    if (!dir || !*dir)
        return;
    char path[8192];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        fail_msg("path too long: %s", dir);
    assert_int_equal(profd_write_file_atomic(path, text, strlen(text)), 0);
}

static void assert_same_request(const profd_request *a, const profd_request *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->type, b->type);
    assert_string_equal(a->session_id, b->session_id);
    assert_string_equal(a->service_name, b->service_name);
    assert_int_equal(a->duration_seconds, b->duration_seconds);
    assert_int_equal(a->pid, b->pid);
    assert_int_equal(a->rate_hz, b->rate_hz);
    assert_string_equal(a->host, b->host);
    assert_string_equal(a->trigger, b->trigger);
    assert_string_equal(a->requested_by, b->requested_by);
    assert_string_equal(a->requested_at, b->requested_at);
    assert_memory_equal(&a->options, &b->options, sizeof a->options);
    assert_string_equal(a->alert_source, b->alert_source);
    assert_true(json_object_equal(a->alert_payload, b->alert_payload));
    if (a->labels && b->labels)
        assert_true(json_object_equal(a->labels, b->labels));
    else /* absent labels are re-encoded as {} */
        assert_int_equal(json_object_object_length(a->labels ? a->labels : b->labels), 0);
}

static void emit_session(const char *kind, const char *name, const profd_session *s)
{
    char file[512], *text;
    text = profd_session_to_string(s, false);
    snprintf(file, sizeof file, "session-%s-%s", kind, name);
    write_emit(file, text);
    free(text);
    text = profd_session_to_string(s, true);
    snprintf(file, sizeof file, "session-stored-%s-%s", kind, name);
    write_emit(file, text);
    free(text);
    text = profd_event_to_string(kind, s);
    snprintf(file, sizeof file, "event-%s-%s", kind, name);
    write_emit(file, text);
    free(text);
}

/* The sessions and events profd would make of a good request through its
 * life: queued, started (running), then completed, or failed. */
static void emit_session_and_events(const char *name, const profd_request *r)
{
    profd_session s, failed;
    profd_session_from_request(&s, r);
    if (!s.session_id[0])
        profd_uuid4(s.session_id);
    emit_session("queued", name, &s);
    profd_session_copy(&failed, &s);
    profd_session_fail(&failed, PROFD_E_TARGET_EXITED, "target process exited");
    emit_session("failed", name, &failed);
    profd_session_free(&failed);
    s.status = PROFD_RUNNING;
    s.started_at = s.created_at + 5;
    s.attempt = 1;
    if (!s.pid)
        s.pid = 4242;
    profd_strlcpy(s.host, "node-1", sizeof s.host);
    profd_strlcpy(s.sampler, "py-spy 0.4.1", sizeof s.sampler);
    emit_session("started", name, &s);
    s.status = PROFD_COMPLETED;
    s.completed_at = s.started_at + 1000L * s.duration_seconds;
    s.sample_count = 5987;
    s.overhead_percent = 2.5;
    snprintf(s.flame_graph_object, sizeof s.flame_graph_object, "sessions/%s/flamegraph.html",
             s.session_id);
    snprintf(s.flame_graph_url, sizeof s.flame_graph_url,
             "http://127.0.0.1:8080/api/v1/monitoring/profile/%s/flamegraph", s.session_id);
    snprintf(s.raw_data_url, sizeof s.raw_data_url,
             "http://127.0.0.1:8080/api/v1/monitoring/profile/%s/raw", s.session_id);
    emit_session("completed", name, &s);
    profd_session_free(&s);
}

static void test_good_fixtures_parse(void **state)
{
    (void)state;
    char dir[4096];
    size_t n;
    char **names = list_json(fixture_dir("good", dir, sizeof dir), &n);
    assert_true(n >= 15);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        char *buf = read_fixture(dir, names[i], &len);
        profd_request r, again;
        profd_error err;
        if (profd_request_parse(buf, len, &seed_limits, &r, &err) != 0)
            fail_msg("good/%s rejected: %s", names[i], err.msg);
        json_object *j = profd_request_to_json(&r);
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
        if (profd_request_parse(text, strlen(text), &seed_limits, &again, &err) != 0)
            fail_msg("good/%s re-encoded as %s is rejected: %s", names[i], text, err.msg);
        assert_same_request(&r, &again);
        char file[512];
        snprintf(file, sizeof file, "request-%s", names[i]);
        write_emit(file, text);
        if (r.type == PROFD_REQ_PROFILE)
            emit_session_and_events(names[i], &r);
        json_object_put(j);
        profd_request_free(&r);
        profd_request_free(&again);
        free(buf);
    }
    free_list(names);
}

typedef struct expected {
    char name[256];
    char prefix[256];
    bool seen;
} expected;

static expected *read_expected(size_t *count)
{
    char dir[4096];
    size_t len;
    char *text = read_fixture(fixture_dir("", dir, sizeof dir), "EXPECTED", &len);
    expected *list = calloc(512, sizeof *list);
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab)
            continue;
        assert_true(n < 512);
        *tab = '\0';
        profd_strlcpy(list[n].name, line, sizeof list[n].name);
        profd_strlcpy(list[n].prefix, tab + 1, sizeof list[n].prefix);
        n++;
    }
    free(text);
    *count = n;
    return list;
}

static expected *find_expected(expected *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    return NULL;
}

static void test_bad_fixtures_rejected_for_their_reason(void **state)
{
    (void)state;
    char dir[4096];
    size_t n, ne;
    char **names = list_json(fixture_dir("bad", dir, sizeof dir), &n);
    expected *list = read_expected(&ne);
    assert_true(n >= 60);
    for (size_t i = 0; i < n; i++) {
        expected *e = find_expected(list, ne, names[i]);
        if (!e)
            fail_msg("bad/%s is not listed in tests/fixtures/requests/EXPECTED", names[i]);
        e->seen = true;
        size_t len;
        char *buf = read_fixture(dir, names[i], &len);
        profd_request r;
        profd_error err;
        if (profd_request_parse(buf, len, &seed_limits, &r, &err) == 0)
            fail_msg("bad/%s was accepted", names[i]);
        assert_string_equal(err.code, PROFD_E_INVALID);
        if (strncmp(err.msg, e->prefix, strlen(e->prefix)) != 0)
            fail_msg("bad/%s: error \"%s\", want it to start with \"%s\"", names[i], err.msg,
                     e->prefix);
        assert_null(strchr(err.msg, '\n'));
        /* tests/integration/dlq.sh sends the bad corpus to workers running
         * with PROFD_DURATION_MIN=1: each file must be bad there too. */
        if (profd_request_parse(buf, len, &integration_limits, &r, &err) == 0)
            fail_msg("bad/%s is accepted with PROFD_DURATION_MIN=1", names[i]);
        assert_null(r.labels);
        assert_null(r.alert_payload);
        profd_request_free(&r);
        free(buf);
    }
    for (size_t i = 0; i < ne; i++)
        if (!list[i].seen)
            fail_msg("EXPECTED lists %s, which is not in bad/", list[i].name);
    free(list);
    free_list(names);
}

static int parse_str(const char *s, const profd_limits *lim, profd_request *r, profd_error *err)
{
    return profd_request_parse(s, strlen(s), lim, r, err);
}

static void test_defaults(void **state)
{
    (void)state;
    profd_request r;
    profd_error err;
    profd_request_init(&r);
    assert_int_equal(r.version, 1);
    assert_int_equal(r.type, PROFD_REQ_PROFILE);
    assert_int_equal(r.duration_seconds, 60);
    assert_int_equal(r.rate_hz, 100);
    assert_string_equal(r.trigger, "api");
    assert_int_equal(parse_str("{\"service_name\":\"web-api\"}", &seed_limits, &r, &err), 0);
    assert_int_equal(r.version, 1);
    assert_int_equal(r.type, PROFD_REQ_PROFILE);
    assert_string_equal(r.service_name, "web-api");
    assert_int_equal(r.duration_seconds, 60);
    assert_int_equal(r.rate_hz, 100);
    assert_int_equal(r.pid, 0);
    assert_string_equal(r.host, "");
    assert_string_equal(r.session_id, "");
    assert_string_equal(r.trigger, "api");
    assert_string_equal(r.requested_at, "");
    assert_false(r.options.nonblocking || r.options.subprocesses || r.options.native ||
                 r.options.idle || r.options.gil);
    assert_null(r.labels);
    /* NULL limits mean the defaults 10..300. */
    assert_int_equal(parse_str("{\"service_name\":\"a\",\"duration_seconds\":301}", NULL, &r, &err),
                     -1);
    assert_string_equal(err.msg, "duration_seconds: Duration must be between 10 and 300 seconds");
    profd_request_free(&r);
}

static void test_duration_names_configured_bounds(void **state)
{
    (void)state;
    profd_request r;
    profd_error err;
    const char *too_long = "{\"service_name\":\"web-api\",\"duration_seconds\":301}";
    assert_int_equal(parse_str(too_long, &seed_limits, &r, &err), -1);
    assert_string_equal(err.code, PROFD_E_INVALID);
    assert_string_equal(err.msg, "duration_seconds: Duration must be between 10 and 300 seconds");
    assert_int_equal(
        parse_str("{\"service_name\":\"web-api\",\"duration_seconds\":9}", &seed_limits, &r, &err),
        -1);
    assert_string_equal(err.msg, "duration_seconds: Duration must be between 10 and 300 seconds");

    const profd_limits fast = {1, 30};
    assert_int_equal(parse_str(too_long, &fast, &r, &err), -1);
    assert_string_equal(err.msg, "duration_seconds: Duration must be between 1 and 30 seconds");
    assert_int_equal(
        parse_str("{\"service_name\":\"web-api\",\"duration_seconds\":2}", &fast, &r, &err), 0);
    assert_int_equal(r.duration_seconds, 2);
    /* The default 60 is clamped into configured bounds that exclude it. */
    assert_int_equal(parse_str("{\"service_name\":\"web-api\"}", &fast, &r, &err), 0);
    assert_int_equal(r.duration_seconds, 30);
    const profd_limits slow = {120, 600};
    assert_int_equal(parse_str("{\"service_name\":\"web-api\"}", &slow, &r, &err), 0);
    assert_int_equal(r.duration_seconds, 120);
    assert_int_equal(
        parse_str("{\"service_name\":\"web-api\",\"duration_seconds\":\"60\"}", &slow, &r, &err),
        -1);
    assert_string_equal(err.msg, "duration_seconds: must be an integer (Duration must be between "
                                 "120 and 600 seconds)");
}

/* A valid message padded with an unknown field to exactly `size` bytes. */
static char *padded_message(size_t size)
{
    const char *head = "{\"service_name\":\"web-api\",\"pad\":\"";
    const char *tail = "\"}";
    char *buf = malloc(size + 1);
    size_t h = strlen(head), t = strlen(tail);
    memcpy(buf, head, h);
    memset(buf + h, 'x', size - h - t);
    memcpy(buf + size - t, tail, t + 1);
    return buf;
}

static void test_size_limit(void **state)
{
    (void)state;
    profd_request r;
    profd_error err;
    char *ok = padded_message(PROFD_MAX_MESSAGE);
    assert_int_equal(profd_request_parse(ok, PROFD_MAX_MESSAGE, &seed_limits, &r, &err), 0);
    char *big = padded_message(PROFD_MAX_MESSAGE + 1);
    assert_int_equal(profd_request_parse(big, PROFD_MAX_MESSAGE + 1, &seed_limits, &r, &err), -1);
    assert_string_equal(err.code, PROFD_E_INVALID);
    assert_string_equal(err.msg, "message: 65537 bytes is over the 65536-byte limit");
    free(ok);
    free(big);
}

static void test_session_id_kept_on_failure(void **state)
{
    (void)state;
    profd_request r;
    profd_error err;
    const char *msg = "{\"session_id\":\"123E4567-E89B-42D3-A456-426614174ABC\","
                      "\"service_name\":\"../etc\",\"labels\":{\"a\":\"b\"}}";
    assert_int_equal(parse_str(msg, &seed_limits, &r, &err), -1);
    assert_string_equal(err.msg, "service_name: must match ^[a-z0-9][a-z0-9._-]{0,62}$");
    assert_string_equal(r.session_id, "123e4567-e89b-42d3-a456-426614174abc");
    assert_null(r.labels);
    /* A later rule (labels come after service_name) fails: id still there. */
    msg = "{\"session_id\":\"123e4567-e89b-42d3-a456-426614174abc\",\"service_name\":\"web\","
          "\"labels\":{\"a\":1}}";
    assert_int_equal(parse_str(msg, &seed_limits, &r, &err), -1);
    assert_string_equal(r.session_id, "123e4567-e89b-42d3-a456-426614174abc");
    assert_null(r.labels);
    /* An unreadable id is not copied. */
    assert_int_equal(parse_str("{\"session_id\":\"../../etc\"}", &seed_limits, &r, &err), -1);
    assert_string_equal(r.session_id, "");
    assert_int_equal(parse_str("{\"session_id\":\"123e4567-e89b-42d3-a456-426614174abc\"",
                               &seed_limits, &r, &err),
                     -1);
    assert_string_equal(r.session_id, "");
}

static void test_values_decoded(void **state)
{
    (void)state;
    char dir[4096];
    size_t len;
    char *buf =
        read_fixture(fixture_dir("good", dir, sizeof dir), "full-profile-pid-host.json", &len);
    profd_request r;
    profd_error err;
    assert_int_equal(profd_request_parse(buf, len, &seed_limits, &r, &err), 0);
    assert_string_equal(r.session_id, "123e4567-e89b-42d3-a456-426614174000");
    assert_string_equal(r.service_name, "jobs.worker_2");
    assert_int_equal(r.duration_seconds, 120);
    assert_int_equal(r.pid, 12345);
    assert_int_equal(r.rate_hz, 250);
    assert_string_equal(r.host, "node-1.example.internal");
    assert_string_equal(r.trigger, "cli");
    assert_string_equal(r.requested_by, "ops@example.com");
    assert_string_equal(r.requested_at, "2024-01-15T10:30:00.123+01:00");
    assert_true(r.options.nonblocking && r.options.subprocesses && r.options.native &&
                r.options.idle && r.options.gil);
    assert_int_equal(json_object_object_length(r.labels), 3);
    json_object *v;
    assert_true(json_object_object_get_ex(r.labels, "team", &v));
    assert_string_equal(json_object_get_string(v), "payments");
    profd_request_free(&r);
    assert_null(r.labels);
    free(buf);

    assert_int_equal(
        parse_str("{\"service_name\":\"a\",\"duration_seconds\":6e1,\"rate_hz\":250.0}",
                  &seed_limits, &r, &err),
        0);
    assert_int_equal(r.duration_seconds, 60);
    assert_int_equal(r.rate_hz, 250);
}

static void test_types_decoded(void **state)
{
    (void)state;
    profd_request r;
    profd_error err;
    const char *id = "123e4567-e89b-42d3-a456-426614174000";
    char msg[512];
    snprintf(msg, sizeof msg, "{\"type\":\"cancel\",\"session_id\":\"%s\"}", id);
    assert_int_equal(parse_str(msg, &seed_limits, &r, &err), 0);
    assert_int_equal(r.type, PROFD_REQ_CANCEL);
    assert_string_equal(r.session_id, id);
    snprintf(msg, sizeof msg, "{\"type\":\"reprocess\",\"session_id\":\"%s\"}", id);
    assert_int_equal(parse_str(msg, &seed_limits, &r, &err), 0);
    assert_int_equal(r.type, PROFD_REQ_REPROCESS);
    const char *alert = "{\"type\":\"alert\",\"source\":\"alertmanager\","
                        "\"payload\":{\"alerts\":[{\"labels\":{\"service\":\"web-api\"}}]}}";
    assert_int_equal(parse_str(alert, &seed_limits, &r, &err), 0);
    assert_int_equal(r.type, PROFD_REQ_ALERT);
    assert_string_equal(r.alert_source, "alertmanager");
    json_object *alerts;
    assert_true(json_object_object_get_ex(r.alert_payload, "alerts", &alerts));
    assert_int_equal(json_object_array_length(alerts), 1);
    profd_request_free(&r);
    assert_null(r.alert_payload);
}

/* Every proper prefix of a good message that cuts before its closing brace is
 * malformed JSON: each is rejected cleanly, never accepted, never a crash. */
static void test_truncations_rejected(void **state)
{
    (void)state;
    char dir[4096];
    size_t n;
    char **names = list_json(fixture_dir("good", dir, sizeof dir), &n);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        char *buf = read_fixture(dir, names[i], &len);
        char *close = strrchr(buf, '}');
        assert_non_null(close);
        for (size_t cut = 0; cut < (size_t)(close - buf); cut++) {
            char *copy = malloc(cut + 1); /* exact size, so ASan sees overreads */
            memcpy(copy, buf, cut);
            profd_request r;
            profd_error err;
            if (profd_request_parse(copy, cut, &seed_limits, &r, &err) == 0)
                fail_msg("good/%s cut at %zu bytes was accepted", names[i], cut);
            assert_string_equal(err.code, PROFD_E_INVALID);
            assert_true(strncmp(err.msg, "message: malformed JSON", 23) == 0);
            free(copy);
        }
        free(buf);
    }
    free_list(names);
}

static void test_null_and_empty_input(void **state)
{
    (void)state;
    profd_request r;
    profd_error err;
    assert_int_equal(profd_request_parse(NULL, 0, &seed_limits, &r, &err), -1);
    assert_string_equal(err.msg, "message: malformed JSON at byte 0: empty message");
    assert_int_equal(profd_request_parse("", 0, &seed_limits, &r, &err), -1);
    assert_string_equal(err.code, PROFD_E_INVALID);
    /* err may be NULL: the caller only wants yes or no. */
    assert_int_equal(profd_request_parse("[]", 2, &seed_limits, &r, NULL), -1);
}

/* The strict syntax check on its own, at the edges of RFC 8259 and 3629. */
static void test_json_check_edges(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        bool ok;
    } cases[] = {
        {"{}", 0, true},
        {" [1, -0, 0e5, 1E+2, -1.5e-3, 0.0] ", 0, true},
        {"\"\\ud83d\\ude00 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"", 0, true},
        {"\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"", 0, true},
        {"true", 0, true},
        {"null", 0, true},
        {"-", 0, false},
        {"01", 0, false},
        {"1.e5", 0, false},
        {"1e", 0, false},
        {"+1", 0, false},
        {".5", 0, false},
        {"tru", 0, false},
        {"nulll", 0, false},
        {"[1 2]", 0, false},
        {"{\"a\" 1}", 0, false},
        {"{\"a\":1,}", 0, false},
        {"{,}", 0, false},
        {"\"\\u12\"", 0, false},
        {"\"\\udc00\"", 0, false},
        {"\"\\ud800\\u0041\"", 0, false},
        {"\"\\u0000\"", 0, false},
        {"\"\xf4\x90\x80\x80\"", 0, false}, /* above U+10FFFF */
        {"\"\xf5\x80\x80\x80\"", 0, false},
        {"\"\xe0\x80\x80\"", 0, false}, /* overlong */
        {"\"\x80\"", 0, false},         /* stray continuation byte */
        {"\"\x7f\"", 0, true},          /* DEL is not a JSON control character */
        {"\"a\000b\"", 5, false},
        {"{}x", 2, true}, /* the length, not a NUL, ends the input */
        {"\xef\xbb\xbf{}", 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = NULL;
        size_t at = 0, len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        int rc = profd_json_check(cases[i].text, len, &why, &at);
        if ((rc == 0) != cases[i].ok)
            fail_msg("case %zu (%s): got %s (%s)", i, cases[i].text, rc == 0 ? "ok" : "bad",
                     why ? why : "");
        if (rc != 0)
            assert_true(at <= len);
    }
    /* Depth: 64 nested arrays pass, 65 do not. */
    char deep[200];
    for (int depth = 64; depth <= 65; depth++) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        const char *why = NULL;
        int rc = profd_json_check(deep, 2 * (size_t)depth, &why, NULL);
        assert_int_equal(rc, depth == 64 ? 0 : -1);
        if (rc)
            assert_string_equal(why, "nesting deeper than 64 levels");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_fixtures_parse),
        cmocka_unit_test(test_bad_fixtures_rejected_for_their_reason),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_duration_names_configured_bounds),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_session_id_kept_on_failure),
        cmocka_unit_test(test_values_decoded),
        cmocka_unit_test(test_types_decoded),
        cmocka_unit_test(test_truncations_rejected),
        cmocka_unit_test(test_null_and_empty_input),
        cmocka_unit_test(test_json_check_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
