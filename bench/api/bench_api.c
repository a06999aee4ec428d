/* bench_api.c - latency of the REST API with Redis on loopback.
 *
 * Starts a throwaway redis-server and the API in-process (real HTTP on
 * loopback, the Redis store, the memory bus), then:
 *   1. GET /api/v1/monitoring/profile/{id} at a fixed rate (default 500
 *      requests/s for 10 s) from 4 keep-alive clients, open loop: each
 *      request's latency counts from its scheduled send time, so a stall
 *      shows up in the tail instead of silently lowering the rate;
 *   2. fills the store to N sessions (default 100000) and times
 *      GET /api/v1/monitoring/profile?limit=50 (newest 50), 200 times.
 * Prints p50/p90/p99/max for both. Targets (issue 6): GET p99 <= 5 ms, list <= 10 ms.
 *
 * Usage: bench_api [--rate R] [--seconds S] [--sessions N] */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profd/api.h"
#include "profd/log.h"
#include "support/redis_server.h"

#define CLIENTS 4

static char base[64], token[1024], path[128];
static int rate = 500, seconds = 10, nsessions = 100000;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t sink(char *p, size_t s, size_t n, void *a)
{
    (void)p, (void)a;
    return s * n;
}

static CURL *client(struct curl_slist **h)
{
    CURL *c = curl_easy_init();
    char auth[1100];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    *h = curl_slist_append(NULL, auth);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    return c;
}

static long get(CURL *c, const char *url)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

typedef struct worker {
    int index;
    double *lat; /* ms */
    int n, errors;
} worker;

static void *run_client(void *arg)
{
    worker *w = arg;
    struct curl_slist *h;
    CURL *c = client(&h);
    char url[256];
    snprintf(url, sizeof url, "%s%s", base, path);
    int64_t interval = 1000000LL * CLIENTS / rate;
    int64_t t0 = now_us() + w->index * interval / CLIENTS;
    int total = rate * seconds / CLIENTS;
    for (int i = 0; i < total; i++) {
        int64_t due = t0 + i * interval;
        int64_t now = now_us();
        if (due > now) {
            struct timespec ts = {(due - now) / 1000000, ((due - now) % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
        long code = get(c, url);
        w->lat[w->n++] = (double)(now_us() - due) / 1000.0;
        w->errors += code != 200;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n, int errors)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("%-34s n=%-6d errors=%-3d p50=%.3f ms  p90=%.3f ms  p99=%.3f ms  max=%.3f ms\n", what, n,
           errors, v[n / 2], v[n * 90 / 100], v[n * 99 / 100], v[n - 1]);
}

static void fill(profd_store *st, int from, int to)
{
    profd_error err;
    int64_t t = profd_now_ms() - 86400000LL;
    for (int i = from; i < to; i++) {
        profd_session s;
        profd_session_init(&s);
        profd_uuid4(s.session_id);
        snprintf(s.service_name, sizeof s.service_name, "svc-%d", i % 20);
        s.status = PROFD_QUEUED;
        s.created_at = t + i;
        s.duration_seconds = 60;
        s.sample_rate_hz = 100;
        snprintf(s.trigger, sizeof s.trigger, "api");
        if (st->ops->create(st, &s, &err) < 0) {
            fprintf(stderr, "create: %s\n", err.msg);
            exit(1);
        }
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rate") == 0)
            rate = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--sessions") == 0)
            nsessions = atoi(argv[i + 1]);
    }
    if (rate < CLIENTS || seconds < 1 || nsessions < 1) {
        fprintf(stderr, "usage: bench_api [--rate R>=4] [--seconds S] [--sessions N]\n");
        return 2;
    }
    setenv("PROFD_LOG_LEVEL", "error", 1);
    profd_log_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    profd_test_redis r;
    if (!profd_test_redis_binary() || profd_test_redis_start(&r, false) < 0) {
        fprintf(stderr, "bench_api: needs redis-server\n");
        return 1;
    }
    profd_config cfg;
    profd_error err;
    profd_config_load(&cfg, &err);
    snprintf(cfg.jwt_secret, sizeof cfg.jwt_secret, "bench");
    cfg.jwt_public_key[0] = '\0';
    snprintf(cfg.listen, sizeof cfg.listen, "127.0.0.1:0");
    profd_store *st = profd_store_redis_open(r.url, 3600, &err);
    profd_bus *bus = profd_bus_memory_open(&cfg, PROFD_BUS_PRODUCE, &err);
    profd_api_opts o = {.cfg = &cfg, .store = st, .bus = bus};
    profd_api *api = st && bus ? profd_api_start(&o, &err) : NULL;
    if (!api) {
        fprintf(stderr, "bench_api: %s\n", err.msg);
        return 1;
    }
    snprintf(base, sizeof base, "http://127.0.0.1:%d", profd_api_port(api));
    char *t = profd_jwt_sign_hs256("bench", "{\"sub\":\"bench\",\"roles\":[\"admin\"]}");
    snprintf(token, sizeof token, "%s", t);
    free(t);
    int first = nsessions > 1000 ? nsessions - 1000 : 0;
    fill(st, first, nsessions); /* the newest thousand first; the one read is among them */
    profd_session one;
    profd_list_filter f = {NULL, -1, 1};
    st->ops->list(st, &f, &one, 1, &err);
    snprintf(path, sizeof path, "/api/v1/monitoring/profile/%s", one.session_id);
    profd_session_free(&one);

    printf("GET session: %d requests/s for %d s from %d keep-alive clients\n", rate, seconds,
           CLIENTS);
    worker w[CLIENTS];
    pthread_t th[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        w[i] = (worker){i, calloc((size_t)(rate * seconds / CLIENTS + 1), sizeof(double)), 0, 0};
        pthread_create(&th[i], NULL, run_client, &w[i]);
    }
    double *all = calloc((size_t)(rate * seconds + CLIENTS), sizeof(double));
    int n = 0, errors = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        memcpy(all + n, w[i].lat, (size_t)w[i].n * sizeof(double));
        n += w[i].n;
        errors += w[i].errors;
        free(w[i].lat);
    }
    report("GET /profile/{id}", all, n, errors);

    printf("filling the store to %d sessions...\n", nsessions);
    int64_t f0 = now_us();
    fill(st, 0, first);
    printf("filled in %.1f s\n", (double)(now_us() - f0) / 1e6);
    struct curl_slist *h;
    CURL *c = client(&h);
    char url[256];
    snprintf(url, sizeof url, "%s/api/v1/monitoring/profile?limit=50", base);
    for (int i = 0; i < 20; i++) /* warm up the connection and Redis */
        get(c, url);
    n = errors = 0;
    for (int i = 0; i < 200; i++) {
        int64_t s = now_us();
        errors += get(c, url) != 200;
        all[n++] = (double)(now_us() - s) / 1000.0;
    }
    report("GET /profile?limit=50 (newest 50)", all, n, errors);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(all);
    profd_api_stop(api);
    bus->ops->close(bus);
    st->ops->close(st);
    profd_test_redis_stop(&r);
    return 0;
}
