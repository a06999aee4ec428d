/* test_store.c - one table of store behaviours, run against two backends: the
 * memory store and the Redis store over a real redis-server (started on a free
 * port by tests/support/redis_server.c). A third group covers what only Redis
 * has: the raw keys and TTLs, data loss (FLUSHALL), a restart with AOF, an
 * unreachable or hung server, passwords and databases. */
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
#include <unistd.h>

#include "profd/store.h"
#include "conn.h"
#include "support/redis_server.h"

#define TTL (7 * 86400)

static profd_test_redis srv;
static bool redis_up;  /* srv is running */
static bool use_redis; /* the current group's backend */
static profd_store *st;

/* ---- helpers ------------------------------------------------------------------ */

static profd_store *open_store(int ttl)
{
    if (!use_redis)
        return profd_store_memory_open(ttl);
    profd_error err = {0};
    profd_store *s = profd_store_redis_open(srv.url, ttl, &err);
    if (!s)
        fail_msg("%s", err.msg);
    return s;
}

/* A raw command through the connection layer; NULL-terminated arguments. */
static redisReply *raw_v(const char *url, const char **argv)
{
    profd_redis_url u;
    profd_error err;
    assert_int_equal(store__redis_url_parse(url, &u, &err), 0);
    profd_conn *c = store__conn_new(&u, 2000);
    store__cmd cmd;
    store__cmd_init(&cmd, argv[0]);
    for (int i = 1; argv[i]; i++)
        store__cmd_str(&cmd, argv[i]);
    redisReply *rep = NULL;
    if (store__conn_exec(c, &cmd, 1, &rep, &err) != 0)
        fail_msg("%s", err.msg);
    store__conn_free(c);
    return rep;
}
#define RAW(...) raw_v(srv.url, (const char *[]){__VA_ARGS__, NULL})

static long long raw_int(redisReply *r)
{
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void mk(profd_session *s, const char *svc, profd_status status, int64_t created)
{
    profd_session_init(s);
    profd_uuid4(s->session_id);
    profd_strlcpy(s->service_name, svc, sizeof s->service_name);
    s->status = status;
    s->created_at = created;
    s->duration_seconds = 60;
    s->sample_rate_hz = 100;
    profd_strlcpy(s->trigger, "api", sizeof s->trigger);
    profd_strlcpy(s->renderer, "profd " PROFD_VERSION, sizeof s->renderer);
}

static void create_ok(profd_session *s)
{
    profd_error err = {0};
    int rc = st->ops->create(st, s, &err);
    if (rc != 1)
        fail_msg("create returned %d: %s", rc, err.msg);
}

static int list(const char *svc, int status, int limit, profd_session *out)
{
    profd_error err = {0};
    profd_list_filter f = {.service = svc, .status = status, .limit = limit};
    int n = st->ops->list(st, &f, out, 100, &err);
    if (n < 0)
        fail_msg("list: %s", err.msg);
    return n;
}

static void free_all(profd_session *v, int n)
{
    for (int i = 0; i < n; i++)
        profd_session_free(&v[i]);
}

/* ---- setup -------------------------------------------------------------------- */

static int group_memory(void **state)
{
    (void)state;
    use_redis = false;
    return 0;
}

static int group_redis(void **state)
{
    (void)state;
    use_redis = true;
    if (!redis_up && profd_test_redis_start(&srv, false) == 0)
        redis_up = true;
    return 0;
}

static int group_redis_end(void **state)
{
    (void)state;
    return 0;
}

static int each_setup(void **state)
{
    (void)state;
    if (use_redis && !redis_up)
        return 0;
    if (use_redis)
        freeReplyObject(RAW("FLUSHALL"));
    st = open_store(TTL);
    return st ? 0 : -1;
}

static int each_teardown(void **state)
{
    (void)state;
    if (st)
        st->ops->close(st);
    st = NULL;
    return 0;
}

#define NEED_BACKEND()                                                                             \
    do {                                                                                           \
        if (use_redis && !redis_up)                                                                \
            skip();                                                                                \
    } while (0)

/* ---- shared behaviours ------------------------------------------------------------ */

static void test_create_exists(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_session s, again, got;
    profd_error err = {0};
    mk(&s, "web-api", PROFD_QUEUED, profd_now_ms());
    s.pid = 4242;
    create_ok(&s);
    profd_session_copy(&again, &s);
    again.status = PROFD_RUNNING;
    assert_int_equal(st->ops->create(st, &again, &err), 0);
    assert_int_equal(st->ops->get(st, s.session_id, &got, &err), 1);
    assert_string_equal(got.session_id, s.session_id);
    assert_int_equal(got.status, PROFD_QUEUED);
    assert_int_equal(got.pid, 4242);
    assert_int_equal(got.created_at, s.created_at);
    profd_session_free(&got);
    profd_session_free(&again);
    profd_session_free(&s);
}

static void test_get_missing_and_bad_input(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_session out, bad;
    profd_error err = {0};
    char id[PROFD_UUID_LEN + 1];
    profd_uuid4(id);
    assert_int_equal(st->ops->get(st, id, &out, &err), 0);
    assert_int_equal(st->ops->get(st, "../../etc/passwd", &out, &err), -1);
    assert_non_null(strstr(err.msg, "not a UUID"));
    mk(&bad, "Bad Name", PROFD_QUEUED, profd_now_ms());
    assert_int_equal(st->ops->create(st, &bad, &err), -1);
    assert_string_equal(err.code, PROFD_E_INVALID);
    assert_int_equal(st->ops->put(st, &bad, &err), -1);
    profd_list_filter f = {.service = "a b", .status = -1, .limit = 5};
    assert_int_equal(st->ops->list(st, &f, &out, 5, &err), -1);
    assert_int_equal(st->ops->claim(st, "", "me", 1000, &err), -1);
}

static void test_put_moves_status(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_session s, out[4], got;
    profd_error err = {0};
    mk(&s, "jobs", PROFD_QUEUED, profd_now_ms());
    create_ok(&s);
    assert_int_equal(list("jobs", PROFD_QUEUED, 10, out), 1);
    free_all(out, 1);
    s.status = PROFD_RUNNING;
    s.attempt = 1;
    s.started_at = profd_now_ms();
    assert_int_equal(st->ops->put(st, &s, &err), 0);
    assert_int_equal(list("jobs", PROFD_QUEUED, 10, out), 0);
    assert_int_equal(list(NULL, PROFD_QUEUED, 10, out), 0);
    assert_int_equal(list(NULL, PROFD_RUNNING, 10, out), 1);
    assert_int_equal(out[0].attempt, 1);
    free_all(out, 1);
    s.status = PROFD_COMPLETED;
    s.sample_count = 5987;
    assert_int_equal(st->ops->put(st, &s, &err), 0);
    assert_int_equal(list("jobs", PROFD_RUNNING, 10, out), 0);
    assert_int_equal(list("jobs", PROFD_COMPLETED, 10, out), 1);
    free_all(out, 1);
    assert_int_equal(list(NULL, -1, 10, out), 1); /* still listed once overall */
    free_all(out, 1);
    assert_int_equal(st->ops->get(st, s.session_id, &got, &err), 1);
    assert_int_equal(got.status, PROFD_COMPLETED);
    assert_int_equal(got.sample_count, 5987);
    profd_session_free(&got);
}

static void test_list_order_and_filters(void **state)
{
    (void)state;
    NEED_BACKEND();
    /* Six sessions, 10 ms apart, inserted out of order. */
    static const int order[6] = {3, 0, 5, 1, 4, 2};
    const char *svc[6] = {"a", "b", "a", "b", "a", "b"};
    profd_status sts[6] = {PROFD_QUEUED,    PROFD_RUNNING, PROFD_COMPLETED,
                           PROFD_COMPLETED, PROFD_FAILED,  PROFD_COMPLETED};
    profd_session s[6], out[10];
    int64_t base = profd_now_ms() - 100000;
    for (int k = 0; k < 6; k++) {
        int i = order[k];
        mk(&s[i], svc[i], sts[i], base + i * 10);
        create_ok(&s[i]);
    }
    int n = list(NULL, -1, 50, out);
    assert_int_equal(n, 6);
    for (int i = 0; i < 6; i++)
        assert_string_equal(out[i].session_id, s[5 - i].session_id);
    free_all(out, n);
    n = list("a", -1, 50, out); /* 4, 2, 0 */
    assert_int_equal(n, 3);
    assert_string_equal(out[0].session_id, s[4].session_id);
    assert_string_equal(out[2].session_id, s[0].session_id);
    free_all(out, n);
    n = list(NULL, PROFD_COMPLETED, 50, out); /* 5, 3, 2 */
    assert_int_equal(n, 3);
    assert_string_equal(out[0].session_id, s[5].session_id);
    assert_string_equal(out[1].session_id, s[3].session_id);
    assert_string_equal(out[2].session_id, s[2].session_id);
    free_all(out, n);
    n = list("b", PROFD_COMPLETED, 50, out); /* 5, 3 */
    assert_int_equal(n, 2);
    assert_string_equal(out[0].session_id, s[5].session_id);
    assert_string_equal(out[1].session_id, s[3].session_id);
    free_all(out, n);
    n = list(NULL, -1, 2, out);
    assert_int_equal(n, 2);
    assert_string_equal(out[1].session_id, s[4].session_id);
    free_all(out, n);
    assert_int_equal(list("nobody", -1, 50, out), 0);
    for (int i = 0; i < 6; i++)
        profd_session_free(&s[i]);
}

static void test_records_expire(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_store *main_store = st;
    st = open_store(1); /* 1 s TTL */
    profd_session a, b, out[4];
    profd_error err = {0};
    mk(&a, "svc", PROFD_QUEUED, profd_now_ms() - 5);
    mk(&b, "svc", PROFD_QUEUED, profd_now_ms());
    create_ok(&a);
    usleep(600 * 1000);
    create_ok(&b);
    assert_int_equal(st->ops->get(st, a.session_id, &out[0], &err), 1);
    profd_session_free(&out[0]);
    usleep(600 * 1000); /* a is gone, b is not */
    assert_int_equal(st->ops->get(st, a.session_id, &out[0], &err), 0);
    int n = list("svc", PROFD_QUEUED, 10, out);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].session_id, b.session_id);
    free_all(out, n);
    if (use_redis) /* the list lazily dropped a's index entry */
        assert_int_equal(raw_int(RAW("ZCARD", "profd:idx:svcstatus:svc:queued")), 1);
    st->ops->close(st);
    st = main_store;
}

static void test_claim_semantics(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_error err = {0};
    assert_int_equal(st->ops->claim(st, "lock:t1", "A", 10000, &err), 1);
    assert_int_equal(st->ops->claim(st, "lock:t1", "B", 10000, &err), 0);
    assert_int_equal(st->ops->claim(st, "lock:t1", "A", 10000, &err), 1);
    assert_int_equal(st->ops->renew(st, "lock:t1", "A", 10000, &err), 1);
    assert_int_equal(st->ops->renew(st, "lock:t1", "B", 10000, &err), 0);
    assert_int_equal(st->ops->release(st, "lock:t1", "B", &err), 0);
    assert_int_equal(st->ops->claim(st, "lock:t1", "B", 10000, &err), 0); /* A still holds */
    assert_int_equal(st->ops->release(st, "lock:t1", "A", &err), 0);
    assert_int_equal(st->ops->claim(st, "lock:t1", "B", 10000, &err), 1);
    assert_int_equal(st->ops->claim(st, "lock:t2", "A", 10000, &err), 1); /* independent keys */
}

static void test_claim_expiry_and_retake(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_error err = {0};
    assert_int_equal(st->ops->claim(st, "lease:x", "A", 100, &err), 1);
    assert_int_equal(st->ops->claim(st, "lease:x", "B", 100, &err), 0);
    usleep(180 * 1000);
    assert_int_equal(st->ops->claim(st, "lease:x", "B", 5000, &err), 1);
    assert_int_equal(st->ops->renew(st, "lease:x", "A", 5000, &err), 0);
    assert_int_equal(st->ops->release(st, "lease:x", "B", &err), 0);
    /* The key vanished: the owner's renew retakes it and says so. */
    assert_int_equal(st->ops->renew(st, "lease:x", "A", 5000, &err), 2);
    assert_int_equal(st->ops->claim(st, "lease:x", "B", 5000, &err), 0);
    assert_int_equal(st->ops->renew(st, "lease:x", "A", 5000, &err), 1);
}

static void test_lease_and_expired(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_error err = {0};
    char id[3][PROFD_UUID_LEN + 1], out[8][PROFD_UUID_LEN + 1];
    int64_t now = profd_now_ms();
    for (int i = 0; i < 3; i++)
        profd_uuid4(id[i]);
    assert_int_equal(st->ops->lease(st, id[0], now - 1000, &err), 0);
    assert_int_equal(st->ops->lease(st, id[1], now + 60000, &err), 0);
    assert_int_equal(st->ops->lease(st, id[2], now - 500, &err), 0);
    assert_int_equal(st->ops->expired(st, now, out, 8, &err), 2);
    assert_string_equal(out[0], id[0]); /* most overdue first */
    assert_string_equal(out[1], id[2]);
    assert_int_equal(st->ops->expired(st, now, out, 1, &err), 1);
    assert_int_equal(st->ops->lease(st, id[0], 0, &err), 0);           /* removed */
    assert_int_equal(st->ops->lease(st, id[2], now + 60000, &err), 0); /* renewed */
    assert_int_equal(st->ops->expired(st, now, out, 8, &err), 0);
    assert_int_equal(st->ops->expired(st, now + 120000, out, 8, &err), 2);
}

static void test_queued_before(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_error err = {0};
    profd_session s[4];
    char out[8][PROFD_UUID_LEN + 1];
    int64_t t = profd_now_ms() - 60000;
    mk(&s[0], "q", PROFD_QUEUED, t + 10);
    mk(&s[1], "q", PROFD_QUEUED, t);
    mk(&s[2], "q", PROFD_RUNNING, t + 5);
    mk(&s[3], "q", PROFD_QUEUED, t + 20);
    for (int i = 0; i < 4; i++)
        create_ok(&s[i]);
    assert_int_equal(st->ops->queued_before(st, t + 15, out, 8, &err), 2);
    assert_string_equal(out[0], s[1].session_id);
    assert_string_equal(out[1], s[0].session_id);
    s[1].status = PROFD_RUNNING;
    assert_int_equal(st->ops->put(st, &s[1], &err), 0);
    assert_int_equal(st->ops->queued_before(st, t + 15, out, 8, &err), 1);
    assert_string_equal(out[0], s[0].session_id);
    assert_int_equal(st->ops->queued_before(st, t, out, 8, &err), 0);
}

static void test_incr_window(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_error err = {0};
    assert_int_equal(st->ops->incr(st, "rate:alice", 1, &err), 1);
    assert_int_equal(st->ops->incr(st, "rate:alice", 1, &err), 2);
    assert_int_equal(st->ops->incr(st, "rate:bob", 1, &err), 1);
    assert_int_equal(st->ops->incr(st, "rate:alice", 1, &err), 3);
    usleep(1150 * 1000); /* the window set by the first increment ends */
    assert_int_equal(st->ops->incr(st, "rate:alice", 60, &err), 1);
    assert_int_equal(st->ops->incr(st, "rate:alice", 60, &err), 2);
}

static void test_remove(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_error err = {0};
    profd_session s, keep, out[4];
    char ids[4][PROFD_UUID_LEN + 1];
    mk(&s, "gone", PROFD_QUEUED, profd_now_ms() - 1000);
    mk(&keep, "gone", PROFD_QUEUED, profd_now_ms());
    create_ok(&s);
    create_ok(&keep);
    s.status = PROFD_RUNNING;
    assert_int_equal(st->ops->put(st, &s, &err), 0);
    assert_int_equal(st->ops->lease(st, s.session_id, 1, &err), 0);
    assert_int_equal(st->ops->remove(st, s.session_id, &err), 1);
    assert_int_equal(st->ops->get(st, s.session_id, &out[0], &err), 0);
    int n = list(NULL, -1, 10, out);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].session_id, keep.session_id);
    free_all(out, n);
    assert_int_equal(list("gone", PROFD_RUNNING, 10, out), 0);
    assert_int_equal(st->ops->expired(st, profd_now_ms(), ids, 4, &err), 0);
    assert_int_equal(st->ops->remove(st, s.session_id, &err), 0);
    if (use_redis) {
        assert_int_equal(raw_int(RAW("ZCARD", "profd:idx:all")), 1);
        assert_int_equal(raw_int(RAW("ZCARD", "profd:idx:service:gone")), 1);
        assert_int_equal(raw_int(RAW("EXISTS", "profd:idx:status:running")), 0);
        assert_int_equal(raw_int(RAW("EXISTS", "profd:idx:svcstatus:gone:running")), 0);
    }
}

#define THREADS 4
#define PER_THREAD 50

static int claim_wins;
static pthread_mutex_t wins_mu = PTHREAD_MUTEX_INITIALIZER;

static void *hammer(void *arg)
{
    long t = (long)arg;
    char owner[16];
    snprintf(owner, sizeof owner, "worker-%ld", t);
    long failures = 0;
    for (int i = 0; i < PER_THREAD; i++) {
        profd_session s, got;
        profd_error err = {0};
        profd_session_init(&got);
        mk(&s, t % 2 ? "odd" : "even", PROFD_QUEUED, profd_now_ms());
        failures += st->ops->create(st, &s, &err) != 1;
        s.status = PROFD_RUNNING;
        failures += st->ops->put(st, &s, &err) != 0;
        failures += st->ops->get(st, s.session_id, &got, &err) != 1;
        failures += got.status != PROFD_RUNNING;
        profd_session_free(&got);
        failures += st->ops->incr(st, "shared-counter", 60, &err) < 0;
        int won = st->ops->claim(st, "shared-lock", owner, 60000, &err);
        failures += won < 0;
        if (won == 1 && i == 0) {
            pthread_mutex_lock(&wins_mu);
            claim_wins++;
            pthread_mutex_unlock(&wins_mu);
        }
    }
    return (void *)failures;
}

static void test_threads(void **state)
{
    (void)state;
    NEED_BACKEND();
    pthread_t th[THREADS];
    claim_wins = 0;
    for (long t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, hammer, (void *)t);
    for (int t = 0; t < THREADS; t++) {
        void *failures;
        pthread_join(th[t], &failures);
        assert_int_equal((long)failures, 0);
    }
    profd_error err = {0};
    assert_int_equal(claim_wins, 1);
    assert_int_equal(st->ops->incr(st, "shared-counter", 60, &err), THREADS * PER_THREAD + 1);
    profd_session out[100];
    int n = list("odd", PROFD_RUNNING, 100, out);
    assert_int_equal(n, 2 * PER_THREAD);
    free_all(out, n);
    n = list(NULL, PROFD_QUEUED, 100, out);
    assert_int_equal(n, 0);
}

/* ---- Redis only ------------------------------------------------------------------- */

/* Connected clients other than the one asking. */
static long redis_clients(void)
{
    redisReply *r = RAW("INFO", "clients");
    const char *p = strstr(r->str, "connected_clients:");
    long n = p ? atol(p + strlen("connected_clients:")) - 1 : -1;
    freeReplyObject(r);
    return n;
}

/* Threads borrow connections from a small pool: busy threads do not queue on
 * one socket, and Redis never sees more than four clients per store. */
static void test_redis_connection_pool(void **state)
{
    (void)state;
    NEED_BACKEND();
    for (int i = 0; i < 100 && redis_clients() != 1; i++)
        usleep(10 * 1000);                /* Redis notices the last test's store closing */
    assert_int_equal(redis_clients(), 1); /* one connection at open */
    pthread_t th[2 * THREADS];
    claim_wins = 0;
    for (long t = 0; t < 2 * THREADS; t++)
        pthread_create(&th[t], NULL, hammer, (void *)t);
    for (int t = 0; t < 2 * THREADS; t++) {
        void *failures;
        pthread_join(th[t], &failures);
        assert_int_equal((long)failures, 0);
    }
    long n = redis_clients();
    assert_true(n >= 2 && n <= 4);
    assert_int_equal(claim_wins, 1);
}

static void test_redis_keys_and_ttl(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_session s;
    profd_error err = {0};
    mk(&s, "web-api", PROFD_QUEUED, profd_now_ms());
    create_ok(&s);
    char key[128];
    snprintf(key, sizeof key, "profd:session:%s", s.session_id);
    long long ttl = raw_int(RAW("TTL", key));
    assert_true(ttl > TTL - 10 && ttl <= TTL);
    assert_int_equal(raw_int(RAW("ZCARD", "profd:idx:svcstatus:web-api:queued")), 1);
    redisReply *r = RAW("ZSCORE", "profd:idx:all", s.session_id);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_int_equal(atoll(r->str), s.created_at);
    freeReplyObject(r);
    /* put restarts the TTL */
    freeReplyObject(RAW("EXPIRE", key, "100"));
    s.status = PROFD_RUNNING;
    assert_int_equal(st->ops->put(st, &s, &err), 0);
    assert_true(raw_int(RAW("TTL", key)) > TTL - 10);
    assert_int_equal(raw_int(RAW("PTTL", "profd:claim:none")), -2);
    assert_int_equal(st->ops->claim(st, "k", "A", 30000, &err), 1);
    long long pttl = raw_int(RAW("PTTL", "profd:claim:k"));
    assert_true(pttl > 29000 && pttl <= 30000);
}

static void test_redis_renew_after_data_loss(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_error err = {0};
    assert_int_equal(st->ops->claim(st, "lease:s1", "worker-1", 30000, &err), 1);
    freeReplyObject(RAW("FLUSHALL"));
    assert_int_equal(st->ops->renew(st, "lease:s1", "worker-1", 30000, &err), 2);
    redisReply *r = RAW("GET", "profd:claim:lease:s1");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "worker-1");
    freeReplyObject(r);
    assert_int_equal(st->ops->renew(st, "lease:s1", "worker-1", 30000, &err), 1);
}

static void test_redis_restart_with_aof(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_test_redis aof;
    if (profd_test_redis_start(&aof, true) != 0)
        fail_msg("could not start redis-server with --appendonly yes");
    profd_error err = {0};
    profd_store *s = profd_store_redis_open(aof.url, TTL, &err);
    assert_non_null(s);
    profd_session sess[5], got;
    for (int i = 0; i < 5; i++) {
        mk(&sess[i], "durable", PROFD_QUEUED, profd_now_ms() + i);
        assert_int_equal(s->ops->create(s, &sess[i], &err), 1);
    }
    assert_int_equal(s->ops->claim(s, "lock", "me", 60000, &err), 1);
    profd_test_redis_kill(&aof);

    int64_t t0 = profd_mono_ms();
    profd_session extra;
    mk(&extra, "durable", PROFD_QUEUED, profd_now_ms());
    assert_int_equal(s->ops->create(s, &extra, &err), -1);
    char want[64];
    snprintf(want, sizeof want, "redis at 127.0.0.1:%d: ", aof.port);
    assert_non_null(strstr(err.msg, want));
    assert_int_equal(s->ops->get(s, sess[0].session_id, &got, &err), -1);
    assert_non_null(strstr(err.msg, "connection refused"));
    assert_int_equal(s->ops->ping(s, &err), -1);
    assert_true(profd_mono_ms() - t0 < 1000);

    assert_int_equal(profd_test_redis_restart(&aof), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(s->ops->get(s, sess[i].session_id, &got, &err), 1);
        profd_session_free(&got);
    }
    assert_int_equal(s->ops->get(s, extra.session_id, &got, &err), 0); /* never committed */
    assert_int_equal(s->ops->claim(s, "lock", "other", 60000, &err), 0);
    assert_int_equal(s->ops->create(s, &extra, &err), 1);
    /* A restart while the store is idle costs no failed call at all. */
    profd_test_redis_kill(&aof);
    assert_int_equal(profd_test_redis_restart(&aof), 0);
    if (s->ops->get(s, extra.session_id, &got, &err) != 1)
        fail_msg("first call after an idle restart: %s", err.msg);
    profd_session_free(&got);
    s->ops->close(s);
    profd_test_redis_stop(&aof);
}

static void test_redis_unreachable(void **state)
{
    (void)state;
    char url[64];
    profd_error err = {0};
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", profd_test_free_port());
    int64_t t0 = profd_mono_ms();
    assert_null(profd_store_redis_open(url, TTL, &err));
    assert_true(profd_mono_ms() - t0 < 1000);
    assert_non_null(strstr(err.msg, "redis at 127.0.0.1:"));
    assert_non_null(strstr(err.msg, ": connection refused"));
}

static void test_redis_hung_server_times_out(void **state)
{
    (void)state;
    /* Accepts connections (through the backlog) but never answers. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    char url[64];
    profd_error err = {0};
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", ntohs(a.sin_port));
    profd_store *s = profd_store_redis_open(url, TTL, &err);
    assert_non_null(s); /* no AUTH or SELECT: nothing to answer yet */
    int64_t t0 = profd_mono_ms();
    assert_int_equal(s->ops->ping(s, &err), -1);
    int64_t took = profd_mono_ms() - t0;
    assert_true(took >= 1900 && took < 3000);
    assert_non_null(strstr(err.msg, "timed out"));
    s->ops->close(s);
    close(fd);
}

static void test_redis_password_and_db(void **state)
{
    (void)state;
    NEED_BACKEND();
    profd_error err = {0};
    char url[128];
    freeReplyObject(RAW("CONFIG", "SET", "requirepass", "s3cret-pw"));
    snprintf(url, sizeof url, "redis://:wrong-pw@127.0.0.1:%d/0", srv.port);
    assert_null(profd_store_redis_open(url, TTL, &err));
    assert_null(strstr(err.msg, "wrong-pw"));
    assert_non_null(strstr(err.msg, "redis at 127.0.0.1:"));
    snprintf(url, sizeof url, "redis://:s3cret-pw@127.0.0.1:%d/3", srv.port);
    profd_store *s = profd_store_redis_open(url, TTL, &err);
    if (!s)
        fail_msg("%s", err.msg);
    profd_session sess;
    mk(&sess, "db3", PROFD_QUEUED, profd_now_ms());
    assert_int_equal(s->ops->create(s, &sess, &err), 1);
    s->ops->close(s);
    /* The record is in db 3, not in db 0. */
    char key[128];
    snprintf(key, sizeof key, "profd:session:%s", sess.session_id);
    redisReply *r = raw_v(url, (const char *[]){"EXISTS", key, NULL});
    assert_int_equal(raw_int(r), 1);
    char url0[128];
    snprintf(url0, sizeof url0, "redis://:s3cret-pw@127.0.0.1:%d/0", srv.port);
    assert_int_equal(raw_int(raw_v(url0, (const char *[]){"EXISTS", key, NULL})), 0);
    freeReplyObject(raw_v(url0, (const char *[]){"CONFIG", "SET", "requirepass", "", NULL}));
}

static void test_url_parsing(void **state)
{
    (void)state;
    profd_redis_url u;
    profd_error err = {0};
    assert_int_equal(store__redis_url_parse("redis://localhost", &u, &err), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_int_equal(store__redis_url_parse("redis://:p%40ss@10.0.0.5:6380/2", &u, &err), 0);
    assert_string_equal(u.password, "p@ss");
    assert_string_equal(u.host, "10.0.0.5");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 2);
    assert_int_equal(store__redis_url_parse("redis://bob:pw@[::1]:7000", &u, &err), 0);
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    const char *bad[] = {"http://x",     "redis://:pw@h:99999", "redis://:pw@h:1/x",
                         "redis://:pw@", "redis://h:1?x=1",     "redis://:p%zz@h"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(store__redis_url_parse(bad[i], &u, &err), -1);
        assert_null(strstr(err.msg, "pw"));
        assert_null(strchr(err.msg, '\n'));
    }
    profd_config cfg = {.session_ttl_days = 7};
    profd_strlcpy(cfg.redis_url, "rediss://:pw@h:6380", sizeof cfg.redis_url);
    assert_null(profd_store_open(&cfg, &err));
    assert_non_null(strstr(err.msg, "TLS"));
    assert_null(strstr(err.msg, "pw"));
    profd_strlcpy(cfg.redis_url, "memory", sizeof cfg.redis_url);
    profd_store *m = profd_store_open(&cfg, &err);
    assert_non_null(m);
    assert_int_equal(m->ttl_seconds, 7 * 86400);
    assert_int_equal(m->ops->ping(m, &err), 0);
    m->ops->close(m);
}

#define SHARED(f) cmocka_unit_test_setup_teardown(f, each_setup, each_teardown)

int main(void)
{
    const struct CMUnitTest shared[] = {
        SHARED(test_create_exists),
        SHARED(test_get_missing_and_bad_input),
        SHARED(test_put_moves_status),
        SHARED(test_list_order_and_filters),
        SHARED(test_records_expire),
        SHARED(test_claim_semantics),
        SHARED(test_claim_expiry_and_retake),
        SHARED(test_lease_and_expired),
        SHARED(test_queued_before),
        SHARED(test_incr_window),
        SHARED(test_remove),
        SHARED(test_threads),
    };
    const struct CMUnitTest redis_only[] = {
        SHARED(test_redis_keys_and_ttl),
        SHARED(test_redis_connection_pool),
        SHARED(test_redis_renew_after_data_loss),
        SHARED(test_redis_password_and_db),
        cmocka_unit_test(test_redis_restart_with_aof),
        cmocka_unit_test(test_redis_unreachable),
        cmocka_unit_test(test_redis_hung_server_times_out),
        cmocka_unit_test(test_url_parsing),
    };
    int failed = cmocka_run_group_tests_name("memory store", shared, group_memory, NULL);
    failed += cmocka_run_group_tests_name("redis store", shared, group_redis, group_redis_end);
    failed += cmocka_run_group_tests_name("redis only", redis_only, group_redis, NULL);
    if (redis_up)
        profd_test_redis_stop(&srv);
    return failed;
}
