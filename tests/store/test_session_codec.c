/* test_session_codec.c - the session record codec: the contract's public
 * shape (every field, nulls, RFC 3339 times, labels {}), the stored shape and
 * its round trip, tolerant reading of partial records, strict types, events,
 * and the helpers (statuses, from_request, copy, fail). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "profd/session.h"

static const char *const public_fields[] = {
    "session_id",       "service_name",    "pid",
    "status",           "started_at",      "completed_at",
    "duration_seconds", "flame_graph_url", "raw_data_url",
    "error_message",    "sample_rate_hz",  "overhead_percent",
    "created_at",       "trigger",         "host",
    "sampler",          "sample_count",    "error_code",
    "attempt",          "labels",          "requested_by",
    "reprocessed_at",   "renderer",        "profile_type",
    "bytes_total",      "blocks_total"};
static const char *const stored_only[] = {"flame_graph_object", "raw_data_object", "stacks_object",
                                          "target_start_time",  "options",         "target_host"};
#define N(a) (sizeof a / sizeof *a)

static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v))
        fail_msg("field %s is missing", k);
    return v;
}

static bool has(json_object *o, const char *k)
{
    return json_object_object_get_ex(o, k, NULL);
}

static void full_session(profd_session *s)
{
    profd_session_init(s);
    profd_strlcpy(s->session_id, "0f8e2d3c-1b4a-4c5d-8e9f-a0b1c2d3e4f5", sizeof s->session_id);
    profd_strlcpy(s->service_name, "web-api", sizeof s->service_name);
    s->pid = 12345;
    s->status = PROFD_COMPLETED;
    s->created_at = 1705314599123;
    s->started_at = 1705314600456;
    s->completed_at = 1705314660789;
    s->reprocessed_at = 1705400000001;
    s->duration_seconds = 60;
    s->sample_rate_hz = 100;
    s->overhead_percent = 2.5;
    profd_strlcpy(s->trigger, "alert", sizeof s->trigger);
    profd_strlcpy(s->host, "node-1", sizeof s->host);
    profd_strlcpy(s->sampler, "py-spy 0.4.1", sizeof s->sampler);
    s->sample_count = 5987;
    s->attempt = 2;
    s->labels = json_tokener_parse("{\"team\":\"core\",\"n\":1}");
    profd_strlcpy(s->requested_by, "ops", sizeof s->requested_by);
    profd_strlcpy(s->renderer, "profd 0.1.0", sizeof s->renderer);
    profd_strlcpy(s->flame_graph_object, "sessions/x/flamegraph.html",
                  sizeof s->flame_graph_object);
    profd_strlcpy(s->raw_data_object, "sessions/x/profile.json", sizeof s->raw_data_object);
    profd_strlcpy(s->stacks_object, "sessions/x/stacks.txt", sizeof s->stacks_object);
    s->target_start_time = 987654321ULL;
    s->options.native = true;
    s->options.gil = true;
    profd_strlcpy(s->target_host, "node-1", sizeof s->target_host);
    profd_strlcpy(s->flame_graph_url, "https://example/f", sizeof s->flame_graph_url);
}

static void test_statuses(void **state)
{
    (void)state;
    profd_status s;
    const char *names[] = {"queued", "running", "completed", "failed"};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(profd_status_name((profd_status)i), names[i]);
        assert_int_equal(profd_status_parse(names[i], &s), 0);
        assert_int_equal(s, i);
    }
    assert_int_equal(profd_status_parse("done", &s), -1);
    assert_int_equal(profd_status_parse("Queued", &s), -1);
    assert_int_equal(profd_status_parse(NULL, &s), -1);
    assert_false(profd_status_terminal(PROFD_QUEUED));
    assert_false(profd_status_terminal(PROFD_RUNNING));
    assert_true(profd_status_terminal(PROFD_COMPLETED));
    assert_true(profd_status_terminal(PROFD_FAILED));
}

static void test_public_shape_of_a_new_session(void **state)
{
    (void)state;
    profd_session s;
    profd_session_init(&s);
    profd_strlcpy(s.session_id, "0f8e2d3c-1b4a-4c5d-8e9f-a0b1c2d3e4f5", sizeof s.session_id);
    profd_strlcpy(s.service_name, "jobs", sizeof s.service_name);
    json_object *j = profd_session_to_json(&s, false);
    assert_int_equal(json_object_object_length(j), N(public_fields));
    for (size_t i = 0; i < N(public_fields); i++)
        assert_true(has(j, public_fields[i]));
    const char *nulls[] = {"pid",          "started_at",    "completed_at",     "flame_graph_url",
                           "raw_data_url", "error_message", "overhead_percent", "host",
                           "sampler",      "sample_count",  "error_code",       "reprocessed_at",
                           "created_at"};
    for (size_t i = 0; i < N(nulls); i++)
        if (get(j, nulls[i]) != NULL)
            fail_msg("%s should be null", nulls[i]);
    assert_string_equal(json_object_get_string(get(j, "status")), "queued");
    assert_true(json_object_is_type(get(j, "labels"), json_type_object));
    assert_int_equal(json_object_object_length(get(j, "labels")), 0);
    assert_int_equal(json_object_get_int(get(j, "attempt")), 0);
    for (size_t i = 0; i < N(stored_only); i++)
        assert_false(has(j, stored_only[i]));
    json_object_put(j);
}

static void test_public_shape_of_a_full_session(void **state)
{
    (void)state;
    profd_session s;
    full_session(&s);
    json_object *j = profd_session_to_json(&s, false);
    assert_string_equal(json_object_get_string(get(j, "started_at")), "2024-01-15T10:30:00Z");
    assert_string_equal(json_object_get_string(get(j, "completed_at")), "2024-01-15T10:31:00Z");
    assert_string_equal(json_object_get_string(get(j, "flame_graph_url")), "https://example/f");
    assert_null(get(j, "raw_data_url"));
    assert_int_equal(json_object_get_int64(get(j, "pid")), 12345);
    assert_true(json_object_get_double(get(j, "overhead_percent")) == 2.5);
    assert_int_equal(json_object_get_int64(get(j, "sample_count")), 5987);
    assert_string_equal(json_object_get_string(get(get(j, "labels"), "team")), "core");
    assert_string_equal(json_object_get_string(get(j, "renderer")), "profd 0.1.0");
    json_object_put(j);
    profd_session_free(&s);
}

static void test_stored_round_trip(void **state)
{
    (void)state;
    profd_session s, back;
    profd_error err = {0};
    full_session(&s);
    char *buf = profd_session_to_string(&s, true);
    json_object *j = json_tokener_parse(buf);
    for (size_t i = 0; i < N(stored_only); i++)
        assert_true(has(j, stored_only[i]));
    assert_false(has(j, "flame_graph_url")); /* links are never stored */
    assert_false(has(j, "raw_data_url"));
    assert_string_equal(json_object_get_string(get(j, "created_at")), "2024-01-15T10:29:59.123Z");
    json_object_put(j);
    assert_int_equal(profd_session_parse(buf, strlen(buf), &back, &err), 0);
    free(buf);
    assert_string_equal(back.session_id, s.session_id);
    assert_string_equal(back.service_name, s.service_name);
    assert_int_equal(back.pid, s.pid);
    assert_int_equal(back.status, s.status);
    assert_int_equal(back.created_at, s.created_at);
    assert_int_equal(back.started_at, s.started_at);
    assert_int_equal(back.completed_at, s.completed_at);
    assert_int_equal(back.reprocessed_at, s.reprocessed_at);
    assert_int_equal(back.duration_seconds, 60);
    assert_int_equal(back.sample_rate_hz, 100);
    assert_true(back.overhead_percent == 2.5);
    assert_string_equal(back.trigger, "alert");
    assert_string_equal(back.host, "node-1");
    assert_string_equal(back.sampler, "py-spy 0.4.1");
    assert_int_equal(back.sample_count, 5987);
    assert_int_equal(back.attempt, 2);
    assert_true(json_object_equal(back.labels, s.labels));
    assert_string_equal(back.requested_by, "ops");
    assert_string_equal(back.renderer, "profd 0.1.0");
    assert_string_equal(back.flame_graph_object, s.flame_graph_object);
    assert_string_equal(back.raw_data_object, s.raw_data_object);
    assert_string_equal(back.stacks_object, s.stacks_object);
    assert_true(back.target_start_time == 987654321ULL);
    assert_true(back.options.native && back.options.gil);
    assert_false(back.options.idle || back.options.nonblocking || back.options.subprocesses);
    assert_string_equal(back.target_host, "node-1");
    assert_string_equal(back.flame_graph_url, "");
    /* A public document parses too, and keeps its links. */
    buf = profd_session_to_string(&s, false);
    profd_session_free(&back);
    assert_int_equal(profd_session_parse(buf, strlen(buf), &back, &err), 0);
    assert_string_equal(back.flame_graph_url, "https://example/f");
    assert_int_equal(back.created_at, 1705314599000); /* second precision */
    free(buf);
    profd_session_free(&back);
    profd_session_free(&s);
}

static void test_partial_records_are_read(void **state)
{
    (void)state;
    profd_session s;
    profd_error err = {0};
    const char *min = "{\"session_id\":\"0f8e2d3c-1b4a-4c5d-8e9f-a0b1c2d3e4f5\","
                      "\"service_name\":\"jobs\",\"status\":\"running\",\"pid\":null,"
                      "\"labels\":null,\"unknown_field\":[1,2]}  \n";
    assert_int_equal(profd_session_parse(min, strlen(min), &s, &err), 0);
    assert_int_equal(s.status, PROFD_RUNNING);
    assert_int_equal(s.pid, 0);
    assert_true(s.overhead_percent < 0);
    assert_true(s.sample_count < 0);
    assert_int_equal(s.created_at, 0);
    assert_null(s.labels);
    char *out = profd_session_to_string(&s, false);
    assert_non_null(strstr(out, "\"labels\":{}"));
    assert_non_null(strstr(out, "\"sample_count\":null"));
    free(out);
    profd_session_free(&s);
}

static void test_bad_records_are_rejected(void **state)
{
    (void)state;
#define ID "\"session_id\":\"0f8e2d3c-1b4a-4c5d-8e9f-a0b1c2d3e4f5\""
#define OK ID ",\"service_name\":\"jobs\",\"status\":\"queued\""
    static const struct {
        const char *json, *mentions;
    } bad[] = {
        {"", "malformed JSON"},
        {"{\"session_id\":", "malformed JSON"},
        {"[1,2]", "JSON object"},
        {"{" OK "} x", "trailing"},
        {"{\"service_name\":\"jobs\",\"status\":\"queued\"}", "session_id"},
        {"{\"session_id\":\"not-a-uuid\",\"service_name\":\"jobs\",\"status\":\"queued\"}",
         "session_id"},
        {"{" ID ",\"service_name\":\"Jobs!\",\"status\":\"queued\"}", "service_name"},
        {"{" ID ",\"service_name\":\"jobs\",\"status\":\"done\"}", "status"},
        {"{" ID ",\"service_name\":\"jobs\"}", "status"},
        {"{" OK ",\"pid\":\"12\"}", "pid"},
        {"{" OK ",\"pid\":0}", "pid"},
        {"{" OK ",\"duration_seconds\":1.5}", "duration_seconds"},
        {"{" OK ",\"created_at\":\"yesterday\"}", "created_at"},
        {"{" OK ",\"started_at\":12345}", "started_at"},
        {"{" OK ",\"overhead_percent\":\"2\"}", "overhead_percent"},
        {"{" OK ",\"overhead_percent\":-1}", "overhead_percent"},
        {"{" OK ",\"labels\":[]}", "labels"},
        {"{" OK ",\"options\":{\"gil\":1}}", "gil"},
        {"{" OK ",\"host\":42}", "host"},
        {"{" OK ",\"attempt\":true}", "attempt"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        profd_session s;
        profd_error err = {0};
        if (profd_session_parse(bad[i].json, strlen(bad[i].json), &s, &err) != -1)
            fail_msg("accepted: %s", bad[i].json);
        if (!strstr(err.msg, bad[i].mentions))
            fail_msg("error for %s does not mention %s: %s", bad[i].json, bad[i].mentions, err.msg);
        assert_null(strchr(err.msg, '\n'));
        assert_null(s.labels); /* nothing leaks on failure */
    }
#undef OK
#undef ID
}

static void test_from_request(void **state)
{
    (void)state;
    profd_request r;
    memset(&r, 0, sizeof r);
    r.version = 1;
    profd_strlcpy(r.session_id, "0f8e2d3c-1b4a-4c5d-8e9f-a0b1c2d3e4f5", sizeof r.session_id);
    profd_strlcpy(r.service_name, "web-api", sizeof r.service_name);
    r.duration_seconds = 30;
    r.pid = 777;
    r.rate_hz = 250;
    profd_strlcpy(r.host, "node-7", sizeof r.host);
    profd_strlcpy(r.trigger, "alert", sizeof r.trigger);
    profd_strlcpy(r.requested_by, "pager", sizeof r.requested_by);
    r.options.idle = true;
    r.labels = json_tokener_parse("{\"k\":\"v\"}");
    profd_session s;
    int64_t before = profd_now_ms();
    profd_session_from_request(&s, &r);
    assert_string_equal(s.session_id, r.session_id);
    assert_string_equal(s.service_name, "web-api");
    assert_int_equal(s.pid, 777);
    assert_int_equal(s.duration_seconds, 30);
    assert_int_equal(s.sample_rate_hz, 250);
    assert_string_equal(s.trigger, "alert");
    assert_string_equal(s.requested_by, "pager");
    assert_string_equal(s.target_host, "node-7");
    assert_string_equal(s.host, ""); /* the worker that runs it fills this */
    assert_true(s.options.idle);
    assert_int_equal(s.status, PROFD_QUEUED);
    assert_int_equal(s.attempt, 0);
    assert_string_equal(s.renderer, "profd " PROFD_VERSION);
    assert_true(s.created_at >= before && s.created_at <= profd_now_ms());
    assert_ptr_equal(s.labels, r.labels); /* shared */
    json_object_put(r.labels);            /* the request goes away first */
    assert_string_equal(json_object_get_string(get(s.labels, "k")), "v");
    profd_session_free(&s);
}

static void test_copy_and_fail(void **state)
{
    (void)state;
    profd_session a, b;
    full_session(&a);
    profd_session_copy(&b, &a);
    profd_session_free(&a);
    assert_string_equal(json_object_get_string(get(b.labels, "team")), "core");
    int64_t before = profd_now_ms();
    profd_session_fail(&b, PROFD_E_TARGET_EXITED, "the target process exited");
    assert_int_equal(b.status, PROFD_FAILED);
    assert_string_equal(b.error_code, "target_exited");
    assert_string_equal(b.error_message, "the target process exited");
    assert_true(b.completed_at >= before);
    profd_session_free(&b);
}

static void test_event(void **state)
{
    (void)state;
    profd_session s;
    full_session(&s);
    char *e1 = profd_event_to_string("session.completed", &s);
    char *e2 = profd_event_to_string("failed", &s);
    json_object *j1 = json_tokener_parse(e1), *j2 = json_tokener_parse(e2);
    assert_int_equal(json_object_object_length(j1), 4);
    const char *id = json_object_get_string(get(j1, "event_id"));
    assert_true(profd_uuid_valid(id));
    assert_int_equal(id[14], '4');
    assert_string_not_equal(id, json_object_get_string(get(j2, "event_id")));
    assert_string_equal(json_object_get_string(get(j1, "type")), "session.completed");
    assert_string_equal(json_object_get_string(get(j2, "type")), "session.failed");
    int64_t when;
    assert_int_equal(profd_parse_rfc3339(json_object_get_string(get(j1, "emitted_at")), &when), 0);
    assert_true(llabs(when - profd_now_ms()) < 5000);
    json_object *sess = get(j1, "session");
    assert_int_equal(json_object_object_length(sess), N(public_fields));
    assert_string_equal(json_object_get_string(get(sess, "session_id")), s.session_id);
    assert_false(has(sess, "flame_graph_object"));
    json_object_put(j1);
    json_object_put(j2);
    free(e1);
    free(e2);
    profd_session_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statuses),
        cmocka_unit_test(test_public_shape_of_a_new_session),
        cmocka_unit_test(test_public_shape_of_a_full_session),
        cmocka_unit_test(test_stored_round_trip),
        cmocka_unit_test(test_partial_records_are_read),
        cmocka_unit_test(test_bad_records_are_rejected),
        cmocka_unit_test(test_from_request),
        cmocka_unit_test(test_copy_and_fail),
        cmocka_unit_test(test_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
