/* test_alert_units.c - the pure parts of alert intake: the fixture payloads
 * parsed, labels mapped to targets, labels bounded for the session, and the
 * webhook token in its three places. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/alert.h"

static json_object *fixture(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/alert/fixtures/%s", getenv("PROFD_SOURCE_DIR"), name);
    json_object *o = json_object_from_file(path);
    if (!o)
        fail_msg("cannot read %s", path);
    return o;
}

static const char *lab(json_object *labels, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(labels, k, &v) ? json_object_get_string(v) : NULL;
}

static void test_alertmanager_firing(void **state)
{
    (void)state;
    json_object *p = fixture("am_firing.json");
    profd_alert_list l;
    profd_error err;
    assert_int_equal(profd_alert_parse("alertmanager", p, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_true(l.v[0].firing);
    assert_string_equal(l.v[0].name, "HighCPU");
    assert_string_equal(lab(l.v[0].labels, "team"), "payments");
    assert_string_equal(lab(l.v[0].labels, "instance"), "10.0.0.5:8000");
    profd_alert_target t;
    const char *reason = NULL;
    char detail[256];
    assert_int_equal(
        profd_alert_target_of(l.v[0].labels, "service,job", &t, &reason, detail, sizeof detail), 0);
    assert_string_equal(t.service, "web-api");
    assert_string_equal(t.host, ""); /* instance is not a host */
    assert_int_equal(t.pid, 0);
    profd_alert_list_free(&l);
    json_object_put(p);
}

static void test_alertmanager_resolved_and_grouped(void **state)
{
    (void)state;
    json_object *p = fixture("am_resolved.json");
    profd_alert_list l;
    profd_error err;
    assert_int_equal(profd_alert_parse("alertmanager", p, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_false(l.v[0].firing);
    assert_string_equal(l.v[0].state, "resolved");
    profd_alert_list_free(&l);
    json_object_put(p);

    p = fixture("am_grouped.json");
    assert_int_equal(profd_alert_parse("alertmanager", p, &l, &err), 0);
    assert_int_equal(l.n, 3);
    const char *want[] = {"web-api", "web-api", "jobs"};
    for (int i = 0; i < 3; i++) {
        profd_alert_target t;
        const char *reason;
        char detail[256];
        assert_true(l.v[i].firing);
        assert_int_equal(
            profd_alert_target_of(l.v[i].labels, "service,job", &t, &reason, detail, sizeof detail),
            0);
        assert_string_equal(t.service, want[i]);
    }
    profd_alert_list_free(&l);
    json_object_put(p);
}

static void test_bad_service_labels(void **state)
{
    (void)state;
    json_object *p = fixture("am_invalid_service.json");
    profd_alert_list l;
    profd_error err;
    assert_int_equal(profd_alert_parse("alertmanager", p, &l, &err), 0);
    assert_int_equal(l.n, 2);
    for (int i = 0; i < 2; i++) {
        profd_alert_target t;
        const char *reason = NULL;
        char detail[256];
        /* the second alert also has job=web-api: an invalid service label is
         * never passed over for the next one */
        assert_int_equal(
            profd_alert_target_of(l.v[i].labels, "service,job", &t, &reason, detail, sizeof detail),
            -1);
        assert_string_equal(reason, PROFD_ALERT_BAD_SERVICE);
        assert_non_null(strstr(detail, "label service"));
    }
    profd_alert_list_free(&l);
    json_object_put(p);

    p = fixture("am_missing_service.json");
    assert_int_equal(profd_alert_parse("alertmanager", p, &l, &err), 0);
    profd_alert_target t;
    const char *reason = NULL;
    char detail[256];
    assert_int_equal(
        profd_alert_target_of(l.v[0].labels, "service,job", &t, &reason, detail, sizeof detail),
        -1);
    assert_string_equal(reason, PROFD_ALERT_NO_SERVICE);
    /* a configured label list that names instance-less labels still finds nothing,
     * and another list finds the alertname */
    assert_int_equal(
        profd_alert_target_of(l.v[0].labels, " nope , , alertname", &t, &reason, detail, 256), -1);
    assert_string_equal(reason, PROFD_ALERT_BAD_SERVICE); /* "NodeCPU" has capitals */
    profd_alert_list_free(&l);
    json_object_put(p);
}

static void test_gcp(void **state)
{
    (void)state;
    json_object *p = fixture("gcp_open.json");
    profd_alert_list l;
    profd_error err;
    assert_int_equal(profd_alert_parse("gcp", p, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_true(l.v[0].firing);
    assert_string_equal(l.v[0].name, "High CPU web-api");
    json_object *lb = l.v[0].labels;
    assert_string_equal(lab(lb, "service"), "web-api");
    assert_string_equal(lab(lb, "team"), "payments");
    assert_string_equal(lab(lb, "zone"), "europe-west1-b");
    assert_string_equal(lab(lb, "instance_name"), "web-api-vm-1");
    assert_string_equal(lab(lb, "alertname"), "High CPU web-api");
    assert_string_equal(lab(lb, "incident_id"), "0.opqiw61fsv7p");
    profd_alert_list_free(&l);
    json_object_put(p);

    p = fixture("gcp_closed.json");
    assert_int_equal(profd_alert_parse("gcp", p, &l, &err), 0);
    assert_false(l.v[0].firing);
    assert_string_equal(l.v[0].state, "closed");
    profd_alert_list_free(&l);
    json_object_put(p);
}

static void expect_invalid(const char *source, const char *json, const char *field)
{
    json_object *p = json_tokener_parse(json);
    profd_alert_list l;
    profd_error err;
    assert_int_equal(profd_alert_parse(source, p, &l, &err), -1);
    if (!strstr(err.msg, field))
        fail_msg("'%s' does not name %s", err.msg, field);
    json_object_put(p);
}

static void test_not_webhook_bodies(void **state)
{
    (void)state;
    expect_invalid("alertmanager", "{\"version\":\"3\",\"alerts\":[]}", "version");
    expect_invalid("alertmanager", "{\"version\":4,\"alerts\":[]}", "version");
    expect_invalid("alertmanager", "{\"version\":\"4\"}", "alerts");
    expect_invalid("alertmanager", "{\"alerts\":{}}", "alerts");
    expect_invalid("alertmanager", "[]", "payload");
    expect_invalid("gcp", "{\"version\":\"1.2\"}", "incident");
    expect_invalid("gcp", "{\"incident\":{\"incident_id\":\"x\"}}", "incident.state");
    expect_invalid("nagios", "{}", "source");
    /* a non-object alert is read and marked, not fatal */
    json_object *p = json_tokener_parse("{\"alerts\":[1,{\"status\":\"firing\"}],\"status\":"
                                        "\"firing\"}");
    profd_alert_list l;
    profd_error err;
    assert_int_equal(profd_alert_parse("alertmanager", p, &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].state, "malformed");
    assert_false(l.v[0].firing);
    assert_true(l.v[1].firing);
    profd_alert_list_free(&l);
    json_object_put(p);
}

static void test_host_and_pid(void **state)
{
    (void)state;
    struct {
        const char *labels;
        int rc;
        const char *host;
        long pid;
    } cases[] = {
        {"{\"service\":\"web-api\",\"profd_host\":\"node-7\",\"pid\":\"4242\"}", 0, "node-7", 4242},
        {"{\"service\":\"web-api\",\"host\":\"node-8\",\"profd_pid\":\"17\",\"pid\":\"x\"}", 0,
         "node-8", 17},
        {"{\"service\":\"web-api\",\"pid\":\"4242\"}", 0, "", 0}, /* pid without host: ignored */
        {"{\"service\":\"web-api\",\"host\":\"node 1;ls\"}", -1, NULL, 0},
        {"{\"service\":\"web-api\",\"host\":\"node-1\",\"pid\":\"-3\"}", -1, NULL, 0},
        {"{\"service\":\"web-api\",\"host\":\"node-1\",\"pid\":\"12abc\"}", -1, NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_object *lb = json_tokener_parse(cases[i].labels);
        profd_alert_target t;
        const char *reason = NULL;
        char detail[256];
        int rc = profd_alert_target_of(lb, "service,job", &t, &reason, detail, sizeof detail);
        assert_int_equal(rc, cases[i].rc);
        if (rc == 0) {
            assert_string_equal(t.host, cases[i].host);
            assert_int_equal(t.pid, cases[i].pid);
        } else {
            assert_string_equal(reason, PROFD_ALERT_BAD_TARGET);
        }
        json_object_put(lb);
    }
}

static void test_bounded_labels(void **state)
{
    (void)state;
    json_object *lb = json_object_new_object();
    char key[32], big[400];
    json_object_object_add(lb, "bad key", json_object_new_string("x"));
    json_object_object_add(lb, "9starts-with-digit", json_object_new_string("x"));
    json_object_object_add(lb, "ctl", json_object_new_string("a\tb\nc"));
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_object_object_add(lb, "big", json_object_new_string(big));
    /* 256 characters of which the last is a 2-byte UTF-8 sequence, then more */
    char utf[600];
    memset(utf, 'u', 255);
    strcpy(utf + 255, "\xc3\xa9tail");
    json_object_object_add(lb, "utf", json_object_new_string(utf));
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        json_object_object_add(lb, key, json_object_new_string("v"));
    }
    json_object *b = profd_alert_bounded_labels(lb);
    assert_int_equal(json_object_object_length(b), PROFD_ALERT_MAX_LABELS);
    assert_null(lab(b, "bad key"));
    assert_null(lab(b, "9starts-with-digit"));
    assert_string_equal(lab(b, "ctl"), "a b c");
    assert_int_equal(strlen(lab(b, "big")), 256);
    assert_int_equal(strlen(lab(b, "utf")), 257); /* 255 + the whole é */
    assert_non_null(lab(b, "k28"));
    assert_null(lab(b, "k29")); /* ctl, big, utf + k00..k28 = 32 */
    json_object_put(b);
    json_object_put(lb);
}

static void basic(const char *user_pass, char *out)
{
    char b64[256];
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)user_pass, (int)strlen(user_pass));
    sprintf(out, "Basic %s", b64);
}

static void test_token(void **state)
{
    (void)state;
    const char *tok = "s3cret-token";
    char h[300];
    assert_true(profd_alert_token_ok(tok, "Bearer s3cret-token", NULL));
    assert_true(profd_alert_token_ok(tok, "bearer   s3cret-token", NULL));
    assert_false(profd_alert_token_ok(tok, "Bearer s3cret-tokeN", NULL));
    assert_false(profd_alert_token_ok(tok, "Bearer s3cret-token2", NULL));
    assert_false(profd_alert_token_ok(tok, "Bearer ", NULL));
    assert_false(profd_alert_token_ok(tok, "s3cret-token", NULL));
    basic("alertmanager:s3cret-token", h);
    assert_true(profd_alert_token_ok(tok, h, NULL));
    basic(":s3cret-token", h);
    assert_true(profd_alert_token_ok(tok, h, NULL));
    basic("s3cret-token:wrong", h);
    assert_false(profd_alert_token_ok(tok, h, NULL));
    basic("s3cret-token", h); /* no colon: no password */
    assert_false(profd_alert_token_ok(tok, h, NULL));
    assert_false(profd_alert_token_ok(tok, "Basic !!!!", NULL));
    assert_false(profd_alert_token_ok(tok, "Basic abc", NULL));
    assert_true(profd_alert_token_ok(tok, NULL, "s3cret-token"));
    assert_true(profd_alert_token_ok(tok, "Bearer wrong", "s3cret-token"));
    assert_false(profd_alert_token_ok(tok, NULL, "s3cret"));
    assert_false(profd_alert_token_ok(tok, NULL, ""));
    assert_false(profd_alert_token_ok("", "Bearer ", ""));
    assert_false(profd_alert_token_ok("", NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alertmanager_firing),
        cmocka_unit_test(test_alertmanager_resolved_and_grouped),
        cmocka_unit_test(test_bad_service_labels),
        cmocka_unit_test(test_gcp),
        cmocka_unit_test(test_not_webhook_bodies),
        cmocka_unit_test(test_host_and_pid),
        cmocka_unit_test(test_bounded_labels),
        cmocka_unit_test(test_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
