/* memory.c - the session store in process memory, for tests and `profd serve`.
 *
 * It behaves like the Redis store, operation by operation: records are kept
 * as their stored JSON (so both stores exercise the same codec), expire after
 * the TTL, list newest first by created_at (ties: larger id first, as Redis
 * orders equal scores), and claims and counters expire on the wall clock
 * (profd_now_ms). Plain arrays searched linearly: a single machine holds at
 * most a few thousand sessions, and one mutex makes every call atomic. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "profd/store.h"

typedef struct mem_record {
    char id[PROFD_UUID_LEN + 1];
    char service[64];
    profd_status status;
    int64_t created, expires;
    char *json;
} mem_record;

/* Claims (val = owner), counters (num) and leases (num = deadline). */
typedef struct mem_kv {
    char *key, *val;
    long long num;
    int64_t expires; /* 0: never */
} mem_kv;

typedef struct mem_table {
    mem_kv *v;
    int n, cap;
} mem_table;

typedef struct mem_store {
    profd_store base;
    pthread_mutex_t mu;
    mem_record *rec;
    int nrec, caprec;
    mem_table claims, counters, leases;
} mem_store;

static mem_store *M(profd_store *st)
{
    return (mem_store *)st;
}

/* ---- tables ------------------------------------------------------------------- */

static void kv_drop(mem_table *t, int i)
{
    free(t->v[i].key);
    free(t->v[i].val);
    t->v[i] = t->v[--t->n];
}

/* Live entry for key, dropping it first if it has expired. */
static mem_kv *kv_find(mem_table *t, const char *key, int64_t now)
{
    for (int i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].key, key) != 0)
            continue;
        if (t->v[i].expires && t->v[i].expires <= now) {
            kv_drop(t, i);
            return NULL;
        }
        return &t->v[i];
    }
    return NULL;
}

static mem_kv *kv_add(mem_table *t, const char *key)
{
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        mem_kv *v = realloc(t->v, (size_t)cap * sizeof *v);
        if (!v)
            return NULL;
        t->v = v;
        t->cap = cap;
    }
    mem_kv *e = &t->v[t->n];
    memset(e, 0, sizeof *e);
    e->key = strdup(key);
    if (!e->key)
        return NULL;
    t->n++;
    return e;
}

static void kv_free_all(mem_table *t)
{
    while (t->n)
        kv_drop(t, 0);
    free(t->v);
}

static void rec_drop(mem_store *m, int i)
{
    free(m->rec[i].json);
    m->rec[i] = m->rec[--m->nrec];
}

static mem_record *rec_find(mem_store *m, const char *id, int64_t now)
{
    for (int i = 0; i < m->nrec; i++) {
        if (strcmp(m->rec[i].id, id) != 0)
            continue;
        if (m->rec[i].expires <= now) {
            rec_drop(m, i);
            return NULL;
        }
        return &m->rec[i];
    }
    return NULL;
}

static void rec_expire_all(mem_store *m, int64_t now)
{
    for (int i = m->nrec - 1; i >= 0; i--)
        if (m->rec[i].expires <= now)
            rec_drop(m, i);
}

/* ---- validation ----------------------------------------------------------------- */

static int check_id(const char *id, profd_error *err)
{
    if (profd_uuid_valid(id))
        return 0;
    profd_error_set(err, PROFD_E_INVALID, "session store: session id '%.40s' is not a UUID", id);
    return -1;
}

static int check_session(const profd_session *s, profd_error *err)
{
    if (check_id(s->session_id, err) != 0)
        return -1;
    if (profd_service_name_valid(s->service_name))
        return 0;
    profd_error_set(err, PROFD_E_INVALID, "session store: invalid service name '%.70s'",
                    s->service_name);
    return -1;
}

static int check_key(const char *key, profd_error *err)
{
    if (key && *key && strlen(key) < 500)
        return 0;
    profd_error_set(err, NULL, "session store: key must be 1..499 bytes");
    return -1;
}

static int oom(profd_error *err)
{
    profd_error_set(err, NULL, "session store: out of memory");
    return -1;
}

/* ---- records ---------------------------------------------------------------------- */

static void rec_fill(profd_store *st, mem_record *r, const profd_session *s, char *json)
{
    profd_strlcpy(r->id, s->session_id, sizeof r->id);
    profd_strlcpy(r->service, s->service_name, sizeof r->service);
    r->status = s->status;
    r->created = s->created_at > 0 ? s->created_at : profd_now_ms();
    r->expires = profd_now_ms() + (int64_t)st->ttl_seconds * 1000;
    free(r->json);
    r->json = json;
}

static mem_record *rec_new(mem_store *m)
{
    if (m->nrec == m->caprec) {
        int cap = m->caprec ? m->caprec * 2 : 64;
        mem_record *v = realloc(m->rec, (size_t)cap * sizeof *v);
        if (!v)
            return NULL;
        m->rec = v;
        m->caprec = cap;
    }
    mem_record *r = &m->rec[m->nrec++];
    memset(r, 0, sizeof *r);
    return r;
}

/* create (only_new) and put share this: 1 written, 0 existed, -1 error. */
static int write_record(profd_store *st, const profd_session *s, bool only_new, profd_error *err)
{
    if (check_session(s, err) != 0)
        return -1;
    char *json = profd_session_to_string(s, true);
    if (!json)
        return oom(err);
    mem_store *m = M(st);
    pthread_mutex_lock(&m->mu);
    mem_record *r = rec_find(m, s->session_id, profd_now_ms());
    int rc = 1;
    if (r && only_new) {
        rc = 0;
    } else if (!r && !(r = rec_new(m))) {
        rc = oom(err);
    } else {
        rec_fill(st, r, s, json);
        json = NULL;
    }
    pthread_mutex_unlock(&m->mu);
    free(json);
    return rc;
}

static profd_create_result m_create(profd_store *st, const profd_session *s, profd_error *err)
{
    return write_record(st, s, true, err);
}

static int m_put(profd_store *st, const profd_session *s, profd_error *err)
{
    return write_record(st, s, false, err) < 0 ? -1 : 0;
}

static int parse_copy(const char *id, const char *json, profd_session *out, profd_error *err)
{
    profd_error e;
    if (profd_session_parse(json, strlen(json), out, &e) == 0)
        return 0;
    profd_error_set(err, NULL, "session store: record of %s is unreadable: %s", id, e.msg);
    return -1;
}

static profd_lookup_result m_get(profd_store *st, const char *id, profd_session *out,
                                 profd_error *err)
{
    profd_session_init(out); /* safe to free whatever the result */
    if (check_id(id, err) != 0)
        return -1;
    mem_store *m = M(st);
    pthread_mutex_lock(&m->mu);
    mem_record *r = rec_find(m, id, profd_now_ms());
    int rc = r ? (parse_copy(id, r->json, out, err) == 0 ? 1 : -1) : 0;
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int newest_first(const void *a, const void *b)
{
    const mem_record *x = *(mem_record *const *)a, *y = *(mem_record *const *)b;
    if (x->created != y->created)
        return x->created < y->created ? 1 : -1;
    return -strcmp(x->id, y->id);
}

static int m_list(profd_store *st, const profd_list_filter *f, profd_session *out, int max,
                  profd_error *err)
{
    if ((f->service && !profd_service_name_valid(f->service)) || f->status < -1 ||
        f->status > PROFD_FAILED) {
        profd_error_set(err, PROFD_E_INVALID, "session store: invalid list filter");
        return -1;
    }
    int limit = f->limit < max ? f->limit : max, n = 0, k = 0;
    if (limit <= 0)
        return 0;
    mem_store *m = M(st);
    pthread_mutex_lock(&m->mu);
    rec_expire_all(m, profd_now_ms());
    mem_record **sel = malloc(((size_t)m->nrec + 1) * sizeof *sel);
    for (int i = 0; sel && i < m->nrec; i++)
        if ((!f->service || strcmp(f->service, m->rec[i].service) == 0) &&
            (f->status < 0 || (int)m->rec[i].status == f->status))
            sel[k++] = &m->rec[i];
    if (sel)
        qsort(sel, (size_t)k, sizeof *sel, newest_first);
    for (int i = 0; sel && i < k && n < limit; i++) {
        profd_error pe;
        if (parse_copy(sel[i]->id, sel[i]->json, &out[n], &pe) == 0)
            n++;
    }
    pthread_mutex_unlock(&m->mu);
    if (!sel)
        return oom(err);
    free(sel);
    return n;
}

static profd_lookup_result m_remove(profd_store *st, const char *id, profd_error *err)
{
    if (check_id(id, err) != 0)
        return -1;
    mem_store *m = M(st);
    pthread_mutex_lock(&m->mu);
    int64_t now = profd_now_ms();
    mem_record *r = rec_find(m, id, now);
    if (r)
        rec_drop(m, (int)(r - m->rec));
    mem_kv *l = kv_find(&m->leases, id, now);
    if (l)
        kv_drop(&m->leases, (int)(l - m->leases.v));
    pthread_mutex_unlock(&m->mu);
    return r ? 1 : 0;
}

/* ---- claims ------------------------------------------------------------------------- */

enum { CLAIM, RENEW };

static int claim_op(profd_store *st, int op, const char *key, const char *owner, int ttl_ms,
                    profd_error *err)
{
    if (check_key(key, err) != 0)
        return -1;
    if (!owner || !*owner || ttl_ms <= 0) {
        profd_error_set(err, NULL, "session store: a claim needs an owner and a positive ttl");
        return -1;
    }
    mem_store *m = M(st);
    pthread_mutex_lock(&m->mu);
    int64_t now = profd_now_ms();
    mem_kv *e = kv_find(&m->claims, key, now);
    int rc;
    if (e && strcmp(e->val, owner) != 0) {
        rc = 0;
    } else if (!e && !(e = kv_add(&m->claims, key))) {
        rc = oom(err);
    } else {
        rc = !e->val && op == RENEW ? 2 : 1;
        if (!e->val && !(e->val = strdup(owner))) {
            kv_drop(&m->claims, (int)(e - m->claims.v));
            rc = oom(err);
        } else {
            e->expires = now + ttl_ms;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static profd_claim_result m_claim(profd_store *st, const char *key, const char *owner, int ttl_ms,
                                  profd_error *err)
{
    return claim_op(st, CLAIM, key, owner, ttl_ms, err);
}

static profd_renew_result m_renew(profd_store *st, const char *key, const char *owner, int ttl_ms,
                                  profd_error *err)
{
    return claim_op(st, RENEW, key, owner, ttl_ms, err);
}

static int m_release(profd_store *st, const char *key, const char *owner, profd_error *err)
{
    if (check_key(key, err) != 0)
        return -1;
    mem_store *m = M(st);
    pthread_mutex_lock(&m->mu);
    mem_kv *e = kv_find(&m->claims, key, profd_now_ms());
    if (e && owner && strcmp(e->val, owner) == 0)
        kv_drop(&m->claims, (int)(e - m->claims.v));
    pthread_mutex_unlock(&m->mu);
    return 0;
}

/* ---- leases, queue, counters ------------------------------------------------------------ */

static int m_lease(profd_store *st, const char *id, int64_t deadline_ms, profd_error *err)
{
    if (check_id(id, err) != 0)
        return -1;
    mem_store *m = M(st);
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    mem_kv *e = kv_find(&m->leases, id, 0);
    if (deadline_ms <= 0) {
        if (e)
            kv_drop(&m->leases, (int)(e - m->leases.v));
    } else if (e || (e = kv_add(&m->leases, id))) {
        e->num = deadline_ms;
    } else {
        rc = oom(err);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

typedef struct scored {
    long long score;
    const char *id;
} scored;

static int oldest_first(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Sort the candidates and copy up to max ids. */
static int take_ids(scored *c, int k, char (*ids)[PROFD_UUID_LEN + 1], int max)
{
    qsort(c, (size_t)k, sizeof *c, oldest_first);
    int n = 0;
    for (; n < k && n < max; n++)
        profd_strlcpy(ids[n], c[n].id, PROFD_UUID_LEN + 1);
    return n;
}

static int m_expired(profd_store *st, int64_t now_ms, char (*ids)[PROFD_UUID_LEN + 1], int max,
                     profd_error *err)
{
    mem_store *m = M(st);
    pthread_mutex_lock(&m->mu);
    scored *c = malloc(((size_t)m->leases.n + 1) * sizeof *c);
    int k = 0, n = 0;
    for (int i = 0; c && i < m->leases.n; i++)
        if (m->leases.v[i].num < now_ms)
            c[k++] = (scored){m->leases.v[i].num, m->leases.v[i].key};
    if (c)
        n = take_ids(c, k, ids, max);
    pthread_mutex_unlock(&m->mu);
    free(c);
    return c ? n : oom(err);
}

static int m_queued_before(profd_store *st, int64_t before_ms, char (*ids)[PROFD_UUID_LEN + 1],
                           int max, profd_error *err)
{
    mem_store *m = M(st);
    pthread_mutex_lock(&m->mu);
    rec_expire_all(m, profd_now_ms());
    scored *c = malloc(((size_t)m->nrec + 1) * sizeof *c);
    int k = 0, n = 0;
    for (int i = 0; c && i < m->nrec; i++)
        if (m->rec[i].status == PROFD_QUEUED && m->rec[i].created < before_ms)
            c[k++] = (scored){m->rec[i].created, m->rec[i].id};
    if (c)
        n = take_ids(c, k, ids, max);
    pthread_mutex_unlock(&m->mu);
    free(c);
    return c ? n : oom(err);
}

/* The memory store has no separate index: its live records are the index. */
static int m_scan(profd_store *st, int64_t min_ms, int64_t max_ms, int skip,
                  char (*ids)[PROFD_UUID_LEN + 1], int64_t *created, int max, profd_error *err)
{
    mem_store *m = M(st);
    pthread_mutex_lock(&m->mu);
    rec_expire_all(m, profd_now_ms());
    mem_record **sel = malloc(((size_t)m->nrec + 1) * sizeof *sel);
    int k = 0, n = 0;
    for (int i = 0; sel && i < m->nrec; i++)
        if (m->rec[i].created >= min_ms && m->rec[i].created <= max_ms)
            sel[k++] = &m->rec[i];
    if (sel)
        qsort(sel, (size_t)k, sizeof *sel, newest_first);
    for (int i = skip > 0 ? skip : 0; sel && i < k && n < max; i++, n++) {
        profd_strlcpy(ids[n], sel[i]->id, PROFD_UUID_LEN + 1);
        if (created)
            created[n] = sel[i]->created;
    }
    pthread_mutex_unlock(&m->mu);
    bool ok = sel != NULL;
    free(sel);
    return ok ? n : oom(err);
}

static long m_incr(profd_store *st, const char *key, int window_s, profd_error *err)
{
    if (check_key(key, err) != 0)
        return -1;
    mem_store *m = M(st);
    pthread_mutex_lock(&m->mu);
    int64_t now = profd_now_ms();
    mem_kv *e = kv_find(&m->counters, key, now);
    if (!e && (e = kv_add(&m->counters, key)))
        e->expires = now + (int64_t)(window_s > 0 ? window_s : 1) * 1000;
    long v = e ? (long)++e->num : -1;
    pthread_mutex_unlock(&m->mu);
    return v < 0 ? oom(err) : v;
}

static int m_ping(profd_store *st, profd_error *err)
{
    (void)st;
    (void)err;
    return 0;
}

static void m_close(profd_store *st)
{
    if (!st)
        return;
    mem_store *m = M(st);
    while (m->nrec)
        rec_drop(m, 0);
    free(m->rec);
    kv_free_all(&m->claims);
    kv_free_all(&m->counters);
    kv_free_all(&m->leases);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static const profd_store_ops memory_ops = {
    .create = m_create,
    .get = m_get,
    .put = m_put,
    .list = m_list,
    .claim = m_claim,
    .renew = m_renew,
    .release = m_release,
    .lease = m_lease,
    .expired = m_expired,
    .queued_before = m_queued_before,
    .incr = m_incr,
    .remove = m_remove,
    .ping = m_ping,
    .close = m_close,
    .scan = m_scan,
};

profd_store *profd_store_memory_open(int ttl_seconds)
{
    mem_store *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->base.ops = &memory_ops;
    m->base.ttl_seconds = ttl_seconds > 0 ? ttl_seconds : 7 * 86400;
    pthread_mutex_init(&m->mu, NULL);
    return &m->base;
}
