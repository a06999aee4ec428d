/* test_gcs_blob.c - the gs:// store against tests/blob/gcs_server.py, a real
 * HTTP server speaking the JSON API subset, with faults injected by
 * instruction: each retry path (503, 429 + Retry-After, resets, slow
 * responses, non-retryable 400, no retry without a precondition), resumable
 * uploads resuming from the server's Range after a reset mid-body, download
 * resume, integrity checking, generations, listing with pages, and both
 * credential flows (service-account JWT with the signature verified by the
 * server, metadata server) with token caching and refresh counted on the
 * server. Skips when python3 is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/skip.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gcs_internal.h"
#include "profd/blob.h"
#include "profd/gcp.h"

#define KEY_FILE "/work/shared/testdata/gcs/test_service_account.not-a-test.json"
#define CHUNK (256 * 1024)

static pid_t server_pid;
static int port;
static char tmpdir[128];

static int start_server(const char *extra1, const char *extra2)
{
    const char *src = getenv("PROFD_SOURCE_DIR");
    char script[PATH_MAX];
    snprintf(script, sizeof script, "%s/tests/blob/gcs_server.py", src ? src : ".");
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    server_pid = fork();
    if (server_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        const char *argv[] = {"python3", script, extra1, extra2, extra2 ? "--require-auth" : NULL,
                              NULL};
        if (!extra1)
            argv[2] = NULL;
        execvp("python3", (char **)argv);
        _exit(127);
    }
    close(fds[1]);
    char buf[32] = "";
    size_t got = 0;
    while (got < sizeof buf - 1 && !strchr(buf, '\n')) {
        ssize_t n = read(fds[0], buf + got, sizeof buf - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    port = atoi(buf);
    if (port <= 0)
        fprintf(stderr, "gcs_server.py did not report a port (got '%s')\n", buf);
    return port > 0 ? 0 : -1;
}

static void stop_server(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
}

static json_object *control(const char *what, const char *body)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/_control/%s", port, what);
    profd_gcp_req req = {.method = body ? "POST" : "GET",
                         .url = url,
                         .body = body,
                         .body_len = body ? strlen(body) : 0,
                         .timeout_ms = 5000};
    profd_gcp_resp resp;
    assert_int_equal(profd_gcp_http(NULL, &req, &resp), 0);
    assert_int_equal(resp.status, 200);
    json_object *o = json_tokener_parse(resp.body);
    profd_gcp_resp_free(&resp);
    assert_non_null(o);
    return o;
}

static void fault(const char *json)
{
    char body[512];
    snprintf(body, sizeof body, "{\"faults\": [%s]}", json);
    json_object_put(control("faults", body));
}

static int64_t stat_int(const char *key)
{
    json_object *o = control("stats", NULL), *v;
    assert_true(json_object_object_get_ex(o, key, &v));
    int64_t n = json_object_is_type(v, json_type_array) ? (int64_t)json_object_array_length(v)
                                                        : json_object_get_int64(v);
    json_object_put(o);
    return n;
}

/* Requests of one kind ("upload", "chunk", "status", "download", …). */
static int count_kind(const char *kind)
{
    json_object *o = control("stats", NULL), *reqs, *k;
    assert_true(json_object_object_get_ex(o, "requests", &reqs));
    int n = 0;
    for (size_t i = 0; i < json_object_array_length(reqs); i++)
        if (json_object_object_get_ex(json_object_array_get_idx(reqs, i), "kind", &k) &&
            !strcmp(json_object_get_string(k), kind))
            n++;
    json_object_put(o);
    return n;
}

/* A field of the last request of one kind. */
static char *last_field(const char *kind, const char *field)
{
    json_object *o = control("stats", NULL), *reqs, *k, *v;
    assert_true(json_object_object_get_ex(o, "requests", &reqs));
    char *out = NULL;
    for (size_t i = 0; i < json_object_array_length(reqs); i++) {
        json_object *r = json_object_array_get_idx(reqs, i);
        if (json_object_object_get_ex(r, "kind", &k) && !strcmp(json_object_get_string(k), kind) &&
            json_object_object_get_ex(r, field, &v)) {
            free(out);
            out = strdup(json_object_get_string(v));
        }
    }
    json_object_put(o);
    assert_non_null(out);
    return out;
}

static void base_config(profd_config *cfg)
{
    profd_error err = {0};
    assert_int_equal(profd_config_load(cfg, &err), 0);
    cfg->google_credentials[0] = '\0';
    cfg->storage_emulator_host[0] = '\0';
}

/* Small fixtures and fast retries: resumable above 256 KiB in 512 KiB
 * chunks, 5 attempts within 20 s, 5 ms backoff, 5 s per request (or
 * timeout_ms). */
static void tune(profd_blob *b, int timeout_ms)
{
    profd_gcp_policy p = {
        .max_attempts = 5, .deadline_ms = 20000, .base_ms = 5, .timeout_ms = timeout_ms};
    blob__gcs_tune(b, CHUNK, 2 * CHUNK, &p);
}

static profd_blob *emulator_store(void)
{
    profd_config cfg;
    base_config(&cfg);
    snprintf(cfg.storage_emulator_host, sizeof cfg.storage_emulator_host, "127.0.0.1:%d", port);
    profd_error err = {0};
    profd_blob *b = profd_blob_gcs_open(&cfg, "bkt", "pre", &err);
    assert_non_null(b);
    tune(b, 5000);
    return b;
}

static void make_file(const char *name, size_t size, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++)
        fputc((int)((i * 7919u + size) % 251), f);
    fclose(f);
}

static void assert_same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *x = profd_read_file(a, 64 << 20, &la), *y = profd_read_file(b, 64 << 20, &lb);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(la, lb);
    assert_memory_equal(x, y, la);
    free(x);
    free(y);
}

static int setup(void **state)
{
    (void)state;
    if (system("python3 -c 'import http.server' 2>/dev/null") != 0)
        return 0;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/profd-gcs-test-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return start_server(NULL, NULL);
}

static int teardown(void **state)
{
    (void)state;
    stop_server();
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : 0;
}

static int fresh(void **state)
{
    (void)state;
    if (port)
        json_object_put(control("reset", "{}"));
    return 0;
}

#define NEED_SERVER()                                                                              \
    do {                                                                                           \
        if (!port)                                                                                 \
            PROFD_SKIP("the GCS test server (tests/blob/gcs_server.py)");                          \
    } while (0)

static void test_roundtrip_generations_list(void **state)
{
    (void)state;
    NEED_SERVER();
    profd_blob *b = emulator_store();
    char src[PATH_MAX], src2[PATH_MAX], out[PATH_MAX];
    make_file("small.txt", 1000, src, sizeof src);
    make_file("small2.txt", 1200, src2, sizeof src2);
    snprintf(out, sizeof out, "%s/out.bin", tmpdir);
    profd_error err = {0};
    profd_blob_meta meta = {"1b4e28ba-2fa1-11d2-883f-0016d3cca427", "web-api"};
    int64_t g1 = 0, g2 = 0, gs = 0, size = 0, mtime = 0;
    assert_int_equal(b->ops->put_file(b, "sessions/s1/stacks.txt", src, "text/plain", &meta,
                                      PROFD_GEN_NEW, &g1, &err),
                     0);
    assert_true(g1 > 0);
    assert_int_equal(b->ops->stat(b, "sessions/s1/stacks.txt", &gs, &size, &mtime, &err), 1);
    assert_int_equal(gs, g1);
    assert_int_equal(size, 1000);
    assert_true(llabs(mtime - profd_now_ms()) < 60000);
    assert_int_equal(b->ops->get_file(b, "sessions/s1/stacks.txt", out, &err), 0);
    assert_same_file(src, out);
    /* A first write never replaces different bytes. */
    assert_int_equal(b->ops->put_file(b, "sessions/s1/stacks.txt", src2, "text/plain", &meta,
                                      PROFD_GEN_NEW, NULL, &err),
                     -1);
    assert_non_null(strstr(err.msg, "already exists"));
    /* A rewrite names the generation it replaces; a stale one is refused. */
    assert_int_equal(
        b->ops->put_file(b, "sessions/s1/stacks.txt", src2, "text/plain", &meta, g1, &g2, &err), 0);
    assert_true(g2 > g1);
    assert_int_equal(
        b->ops->put_file(b, "sessions/s1/stacks.txt", src, "text/plain", &meta, g1, NULL, &err),
        -1);
    assert_non_null(strstr(err.msg, "changed"));
    /* Content-Type and the session metadata are on the stored object. */
    char url[256];
    snprintf(url, sizeof url,
             "http://127.0.0.1:%d/storage/v1/b/bkt/o/pre%%2Fsessions%%2Fs1%%2Fstacks.txt", port);
    profd_gcp_req req = {.method = "GET", .url = url, .timeout_ms = 5000};
    profd_gcp_resp resp;
    assert_int_equal(profd_gcp_http(NULL, &req, &resp), 0);
    json_object *res = json_tokener_parse(resp.body), *v, *md;
    profd_gcp_resp_free(&resp);
    assert_true(json_object_object_get_ex(res, "contentType", &v));
    assert_string_equal(json_object_get_string(v), "text/plain");
    assert_true(json_object_object_get_ex(res, "metadata", &md));
    assert_true(json_object_object_get_ex(md, "session_id", &v));
    assert_string_equal(json_object_get_string(v), "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
    assert_true(json_object_object_get_ex(md, "service_name", &v));
    assert_string_equal(json_object_get_string(v), "web-api");
    json_object_put(res);
    /* The object name carries the store prefix. */
    json_object *st = control("stats", NULL), *objs;
    assert_true(json_object_object_get_ex(st, "objects", &objs));
    assert_string_equal(json_object_get_string(json_object_array_get_idx(objs, 0)),
                        "pre/sessions/s1/stacks.txt");
    json_object_put(st);
    b->ops->close(b);
}

typedef struct names {
    int n;
    char first[64];
} names;

static int visit(const char *object, int64_t mtime_ms, int64_t size, void *arg)
{
    names *ns = arg;
    assert_true(mtime_ms > 0);
    assert_int_equal(size, 10);
    if (ns->n++ == 0)
        profd_strlcpy(ns->first, object, sizeof ns->first);
    return 0;
}

static void test_list_pages_remove_link(void **state)
{
    (void)state;
    NEED_SERVER();
    profd_blob *b = emulator_store();
    char src[PATH_MAX];
    make_file("ten.txt", 10, src, sizeof src);
    profd_error err = {0};
    char obj[64];
    for (int i = 0; i < 5; i++) {
        snprintf(obj, sizeof obj, "sessions/s%d/profile.json", i);
        assert_int_equal(
            b->ops->put_file(b, obj, src, "application/json", NULL, PROFD_GEN_NEW, NULL, &err), 0);
    }
    json_object_put(control("config", "{\"page_size\": 2}"));
    names ns = {0};
    assert_int_equal(b->ops->list(b, "sessions/", visit, &ns, &err), 0);
    assert_int_equal(ns.n, 5);
    assert_string_equal(ns.first, "sessions/s0/profile.json");
    assert_int_equal(count_kind("list"), 3); /* 2 + 2 + 1 */
    assert_int_equal(b->ops->remove(b, "sessions/s0/profile.json", &err), 0);
    assert_int_equal(b->ops->remove(b, "sessions/s0/profile.json", &err), 0);
    assert_int_equal(b->ops->stat(b, "sessions/s0/profile.json", NULL, NULL, NULL, &err), 0);
    char link[4096], want[256];
    assert_int_equal(b->ops->link(b, "sessions/s1/profile.json", 60, link, sizeof link, &err), 0);
    snprintf(
        want, sizeof want,
        "http://127.0.0.1:%d/storage/v1/b/bkt/o/pre%%2Fsessions%%2Fs1%%2Fprofile.json?alt=media",
        port);
    assert_string_equal(link, want);
    assert_int_equal(b->ops->put_file(b, "../x", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), -1);
    b->ops->close(b);
}

static void test_retry_paths(void **state)
{
    (void)state;
    NEED_SERVER();
    profd_blob *b = emulator_store();
    char src[PATH_MAX];
    make_file("r.txt", 5000, src, sizeof src);
    profd_error err = {0};
    /* 503, 503 then success; a reset then a 503 (retry_tests.json case). */
    fault("{\"kind\": \"503\", \"match\": \"upload\", \"count\": 2}");
    assert_int_equal(b->ops->put_file(b, "a", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), 0);
    assert_int_equal(count_kind("upload"), 3);
    fault("{\"kind\": \"reset\", \"match\": \"upload\"}, {\"kind\": \"503\", \"match\": "
          "\"upload\"}");
    assert_int_equal(b->ops->put_file(b, "b", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), 0);
    assert_int_equal(count_kind("upload"), 6);
    /* 408 and 429: Retry-After is a floor for the wait. */
    fault("{\"kind\": \"408\", \"match\": \"upload\"}");
    assert_int_equal(b->ops->put_file(b, "c", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), 0);
    fault("{\"kind\": \"429\", \"match\": \"upload\", \"retry_after\": 1}");
    int64_t t0 = profd_mono_ms();
    assert_int_equal(b->ops->put_file(b, "d", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), 0);
    assert_true(profd_mono_ms() - t0 >= 1000);
    /* A slow answer past the request timeout is retried. */
    profd_blob *slow;
    {
        profd_config cfg;
        base_config(&cfg);
        snprintf(cfg.storage_emulator_host, sizeof cfg.storage_emulator_host, "127.0.0.1:%d", port);
        slow = profd_blob_gcs_open(&cfg, "bkt", "", &err);
        assert_non_null(slow);
        tune(slow, 1000);
    }
    fault("{\"kind\": \"slow\", \"match\": \"metadata\", \"delay\": 2}");
    assert_int_equal(slow->ops->stat(slow, "pre/a", NULL, NULL, NULL, &err), 1);
    assert_int_equal(count_kind("metadata"), 2);
    slow->ops->close(slow);
    /* Reads retry too: 503 then a reset on a metadata read. */
    fault("{\"kind\": \"503\", \"match\": \"metadata\"}, {\"kind\": \"reset\", \"match\": "
          "\"metadata\"}");
    assert_int_equal(b->ops->stat(b, "a", NULL, NULL, NULL, &err), 1);
    b->ops->close(b);
}

static void test_retry_limits(void **state)
{
    (void)state;
    NEED_SERVER();
    profd_blob *b = emulator_store();
    char src[PATH_MAX];
    make_file("l.txt", 100, src, sizeof src);
    profd_error err = {0};
    /* Google's matrix retries a write only with a precondition; profd gives
     * every write one: PROFD_GEN_ANY becomes the generation there now. */
    fault("{\"kind\": \"503\", \"match\": \"upload\"}");
    assert_int_equal(b->ops->put_file(b, "any", src, NULL, NULL, PROFD_GEN_ANY, NULL, &err), 0);
    assert_int_equal(count_kind("upload"), 2);
    assert_int_equal(count_kind("metadata"), 1);
    fault("{\"kind\": \"503\", \"match\": \"upload\"}");
    int64_t g1 = 0;
    assert_int_equal(b->ops->stat(b, "any", &g1, NULL, NULL, &err), 1);
    assert_int_equal(b->ops->put_file(b, "any", src, NULL, NULL, PROFD_GEN_ANY, NULL, &err), 0);
    assert_int_equal(count_kind("upload"), 4);
    char *q = last_field("upload", "query"), want[64];
    snprintf(want, sizeof want, "ifGenerationMatch=%lld", (long long)g1);
    assert_non_null(strstr(q, want));
    free(q);
    /* Non-retryable errors fail at once (case 5), even after a retryable one (case 6). */
    fault("{\"kind\": \"503\", \"match\": \"upload\"}, {\"kind\": \"400\", \"match\": "
          "\"upload\"}");
    assert_int_equal(b->ops->put_file(b, "x", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "HTTP 400"));
    assert_int_equal(count_kind("upload"), 6);
    /* Attempts are bounded: 5 attempts, then the contract's message. */
    fault("{\"kind\": \"503\", \"match\": \"upload\", \"count\": 10}");
    assert_int_equal(b->ops->put_file(b, "y", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), -1);
    assert_string_equal(err.msg, "upload of pre/y failed after 5 attempts: HTTP 503 injected 503");
    assert_int_equal(count_kind("upload"), 11);
    assert_string_equal(err.code, PROFD_E_UPLOAD);
    json_object_put(control("reset", "{}"));
    /* The total deadline bounds the waits: Retry-After 30 s with a 20 s deadline stops. */
    fault("{\"kind\": \"429\", \"match\": \"upload\", \"retry_after\": 30}");
    int64_t t0 = profd_mono_ms();
    assert_int_equal(b->ops->put_file(b, "z", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), -1);
    assert_true(profd_mono_ms() - t0 < 5000);
    assert_non_null(strstr(err.msg, "after 1 attempt: HTTP 429"));
    b->ops->close(b);
}

static int chunks_starting_at(int64_t off)
{
    json_object *o = control("stats", NULL), *chunks;
    assert_true(json_object_object_get_ex(o, "chunks", &chunks));
    int n = 0;
    for (size_t i = 0; i < json_object_array_length(chunks); i++)
        if (json_object_get_int64(
                json_object_array_get_idx(json_object_array_get_idx(chunks, i), 1)) == off)
            n++;
    json_object_put(o);
    return n;
}

static void test_resumable_resume(void **state)
{
    (void)state;
    NEED_SERVER();
    profd_blob *b = emulator_store();
    char src[PATH_MAX], out[PATH_MAX];
    make_file("big.bin", 6 * CHUNK + 1234, src, sizeof src);
    snprintf(out, sizeof out, "%s/big.out", tmpdir);
    profd_error err = {0};
    /* First chunk (0..512K) lands; the second is cut after 300 KiB: the server
     * keeps one 256 KiB unit, so the session holds 768 KiB. */
    /* Faults apply in order: the first chunk passes ("slow" 0 s), the second is cut. */
    fault("{\"kind\": \"slow\", \"match\": \"chunk\", \"delay\": 0}, {\"kind\": "
          "\"reset-mid-body\", \"match\": \"chunk\", \"after_bytes\": 307200}");
    int64_t gen = 0;
    assert_int_equal(b->ops->put_file(b, "big.bin", src, "application/octet-stream", NULL,
                                      PROFD_GEN_NEW, &gen, &err),
                     0);
    assert_true(gen > 0);
    assert_int_equal(count_kind("status"), 1);
    assert_int_equal(chunks_starting_at(0), 1);         /* never started over */
    assert_int_equal(chunks_starting_at(3 * CHUNK), 1); /* resumed from the 308's Range */
    assert_int_equal(b->ops->get_file(b, "big.bin", out, &err), 0);
    assert_same_file(src, out);

    /* A 503 on a chunk: status query, then on from the stored offset. */
    json_object_put(control("reset", "{}"));
    fault("{\"kind\": \"slow\", \"match\": \"chunk\", \"delay\": 0, \"count\": 2}, {\"kind\": "
          "\"503\", \"match\": \"chunk\"}");
    assert_int_equal(b->ops->put_file(b, "big.bin", src, NULL, NULL, PROFD_GEN_NEW, &gen, &err), 0);
    assert_int_equal(count_kind("status"), 1);
    assert_int_equal(chunks_starting_at(0), 1);
    assert_int_equal(chunks_starting_at(4 * CHUNK), 1); /* stored once, after the 503 */
    assert_int_equal(count_kind("chunk"), 5);           /* 4 chunks + the failed one */
    /* A status query that fails is itself retried. */
    json_object_put(control("reset", "{}"));
    fault("{\"kind\": \"503\", \"match\": \"chunk\"}, {\"kind\": \"reset\", \"match\": "
          "\"status\"}");
    assert_int_equal(b->ops->put_file(b, "big.bin", src, NULL, NULL, PROFD_GEN_NEW, &gen, &err), 0);
    assert_int_equal(count_kind("status"), 2);
    b->ops->close(b);
}

static void test_download_resume(void **state)
{
    (void)state;
    NEED_SERVER();
    profd_blob *b = emulator_store();
    char src[PATH_MAX], out[PATH_MAX];
    make_file("dl.bin", 200000, src, sizeof src);
    snprintf(out, sizeof out, "%s/dl.out", tmpdir);
    profd_error err = {0};
    assert_int_equal(b->ops->put_file(b, "dl.bin", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), 0);
    fault("{\"kind\": \"broken-stream\", \"match\": \"download\"}");
    assert_int_equal(b->ops->get_file(b, "dl.bin", out, &err), 0);
    assert_same_file(src, out);
    json_object *o = control("stats", NULL), *reqs, *r;
    assert_true(json_object_object_get_ex(o, "requests", &reqs));
    r = json_object_array_get_idx(reqs, (size_t)json_object_array_length(reqs) - 1);
    json_object *rr;
    assert_true(json_object_object_get_ex(r, "req_range", &rr));
    /* The server sent 100,000 bytes and reset the connection: the retry asks for the rest from
     * what arrived, which is all of it unless the reset overtook some (a loaded machine). */
    long from = -1;
    char tail = 'x';
    assert_int_equal(sscanf(json_object_get_string(rr), "bytes=%ld%c", &from, &tail), 2);
    assert_int_equal(tail, '-');
    assert_true(from > 0 && from <= 100000);
    json_object_put(o);
    assert_int_equal(b->ops->get_file(b, "missing", out, &err), -1);
    assert_non_null(strstr(err.msg, "not found"));
    b->ops->close(b);
}

static void test_integrity(void **state)
{
    (void)state;
    NEED_SERVER();
    profd_blob *b = emulator_store();
    char src[PATH_MAX], big[PATH_MAX];
    make_file("i.txt", 3000, src, sizeof src);
    make_file("i.bin", 3 * CHUNK, big, sizeof big);
    profd_error err = {0};
    fault("{\"kind\": \"corrupt-hash\", \"match\": \"upload\"}");
    assert_int_equal(b->ops->put_file(b, "i.txt", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "integrity check"));
    assert_int_equal(b->ops->stat(b, "i.txt", NULL, NULL, NULL, &err), 0); /* cleaned up */
    fault("{\"kind\": \"slow\", \"match\": \"chunk\", \"delay\": 0}, {\"kind\": "
          "\"corrupt-hash\", \"match\": \"chunk\"}");
    assert_int_equal(b->ops->put_file(b, "i.bin", big, NULL, NULL, PROFD_GEN_NEW, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "integrity check"));
    /* Downloads are checked against x-goog-hash; nothing lands on failure. */
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/i.out", tmpdir);
    assert_int_equal(b->ops->put_file(b, "i.txt", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), 0);
    fault("{\"kind\": \"corrupt-hash\", \"match\": \"download\"}");
    assert_int_equal(b->ops->get_file(b, "i.txt", out, &err), -1);
    assert_non_null(strstr(err.msg, "integrity check"));
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0);
    assert_int_equal(b->ops->get_file(b, "i.txt", out, &err), 0);
    assert_same_file(src, out);
    b->ops->close(b);
}

/* CRC32C check value (RFC 3720 B.4 / the Castagnoli "123456789" vector). */
static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(blob__crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(blob__crc32c(blob__crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    unsigned char zeros[32] = {0};
    assert_int_equal(blob__crc32c(0, zeros, 32), 0x8A9136AAu);
}

/* A copy of the dummy key whose token_uri is the test server, and its
 * public key as PEM for the server to verify assertions with. */
static void key_files(char *key, size_t kl, char *pub, size_t pl)
{
    size_t len;
    char *text = profd_read_file(KEY_FILE, 1 << 20, &len);
    if (!text)
        PROFD_SKIP(KEY_FILE);
    json_object *o = json_tokener_parse(text);
    free(text);
    char uri[128];
    snprintf(uri, sizeof uri, "http://127.0.0.1:%d/token", port);
    json_object_object_add(o, "token_uri", json_object_new_string(uri));
    snprintf(key, kl, "%s/key.json", tmpdir);
    const char *s = json_object_to_json_string(o);
    assert_int_equal(profd_write_file_atomic(key, s, strlen(s)), 0);
    json_object *pk;
    assert_true(json_object_object_get_ex(o, "private_key", &pk));
    BIO *in = BIO_new_mem_buf(json_object_get_string(pk), -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
    assert_non_null(k);
    snprintf(pub, pl, "%s/pub.pem", tmpdir);
    FILE *f = fopen(pub, "w");
    assert_non_null(f);
    PEM_write_PUBKEY(f, k);
    fclose(f);
    EVP_PKEY_free(k);
    BIO_free(in);
    json_object_put(o);
}

static profd_blob *auth_store(const char *key)
{
    profd_config cfg;
    base_config(&cfg);
    snprintf(cfg.gcs_endpoint, sizeof cfg.gcs_endpoint, "http://127.0.0.1:%d", port);
    snprintf(cfg.gce_metadata_host, sizeof cfg.gce_metadata_host, "127.0.0.1:%d", port);
    snprintf(cfg.iam_endpoint, sizeof cfg.iam_endpoint, "http://127.0.0.1:%d", port);
    profd_strlcpy(cfg.google_credentials, key ? key : "", sizeof cfg.google_credentials);
    profd_error err = {0};
    profd_blob *b = profd_blob_gcs_open(&cfg, "bkt", "", &err);
    assert_non_null(b);
    tune(b, 5000);
    return b;
}

static void test_service_account_tokens(void **state)
{
    (void)state;
    NEED_SERVER();
    char key[PATH_MAX], pub[PATH_MAX], src[PATH_MAX];
    key_files(key, sizeof key, pub, sizeof pub);
    stop_server();
    assert_int_equal(start_server("--public-key", pub), 0);
    key_files(key, sizeof key, pub, sizeof pub); /* token_uri on the new port */
    make_file("t.txt", 100, src, sizeof src);
    profd_blob *b = auth_store(key);
    profd_error err = {0};
    /* Cached: three requests, one token. */
    assert_int_equal(b->ops->put_file(b, "t1", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), 0);
    assert_int_equal(b->ops->stat(b, "t1", NULL, NULL, NULL, &err), 1);
    assert_int_equal(b->ops->put_file(b, "t2", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), 0);
    assert_int_equal(stat_int("token_requests"), 1);
    b->ops->close(b);
    /* Refreshed 60 s before expiry: with expires_in 61 a token lasts 1 s here. */
    json_object_put(control("config", "{\"token_ttl\": 61}"));
    b = auth_store(key);
    assert_int_equal(b->ops->stat(b, "t1", NULL, NULL, NULL, &err), 1);
    assert_int_equal(b->ops->stat(b, "t2", NULL, NULL, NULL, &err), 1);
    assert_int_equal(stat_int("token_requests"), 2);
    usleep(1100 * 1000);
    assert_int_equal(b->ops->stat(b, "t1", NULL, NULL, NULL, &err), 1);
    assert_int_equal(stat_int("token_requests"), 3);
    /* A token the server no longer accepts (401): dropped and fetched again. */
    json_object_put(control("config", "{\"token_ttl\": 3600}"));
    profd_blob *c = auth_store(key);
    assert_int_equal(c->ops->stat(c, "t1", NULL, NULL, NULL, &err), 1);
    int64_t before = stat_int("token_requests");
    fault("{\"kind\": \"401\", \"match\": \"metadata\"}");
    assert_int_equal(c->ops->stat(c, "t1", NULL, NULL, NULL, &err), 1);
    assert_int_equal(stat_int("token_requests"), before + 1);
    /* Errors never carry the token. */
    fault("{\"kind\": \"400\", \"match\": \"upload\"}");
    assert_int_equal(c->ops->put_file(c, "t3", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), -1);
    assert_null(strstr(err.msg, "tok-"));
    assert_null(strstr(err.msg, "Bearer"));
    /* Signed links use the key, offline. */
    char link[4096];
    assert_int_equal(c->ops->link(c, "t1", 600, link, sizeof link, &err), 0);
    assert_non_null(strstr(link, "X-Goog-Credential=test-iam-credentials%40dummy-project-id"));
    assert_non_null(strstr(link, "X-Goog-Expires=600&"));
    b->ops->close(b);
    c->ops->close(c);
    stop_server();
    assert_int_equal(start_server(NULL, NULL), 0);
}

static void test_bad_assertion_rejected(void **state)
{
    (void)state;
    NEED_SERVER();
    char key[PATH_MAX], pub[PATH_MAX], src[PATH_MAX];
    key_files(key, sizeof key, pub, sizeof pub);
    /* The server verifies with a different public key: the exchange fails. */
    char other[PATH_MAX + 16];
    snprintf(other, sizeof other, "%s/other.pem", tmpdir);
    EVP_PKEY *k = EVP_RSA_gen(2048);
    FILE *f = fopen(other, "w");
    PEM_write_PUBKEY(f, k);
    fclose(f);
    EVP_PKEY_free(k);
    stop_server();
    assert_int_equal(start_server("--public-key", other), 0);
    key_files(key, sizeof key, pub, sizeof pub);
    make_file("t.txt", 100, src, sizeof src);
    profd_blob *b = auth_store(key);
    profd_error err = {0};
    assert_int_equal(b->ops->put_file(b, "t1", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "token request"));
    assert_non_null(strstr(err.msg, "HTTP 400"));
    b->ops->close(b);
    stop_server();
    assert_int_equal(start_server(NULL, NULL), 0);
}

static void test_metadata_server(void **state)
{
    (void)state;
    NEED_SERVER();
    stop_server();
    assert_int_equal(start_server("--email", "wi@proj.iam.gserviceaccount.com"), 0);
    char src[PATH_MAX];
    make_file("m.txt", 100, src, sizeof src);
    profd_blob *b = auth_store(NULL);
    profd_error err = {0};
    assert_int_equal(b->ops->put_file(b, "m1", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), 0);
    assert_int_equal(b->ops->stat(b, "m1", NULL, NULL, NULL, &err), 1);
    assert_int_equal(stat_int("token_requests"), 1);
    /* No key: signed through IAM signBlob as the metadata server's account. */
    char link[4096];
    assert_int_equal(b->ops->link(b, "m1", 300, link, sizeof link, &err), 0);
    assert_non_null(strstr(link, "X-Goog-Credential=wi%40proj.iam.gserviceaccount.com%2F"));
    const char *sig = strstr(link, "X-Goog-Signature=");
    assert_non_null(sig);
    assert_int_equal(strlen(sig + 17), 512); /* 256 bytes, hex */
    b->ops->close(b);
    stop_server();
    assert_int_equal(start_server(NULL, NULL), 0);
}

/* One rule for a 401 on every path (src/gcp/call.c): the token is dropped
 * and the request sent once more with a new one; a second 401 is final.
 * Before, a download retried a 401 with backoff until its attempts ran out,
 * and a resumable chunk or an IAM signBlob request failed on it at once. */
static void test_reauth_once_everywhere(void **state)
{
    (void)state;
    NEED_SERVER();
    stop_server();
    assert_int_equal(start_server("--email", "wi@proj.iam.gserviceaccount.com"), 0);
    char src[PATH_MAX], big[PATH_MAX], out[PATH_MAX];
    make_file("ra.txt", 100, src, sizeof src);
    make_file("ra.bin", 3 * CHUNK, big, sizeof big);
    snprintf(out, sizeof out, "%s/ra.out", tmpdir);
    profd_blob *b = auth_store(NULL);
    profd_error err = {0};
    assert_int_equal(b->ops->put_file(b, "r1", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err), 0);
    assert_int_equal(stat_int("token_requests"), 1);
    /* Download: one 401, one new token, done. */
    fault("{\"kind\": \"401\", \"match\": \"download\"}");
    assert_int_equal(b->ops->get_file(b, "r1", out, &err), 0);
    assert_same_file(src, out);
    assert_int_equal(stat_int("token_requests"), 2);
    assert_int_equal(count_kind("download"), 2);
    /* Two 401s: the second is final, after one re-authentication. */
    fault("{\"kind\": \"401\", \"match\": \"download\", \"count\": 2}");
    assert_int_equal(b->ops->get_file(b, "r1", out, &err), -1);
    assert_non_null(strstr(err.msg, "download of r1 failed after 2 attempts: HTTP 401"));
    assert_int_equal(stat_int("token_requests"), 3);
    assert_int_equal(count_kind("download"), 4);
    /* A resumable chunk: the first passes, the second meets a 401. */
    fault("{\"kind\": \"slow\", \"match\": \"chunk\", \"delay\": 0}, {\"kind\": \"401\", "
          "\"match\": \"chunk\"}");
    assert_int_equal(b->ops->put_file(b, "r2", big, NULL, NULL, PROFD_GEN_NEW, NULL, &err), 0);
    assert_int_equal(stat_int("token_requests"), 4);
    assert_int_equal(count_kind("chunk"), 3); /* 2 chunks + the refused one */
    /* IAM signBlob (a link without a key). */
    char link[4096];
    fault("{\"kind\": \"401\", \"match\": \"metadata\"}");
    assert_int_equal(b->ops->link(b, "r1", 300, link, sizeof link, &err), 0);
    assert_non_null(strstr(link, "X-Goog-Signature="));
    assert_int_equal(stat_int("token_requests"), 5);
    b->ops->close(b);
    stop_server();
    assert_int_equal(start_server(NULL, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test_setup(test_roundtrip_generations_list, fresh),
        cmocka_unit_test_setup(test_list_pages_remove_link, fresh),
        cmocka_unit_test_setup(test_retry_paths, fresh),
        cmocka_unit_test_setup(test_retry_limits, fresh),
        cmocka_unit_test_setup(test_resumable_resume, fresh),
        cmocka_unit_test_setup(test_download_resume, fresh),
        cmocka_unit_test_setup(test_integrity, fresh),
        cmocka_unit_test_setup(test_service_account_tokens, fresh),
        cmocka_unit_test_setup(test_bad_assertion_rejected, fresh),
        cmocka_unit_test_setup(test_metadata_server, fresh),
        cmocka_unit_test_setup(test_reauth_once_everywhere, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
