/* redis.c - the session store on Redis.
 *
 * Every operation is one round trip: a single command or a Lua script (see
 * redis_scripts.c) that does the multi-key work atomically inside Redis. The
 * worker's threads and the API's share one store, so it holds a few
 * connections (POOL) and an operation borrows an idle one: the worker's
 * intake no longer waits behind every write of a burst of finishing captures,
 * while Redis sees a bounded number of clients per process. A failed operation drops its
 * connection and the next use reconnects, so a Redis restart costs the calls
 * made while it was down (each a clean -1 with "redis at HOST:PORT: ..."),
 * nothing more.
 *
 * Keys (docs/store.md has the full table):
 *   profd:session:{id}                    record (stored JSON), EX ttl
 *   profd:idx:all / service:{svc} / status:{st} / svcstatus:{svc}:{st}
 *                                         ZSETs of ids scored by created_at ms
 *   profd:leases                          ZSET of running ids scored by lease deadline
 *   profd:claim:{key}                     claim owner, PX ttl
 *   profd:count:{key}                     windowed counter */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "profd/store.h"
#include "redis_scripts.h"

#define K_RECORD "profd:session:"
#define K_IDX "profd:idx:"
#define K_LEASES "profd:leases"
#define K_CLAIM "profd:claim:"
#define K_COUNT "profd:count:"
#define KEYLEN 512

#define POOL 4

typedef struct redis_store {
    profd_store base;
    pthread_mutex_t mu;
    pthread_cond_t freed;
    profd_conn *conn[POOL];
    int idle[POOL]; /* a stack of indexes into conn[] */
    int nidle;
} redis_store;

static redis_store *R(profd_store *st)
{
    return (redis_store *)st;
}

/* ---- keys and validation ------------------------------------------------------ */

static int check_session(const profd_session *s, profd_error *err)
{
    if (!profd_uuid_valid(s->session_id)) {
        profd_error_set(err, PROFD_E_INVALID, "session store: session id '%.40s' is not a UUID",
                        s->session_id);
        return -1;
    }
    if (!profd_service_name_valid(s->service_name)) {
        profd_error_set(err, PROFD_E_INVALID, "session store: invalid service name '%.70s'",
                        s->service_name);
        return -1;
    }
    return 0;
}

static int check_id(const char *id, profd_error *err)
{
    if (profd_uuid_valid(id))
        return 0;
    profd_error_set(err, PROFD_E_INVALID, "session store: session id '%.40s' is not a UUID", id);
    return -1;
}

static int prefixed(char *out, const char *prefix, const char *key, profd_error *err)
{
    if (!key || !*key || snprintf(out, KEYLEN, "%s%s", prefix, key) >= KEYLEN) {
        profd_error_set(err, NULL, "session store: key must be 1..%d bytes",
                        KEYLEN - 1 - (int)strlen(prefix));
        return -1;
    }
    return 0;
}

static int64_t trim_cutoff(profd_store *st)
{
    return profd_now_ms() - (int64_t)st->ttl_seconds * 1000;
}

static int64_t score_of(const profd_session *s)
{
    return s->created_at > 0 ? s->created_at : profd_now_ms();
}

/* ---- running commands ---------------------------------------------------------- */

static void eval_init(store__cmd *c, const char *script, int nkeys)
{
    store__cmd_init(c, "EVAL");
    store__cmd_str(c, script);
    store__cmd_num(c, nkeys);
}

/* One command, one reply; error replies become -1. */
static int run(profd_store *st, store__cmd *cmd, redisReply **rep, profd_error *err)
{
    redis_store *rs = R(st);
    pthread_mutex_lock(&rs->mu);
    while (rs->nidle == 0)
        pthread_cond_wait(&rs->freed, &rs->mu);
    int i = rs->idle[--rs->nidle];
    pthread_mutex_unlock(&rs->mu);
    int rc = store__conn_exec(rs->conn[i], cmd, 1, rep, err);
    if (rc == 0 && store__conn_reply_ok(rs->conn[i], *rep, err) != 0) {
        store__conn_free_replies(rep, 1);
        rc = -1;
    }
    pthread_mutex_lock(&rs->mu);
    rs->idle[rs->nidle++] = i;
    pthread_cond_signal(&rs->freed);
    pthread_mutex_unlock(&rs->mu);
    return rc;
}

/* Run and expect an integer reply; returns it, or -1. */
static long long run_int(profd_store *st, store__cmd *cmd, profd_error *err)
{
    redisReply *rep = NULL;
    if (run(st, cmd, &rep, err) != 0)
        return -1;
    long long v = -1;
    if (rep->type == REDIS_REPLY_INTEGER)
        v = rep->integer;
    else
        profd_error_set(err, NULL, "redis at %s: unexpected reply type %d",
                        store__conn_addr(R(st)->conn[0]), rep->type);
    freeReplyObject(rep);
    return v;
}

/* ---- records ------------------------------------------------------------------- */

static profd_create_result r_create(profd_store *st, const profd_session *s, profd_error *err)
{
    if (check_session(s, err) != 0)
        return -1;
    const char *stname = profd_status_name(s->status);
    char rec[KEYLEN], svc[KEYLEN], sts[KEYLEN], both[KEYLEN];
    snprintf(rec, sizeof rec, K_RECORD "%s", s->session_id);
    snprintf(svc, sizeof svc, K_IDX "service:%s", s->service_name);
    snprintf(sts, sizeof sts, K_IDX "status:%s", stname);
    snprintf(both, sizeof both, K_IDX "svcstatus:%s:%s", s->service_name, stname);
    char *json = profd_session_to_string(s, true);
    store__cmd c;
    eval_init(&c, store__lua_create, 5);
    store__cmd_str(&c, rec);
    store__cmd_str(&c, K_IDX "all");
    store__cmd_str(&c, svc);
    store__cmd_str(&c, sts);
    store__cmd_str(&c, both);
    store__cmd_str(&c, json);
    store__cmd_num(&c, st->ttl_seconds);
    store__cmd_num(&c, score_of(s));
    store__cmd_str(&c, s->session_id);
    store__cmd_num(&c, trim_cutoff(st));
    store__cmd_str(&c, K_RECORD);
    long long v = run_int(st, &c, err);
    free(json);
    return (int)v;
}

static int r_put(profd_store *st, const profd_session *s, profd_error *err)
{
    if (check_session(s, err) != 0)
        return -1;
    char keys[11][KEYLEN];
    snprintf(keys[0], KEYLEN, K_RECORD "%s", s->session_id);
    snprintf(keys[1], KEYLEN, K_IDX "all");
    snprintf(keys[2], KEYLEN, K_IDX "service:%s", s->service_name);
    for (int i = 0; i < 4; i++) {
        const char *n = profd_status_name((profd_status)i);
        snprintf(keys[3 + i], KEYLEN, K_IDX "status:%s", n);
        snprintf(keys[7 + i], KEYLEN, K_IDX "svcstatus:%s:%s", s->service_name, n);
    }
    char *json = profd_session_to_string(s, true);
    store__cmd c;
    eval_init(&c, store__lua_put, 11);
    for (int i = 0; i < 11; i++)
        store__cmd_str(&c, keys[i]);
    store__cmd_str(&c, json);
    store__cmd_num(&c, st->ttl_seconds);
    store__cmd_num(&c, score_of(s));
    store__cmd_str(&c, s->session_id);
    store__cmd_num(&c, trim_cutoff(st));
    store__cmd_str(&c, K_RECORD);
    store__cmd_num(&c, (int)s->status);
    long long v = run_int(st, &c, err);
    free(json);
    return v < 0 ? -1 : 0;
}

static int parse_record(const char *id, const char *buf, size_t len, profd_session *out,
                        profd_error *err)
{
    profd_error e;
    if (profd_session_parse(buf, len, out, &e) == 0)
        return 0;
    profd_error_set(err, NULL, "session store: record of %s is unreadable: %s", id, e.msg);
    return -1;
}

static profd_lookup_result r_get(profd_store *st, const char *id, profd_session *out,
                                 profd_error *err)
{
    profd_session_init(out); /* safe to free whatever the result */
    if (check_id(id, err) != 0)
        return -1;
    char rec[KEYLEN];
    snprintf(rec, sizeof rec, K_RECORD "%s", id);
    store__cmd c;
    store__cmd_init(&c, "GET");
    store__cmd_str(&c, rec);
    redisReply *rep = NULL;
    if (run(st, &c, &rep, err) != 0)
        return -1;
    int rc = 0;
    if (rep->type == REDIS_REPLY_STRING)
        rc = parse_record(id, rep->str, rep->len, out, err) == 0 ? 1 : -1;
    freeReplyObject(rep);
    return rc;
}

static void index_for(const profd_list_filter *f, char *key)
{
    const char *svc = f->service;
    const char *stname = f->status >= 0 ? profd_status_name((profd_status)f->status) : NULL;
    if (svc && stname)
        snprintf(key, KEYLEN, K_IDX "svcstatus:%s:%s", svc, stname);
    else if (svc)
        snprintf(key, KEYLEN, K_IDX "service:%s", svc);
    else if (stname)
        snprintf(key, KEYLEN, K_IDX "status:%s", stname);
    else
        snprintf(key, KEYLEN, K_IDX "all");
}

static bool matches(const profd_list_filter *f, const profd_session *s)
{
    return (!f->service || strcmp(f->service, s->service_name) == 0) &&
           (f->status < 0 || (int)s->status == f->status);
}

static int check_filter(const profd_list_filter *f, profd_error *err)
{
    if (f->service && !profd_service_name_valid(f->service)) {
        profd_error_set(err, PROFD_E_INVALID, "session store: invalid service name '%.70s'",
                        f->service);
        return -1;
    }
    if (f->status < -1 || f->status > PROFD_FAILED) {
        profd_error_set(err, PROFD_E_INVALID, "session store: unknown status %d", f->status);
        return -1;
    }
    return 0;
}

static int r_list(profd_store *st, const profd_list_filter *f, profd_session *out, int max,
                  profd_error *err)
{
    if (check_filter(f, err) != 0)
        return -1;
    int limit = f->limit < max ? f->limit : max;
    if (limit <= 0)
        return 0;
    char idx[KEYLEN];
    index_for(f, idx);
    store__cmd c;
    eval_init(&c, store__lua_list, 1);
    store__cmd_str(&c, idx);
    store__cmd_num(&c, limit);
    store__cmd_str(&c, K_RECORD);
    redisReply *rep = NULL;
    if (run(st, &c, &rep, err) != 0)
        return -1;
    int n = 0;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements && n < limit; i++) {
        redisReply *e = rep->element[i];
        profd_error pe;
        if (e->type != REDIS_REPLY_STRING || profd_session_parse(e->str, e->len, &out[n], &pe))
            continue; /* an unreadable record does not hide the others */
        if (matches(f, &out[n]))
            n++;
        else
            profd_session_free(&out[n]);
    }
    freeReplyObject(rep);
    return n;
}

static profd_lookup_result r_remove(profd_store *st, const char *id, profd_error *err)
{
    if (check_id(id, err) != 0)
        return -1;
    char rec[KEYLEN];
    snprintf(rec, sizeof rec, K_RECORD "%s", id);
    store__cmd c;
    eval_init(&c, store__lua_remove, 3);
    store__cmd_str(&c, rec);
    store__cmd_str(&c, K_IDX "all");
    store__cmd_str(&c, K_LEASES);
    store__cmd_str(&c, id);
    store__cmd_str(&c, K_IDX);
    return (int)run_int(st, &c, err);
}

/* ---- claims, leases, counters ---------------------------------------------------- */

static int claim_script(profd_store *st, const char *script, const char *key, const char *owner,
                        int ttl_ms, profd_error *err)
{
    char k[KEYLEN];
    if (prefixed(k, K_CLAIM, key, err) != 0)
        return -1;
    if (!owner || !*owner) {
        profd_error_set(err, NULL, "session store: a claim needs an owner");
        return -1;
    }
    store__cmd c;
    eval_init(&c, script, 1);
    store__cmd_str(&c, k);
    store__cmd_str(&c, owner);
    if (ttl_ms > 0)
        store__cmd_num(&c, ttl_ms);
    return (int)run_int(st, &c, err);
}

static int check_ttl(int ttl_ms, profd_error *err)
{
    if (ttl_ms > 0)
        return 0;
    profd_error_set(err, NULL, "session store: a claim needs a positive ttl, got %d ms", ttl_ms);
    return -1;
}

static profd_claim_result r_claim(profd_store *st, const char *key, const char *owner, int ttl_ms,
                                  profd_error *err)
{
    if (check_ttl(ttl_ms, err))
        return -1;
    return claim_script(st, store__lua_claim, key, owner, ttl_ms, err);
}

static profd_renew_result r_renew(profd_store *st, const char *key, const char *owner, int ttl_ms,
                                  profd_error *err)
{
    if (check_ttl(ttl_ms, err))
        return -1;
    return claim_script(st, store__lua_renew, key, owner, ttl_ms, err);
}

static int r_release(profd_store *st, const char *key, const char *owner, profd_error *err)
{
    return claim_script(st, store__lua_release, key, owner, 0, err) < 0 ? -1 : 0;
}

static int r_lease(profd_store *st, const char *id, int64_t deadline_ms, profd_error *err)
{
    if (check_id(id, err) != 0)
        return -1;
    store__cmd c;
    store__cmd_init(&c, deadline_ms > 0 ? "ZADD" : "ZREM");
    store__cmd_str(&c, K_LEASES);
    if (deadline_ms > 0)
        store__cmd_num(&c, deadline_ms);
    store__cmd_str(&c, id);
    return run_int(st, &c, err) < 0 ? -1 : 0;
}

/* ZRANGEBYSCORE key -inf (before LIMIT 0 max -> ids. */
static int ids_before(profd_store *st, const char *key, int64_t before,
                      char (*ids)[PROFD_UUID_LEN + 1], int max, profd_error *err)
{
    if (max <= 0)
        return 0;
    char bound[32];
    snprintf(bound, sizeof bound, "(%lld", (long long)before);
    store__cmd c;
    store__cmd_init(&c, "ZRANGEBYSCORE");
    store__cmd_str(&c, key);
    store__cmd_str(&c, "-inf");
    store__cmd_str(&c, bound);
    store__cmd_str(&c, "LIMIT");
    store__cmd_num(&c, 0);
    store__cmd_num(&c, max);
    redisReply *rep = NULL;
    if (run(st, &c, &rep, err) != 0)
        return -1;
    int n = 0;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements && n < max; i++) {
        redisReply *e = rep->element[i];
        if (e->type == REDIS_REPLY_STRING && profd_uuid_valid(e->str))
            profd_strlcpy(ids[n++], e->str, PROFD_UUID_LEN + 1);
    }
    freeReplyObject(rep);
    return n;
}

static int r_expired(profd_store *st, int64_t now_ms, char (*ids)[PROFD_UUID_LEN + 1], int max,
                     profd_error *err)
{
    return ids_before(st, K_LEASES, now_ms, ids, max, err);
}

static int r_queued_before(profd_store *st, int64_t before_ms, char (*ids)[PROFD_UUID_LEN + 1],
                           int max, profd_error *err)
{
    return ids_before(st, K_IDX "status:queued", before_ms, ids, max, err);
}

/* ZREVRANGEBYSCORE idx:all max min WITHSCORES LIMIT skip max -> ids, scores. */
static int r_scan(profd_store *st, int64_t min_ms, int64_t max_ms, int skip,
                  char (*ids)[PROFD_UUID_LEN + 1], int64_t *created, int max, profd_error *err)
{
    if (max <= 0 || min_ms > max_ms)
        return 0;
    store__cmd c;
    store__cmd_init(&c, "ZREVRANGEBYSCORE");
    store__cmd_str(&c, K_IDX "all");
    store__cmd_num(&c, max_ms);
    store__cmd_num(&c, min_ms);
    store__cmd_str(&c, "WITHSCORES");
    store__cmd_str(&c, "LIMIT");
    store__cmd_num(&c, skip > 0 ? skip : 0);
    store__cmd_num(&c, max);
    redisReply *rep = NULL;
    if (run(st, &c, &rep, err) != 0)
        return -1;
    int n = 0;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements && n < max; i += 2) {
        redisReply *e = rep->element[i], *sc = rep->element[i + 1];
        if (e->type != REDIS_REPLY_STRING || !profd_uuid_valid(e->str))
            continue;
        profd_strlcpy(ids[n], e->str, PROFD_UUID_LEN + 1);
        if (created)
            created[n] = sc->type == REDIS_REPLY_STRING ? (int64_t)strtod(sc->str, NULL) : 0;
        n++;
    }
    freeReplyObject(rep);
    return n;
}

static long r_incr(profd_store *st, const char *key, int window_s, profd_error *err)
{
    char k[KEYLEN];
    if (prefixed(k, K_COUNT, key, err) != 0)
        return -1;
    store__cmd c;
    eval_init(&c, store__lua_incr, 1);
    store__cmd_str(&c, k);
    store__cmd_num(&c, window_s > 0 ? window_s : 1);
    return (long)run_int(st, &c, err);
}

static int r_ping(profd_store *st, profd_error *err)
{
    store__cmd c;
    store__cmd_init(&c, "PING");
    redisReply *rep = NULL;
    if (run(st, &c, &rep, err) != 0)
        return -1;
    freeReplyObject(rep);
    return 0;
}

static void r_close(profd_store *st)
{
    if (!st)
        return;
    redis_store *rs = R(st);
    for (int i = 0; i < POOL; i++)
        store__conn_free(rs->conn[i]);
    pthread_mutex_destroy(&rs->mu);
    pthread_cond_destroy(&rs->freed);
    free(rs);
}

static const profd_store_ops redis_ops = {
    .create = r_create,
    .get = r_get,
    .put = r_put,
    .list = r_list,
    .claim = r_claim,
    .renew = r_renew,
    .release = r_release,
    .lease = r_lease,
    .expired = r_expired,
    .queued_before = r_queued_before,
    .incr = r_incr,
    .remove = r_remove,
    .ping = r_ping,
    .close = r_close,
    .scan = r_scan,
};

profd_store *profd_store_redis_open(const char *url, int ttl_seconds, profd_error *err)
{
    return profd_store_redis_open_tls(url, ttl_seconds, NULL, NULL, NULL, err);
}

profd_store *profd_store_redis_open_tls(const char *url, int ttl_seconds, const char *ca,
                                        const char *cert, const char *key, profd_error *err)
{
    profd_redis_url u;
    if (store__redis_url_parse(url, &u, err) != 0)
        return NULL;
    redis_store *rs = calloc(1, sizeof *rs);
    if (!rs) {
        profd_error_set(err, NULL, "session store: out of memory");
        return NULL;
    }
    rs->base.ops = &redis_ops;
    rs->base.ttl_seconds = ttl_seconds > 0 ? ttl_seconds : 7 * 86400;
    pthread_mutex_init(&rs->mu, NULL);
    pthread_cond_init(&rs->freed, NULL);
    profd_redis_tls tls = {ca, cert, key};
    int rc = 0;
    for (int i = 0; rc == 0 && i < POOL; i++) {
        rs->conn[i] = store__conn_new(&u, 2000);
        if (!rs->conn[i]) {
            profd_error_set(err, NULL, "session store: out of memory");
            rc = -1;
        } else if (u.tls) {
            rc = store__conn_use_tls(rs->conn[i], &tls, err);
        }
        rs->idle[rs->nidle++] = POOL - 1 - i; /* conn[0] is used first */
    }
    memset(u.password, 0, sizeof u.password);
    /* One connection now, so a wrong address or password stops startup; the
     * others connect when first needed. */
    if (rc != 0 || store__conn_ensure(rs->conn[0], err) != 0) {
        r_close(&rs->base);
        return NULL;
    }
    return &rs->base;
}
