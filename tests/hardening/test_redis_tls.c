/* test_redis_tls.c - the Redis store over TLS (rediss://) against Debian's
 * redis-server with its own --tls-port. Run by redis_tls.sh, which makes a CA,
 * a second (wrong) CA, a server certificate naming only "localhost", and a
 * client certificate with the openssl CLI, starts two servers (client
 * certificates optional / required) and passes everything in the environment:
 *   TLS_DIR    the PEM files;   TLS_PORT   the server without client auth
 *   MTLS_PORT  the server with --tls-auth-clients yes
 *   HUNG_PORT  a socket that accepts and never speaks */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "profd/store.h"

static char dir[512], url[128], murl[128], ipurl[128];
static char ca[600], ca2[600], cert[600], key[600], skey[600];

static const char *f(char *buf, const char *name)
{
    snprintf(buf, 600, "%s/%s", dir, name);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    const char *d = getenv("TLS_DIR"), *p = getenv("TLS_PORT"), *m = getenv("MTLS_PORT");
    if (!d || !p || !m) {
        fprintf(stderr, "run me through redis_tls.sh\n");
        return -1;
    }
    snprintf(dir, sizeof dir, "%s", d);
    snprintf(url, sizeof url, "rediss://localhost:%s/0", p);
    snprintf(ipurl, sizeof ipurl, "rediss://127.0.0.1:%s/0", p);
    snprintf(murl, sizeof murl, "rediss://localhost:%s/0", m);
    f(ca, "ca.crt"), f(ca2, "other-ca.crt"), f(cert, "client.crt"), f(key, "client.key");
    f(skey, "server.key");
    return 0;
}

static void mk(profd_session *s, int i)
{
    profd_session_init(s);
    snprintf(s->session_id, sizeof s->session_id, "00000000-0000-4000-8000-%012d", i);
    snprintf(s->service_name, sizeof s->service_name, "svc-%d", i % 3);
    s->status = PROFD_QUEUED;
    s->created_at = 1700000000000LL + i;
    s->duration_seconds = 10;
    s->sample_rate_hz = 100;
    /* A long message, so listing many sessions spans several TLS records. */
    memset(s->error_message, 'm', 400);
    s->error_message[400] = '\0';
}

/* The store's behaviours, through profd_store_open and the environment, as
 * the worker and the API open it. */
static void test_store_over_tls(void **state)
{
    (void)state;
    setenv("PROFD_REDIS_URL", url, 1);
    setenv("PROFD_REDIS_CA", ca, 1);
    profd_config cfg;
    profd_error err = {0};
    assert_int_equal(profd_config_load(&cfg, &err), 0);
    profd_store *st = profd_store_open(&cfg, &err);
    if (!st)
        fail_msg("%s", err.msg);
    assert_int_equal(st->ops->ping(st, &err), 0);
    profd_session s, got;
    for (int i = 1; i <= 80; i++) {
        mk(&s, i);
        assert_int_equal(st->ops->create(st, &s, &err), 1);
        assert_int_equal(st->ops->create(st, &s, &err), 0); /* idempotent */
        profd_session_free(&s);
    }
    assert_int_equal(st->ops->get(st, "00000000-0000-4000-8000-000000000007", &got, &err), 1);
    assert_string_equal(got.service_name, "svc-1");
    got.status = PROFD_RUNNING;
    assert_int_equal(st->ops->put(st, &got, &err), 0);
    profd_session_free(&got);
    profd_session list[100];
    profd_list_filter all = {NULL, -1, 100};
    int n = st->ops->list(st, &all, list, 100, &err);
    assert_int_equal(n, 80); /* 80 records of > 400 bytes: ~40 KB of replies */
    assert_string_equal(list[0].session_id, "00000000-0000-4000-8000-000000000080");
    for (int i = 0; i < n; i++)
        profd_session_free(&list[i]);
    profd_list_filter running = {NULL, PROFD_RUNNING, 10};
    n = st->ops->list(st, &running, list, 10, &err);
    assert_int_equal(n, 1);
    profd_session_free(&list[0]);
    assert_int_equal(st->ops->claim(st, "tls-claim", "a", 5000, &err), 1);
    assert_int_equal(st->ops->claim(st, "tls-claim", "b", 5000, &err), 0);
    assert_int_equal(st->ops->renew(st, "tls-claim", "a", 5000, &err), 1);
    assert_int_equal(st->ops->release(st, "tls-claim", "a", &err), 0);
    assert_int_equal(st->ops->claim(st, "tls-claim", "b", 5000, &err), 1);
    assert_int_equal(st->ops->incr(st, "tls-counter", 60, &err), 1);
    assert_int_equal(st->ops->incr(st, "tls-counter", 60, &err), 2);
    assert_int_equal(st->ops->remove(st, "00000000-0000-4000-8000-000000000007", &err), 1);
    assert_int_equal(st->ops->get(st, "00000000-0000-4000-8000-000000000007", &got, &err), 0);
    st->ops->close(st);
    unsetenv("PROFD_REDIS_URL");
    unsetenv("PROFD_REDIS_CA");
}

static void expect_refused(const char *u, const char *c, const char *crt, const char *k,
                           const char *want1, const char *want2)
{
    profd_error err = {0};
    profd_store *st = profd_store_redis_open_tls(u, 60, c, crt, k, &err);
    if (st) {
        st->ops->close(st);
        fail_msg("%s was accepted", u);
    }
    if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
        fail_msg("unexpected error: %s", err.msg);
    assert_null(strchr(err.msg, '\n'));
}

static void test_wrong_ca_rejected(void **state)
{
    (void)state;
    expect_refused(url, ca2, NULL, NULL, "certificate verification failed", "PROFD_REDIS_CA");
    /* Without PROFD_REDIS_CA the system store is used: our test CA is not in it. */
    expect_refused(url, NULL, NULL, NULL, "certificate verification failed", NULL);
}

static void test_host_name_checked(void **state)
{
    (void)state;
    /* The certificate names localhost only, so 127.0.0.1 does not match. */
    expect_refused(ipurl, ca, NULL, NULL, "certificate verification failed", "host name");
}

static void test_bad_files_reported(void **state)
{
    (void)state;
    expect_refused(url, "/nonexistent/ca.pem", NULL, NULL,
                   "PROFD_REDIS_CA: cannot read the CA certificates /nonexistent/ca.pem",
                   "no such file");
    expect_refused(url, skey, NULL, NULL, "PROFD_REDIS_CA: cannot load CA certificates from",
                   "server.key"); /* a key is not a certificate */
    expect_refused(murl, ca, "/nonexistent/c.pem", NULL, "PROFD_REDIS_CERT: cannot read", NULL);
    expect_refused(murl, ca, NULL, key, "PROFD_REDIS_KEY is set without PROFD_REDIS_CERT", NULL);
    expect_refused(murl, ca, cert, skey, "PROFD_REDIS_KEY", "does not match");
}

static void test_client_certificate(void **state)
{
    (void)state;
    expect_refused(murl, ca, NULL, NULL, "redis (TLS) at localhost:", "certificate");
    profd_error err = {0};
    profd_store *st = profd_store_redis_open_tls(murl, 60, ca, cert, key, &err);
    if (!st)
        fail_msg("%s", err.msg);
    assert_int_equal(st->ops->ping(st, &err), 0);
    assert_int_equal(st->ops->incr(st, "mtls-counter", 60, &err), 1);
    st->ops->close(st);
}

/* The server drops every client (as a restart does) while we are idle: the
 * next operation reconnects over TLS instead of failing. */
static void test_reconnect_after_drop(void **state)
{
    (void)state;
    if (system("command -v redis-cli >/dev/null") != 0)
        skip();
    profd_error err = {0};
    profd_store *st = profd_store_redis_open_tls(url, 60, ca, NULL, NULL, &err);
    if (!st)
        fail_msg("%s", err.msg);
    assert_int_equal(st->ops->incr(st, "tls-reconnect", 60, &err), 1);
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "redis-cli --tls --cacert %s -h localhost -p %s CLIENT KILL TYPE normal >/dev/null",
             ca, getenv("TLS_PORT"));
    assert_int_equal(system(cmd), 0);
    usleep(100 * 1000);
    if (st->ops->incr(st, "tls-reconnect", 60, &err) != 2)
        fail_msg("after the server dropped us: %s", err.msg);
    st->ops->close(st);
}

static void test_hung_server_bounded(void **state)
{
    (void)state;
    const char *hung = getenv("HUNG_PORT");
    if (!hung)
        skip();
    char u[128];
    snprintf(u, sizeof u, "rediss://localhost:%s", hung);
    int64_t t0 = profd_mono_ms();
    expect_refused(u, ca, NULL, NULL, "TLS handshake timed out", NULL);
    int64_t took = profd_mono_ms() - t0;
    assert_true(took >= 1500 && took < 4000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_over_tls),      cmocka_unit_test(test_wrong_ca_rejected),
        cmocka_unit_test(test_host_name_checked),   cmocka_unit_test(test_bad_files_reported),
        cmocka_unit_test(test_client_certificate),  cmocka_unit_test(test_reconnect_after_drop),
        cmocka_unit_test(test_hung_server_bounded),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
