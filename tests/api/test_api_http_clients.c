/* test_api_http_clients.c - how the API treats its clients, over real HTTP:
 * a retried start with an Idempotency-Key replays the same session (for the
 * same subject only), 50 clients at once all get their answers, and a client
 * that never finishes its request is dropped instead of holding a
 * connection. Fixture: api_http_fixture.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api_http_fixture.h"

/* ---- tests ---------------------------------------------------------------- */

static void test_idempotency(void **state)
{
    (void)state;
    const char *body = "{\"service_name\":\"idem-svc\",\"duration_seconds\":20}";
    resp a = http("POST", P "/start", admin, body, "Idempotency-Key: order-77");
    assert_int_equal(a.status, 201);
    json_object *oa = body_json(&a);
    resp b = http("POST", P "/start", admin, body, "Idempotency-Key: order-77");
    assert_int_equal(b.status, 201); /* the same session, not a 409 for the busy target */
    assert_non_null(strstr(b.headers, "Idempotent-Replayed: true"));
    json_object *ob = body_json(&b);
    assert_string_equal(jget(oa, "session_id"), jget(ob, "session_id"));
    /* Another subject with the same key gets its own session (and a busy target). */
    char *other = token_for("carol", "[\"admin\"]");
    expect_detail(http("POST", P "/start", other, body, "Idempotency-Key: order-77"), 409, NULL);
    free(other);
    resp c = http("POST", P "/start", admin, "{\"service_name\":\"idem-svc2\"}",
                  "Idempotency-Key: order-78");
    assert_int_equal(c.status, 201);
    json_object *oc = body_json(&c);
    assert_string_not_equal(jget(oa, "session_id"), jget(oc, "session_id"));
    /* A control character never reaches the handler: the front answers 400
     * (RFC 9112 §5.5); a key too long for the handler's rule is its 422. */
    expect_detail(http("POST", P "/start", admin, body, "Idempotency-Key: \x01"), 400, NULL);
    char longkey[300] = "Idempotency-Key: ";
    memset(longkey + strlen(longkey), 'k', 270);
    longkey[sizeof longkey - 1] = '\0';
    expect_detail(http("POST", P "/start", admin, body, longkey), 422, NULL);
    json_object_put(oa), json_object_put(ob), json_object_put(oc);
    free(a.body), free(b.body), free(c.body);
}

typedef struct client {
    int n;
    int errors;
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    char sub[32], body[128], path[128], id[64] = "";
    snprintf(sub, sizeof sub, "client-%d", c->n);
    char *tok = token_for(sub, "[\"admin\"]");
    snprintf(body, sizeof body, "{\"service_name\":\"conc-%d\",\"duration_seconds\":10}", c->n);
    resp r = http("POST", P "/start", tok, body, NULL);
    if (r.status != 201) {
        c->errors++;
    } else {
        json_object *o = json_tokener_parse(r.body);
        snprintf(id, sizeof id, "%s", jget(o, "session_id"));
        json_object_put(o);
    }
    free(r.body);
    snprintf(path, sizeof path, P "/%s", id);
    for (int i = 0; i < 10; i++) {
        r = http("GET", path, tok, NULL, NULL);
        c->errors += r.status != 200 || !strstr(r.body, id);
        free(r.body);
    }
    r = http("GET", P "?limit=20", tok, NULL, NULL);
    c->errors += r.status != 200;
    free(r.body);
    free(tok);
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    (void)state;
    pthread_t th[50];
    client cl[50];
    for (int i = 0; i < 50; i++) {
        cl[i] = (client){i, 0};
        pthread_create(&th[i], NULL, client_main, &cl[i]);
    }
    int errors = 0;
    for (int i = 0; i < 50; i++) {
        pthread_join(th[i], NULL);
        errors += cl[i].errors;
    }
    assert_int_equal(errors, 0);
}

static void test_slow_client_dropped(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)profd_api_port(api))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char *partial = "GET /healthz HTTP/1.1\r\nHost: x\r\n"; /* never finished */
    assert_true(write(fd, partial, strlen(partial)) > 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int64_t t0 = profd_mono_ms();
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    int64_t waited = profd_mono_ms() - t0;
    close(fd);
    assert_true(n <= 0); /* closed by the server, not answered */
    assert_true(waited < 8000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_concurrent_clients),
        cmocka_unit_test(test_slow_client_dropped),
    };
    if (api_http_skip())
        return 0;
    return cmocka_run_group_tests(tests, setup, teardown);
}
