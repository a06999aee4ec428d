/* test_batch.c - reprocess and cleanup against a real redis-server, the file
 * blob store and the GCS test server, through the profd binary where a user
 * would use it (`profd reprocess`, `profd cleanup`) and through the library
 * where a worker does (queue jobs on the memory bus).
 *
 * Each test uses its own Redis database of one server, and its own directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profd/batch.h"
#include "profd/blob.h"
#include "profd/bus.h"
#include "profd/store.h"
#include "profd/worker.h"
#include "support/redis_server.h"

#define DAY_MS (86400LL * 1000)

static profd_test_redis srv;
static bool redis_up;
static char top[256];

/* ---- helpers ----------------------------------------------------------------------- */

typedef struct fixture {
    int db;
    char dir[300];
    char url[96];
    profd_store *store;
    profd_blob *blob;
} fixture;

static void fixture_open(fixture *f, int db)
{
    profd_error err = {0};
    f->db = db;
    snprintf(f->dir, sizeof f->dir, "%s/db%d", top, db);
    mkdir(f->dir, 0700);
    snprintf(f->url, sizeof f->url, "redis://127.0.0.1:%d/%d", srv.port, db);
    f->store = profd_store_redis_open(f->url, 30 * 86400, &err);
    assert_non_null(f->store);
    char blobs[400];
    snprintf(blobs, sizeof blobs, "%s/blobs", f->dir);
    f->blob = profd_blob_file_open(blobs, &err);
    assert_non_null(f->blob);
    char storage[420], spool[400];
    snprintf(storage, sizeof storage, "file://%s", blobs);
    snprintf(spool, sizeof spool, "%s/spool", f->dir);
    setenv("PROFD_REDIS_URL", f->url, 1);
    setenv("PROFD_STORAGE", storage, 1);
    setenv("PROFD_SPOOL_DIR", spool, 1);
    setenv("PROFD_SESSION_TTL_DAYS", "30", 1);
}

static void fixture_close(fixture *f)
{
    f->store->ops->close(f->store);
    f->blob->ops->close(f->blob);
}

static void make_id(int tag, int i, char *out)
{
    snprintf(out, PROFD_UUID_LEN + 1, "%08x-0000-4000-8000-%012x", tag, i);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void put_text(profd_blob *b, const char *object, const char *text)
{
    char path[600];
    profd_error err = {0};
    snprintf(path, sizeof path, "%s/put.tmp", top);
    write_file(path, text);
    profd_blob_meta meta = {NULL, "web-api"};
    if (b->ops->put_file(b, object, path, "text/plain", &meta, PROFD_GEN_ANY, NULL, &err) != 0)
        fail_msg("put %s: %s", object, err.msg);
}

enum { WITH_STACKS = 1, WITH_OUTPUTS = 2 };

/* A stored session; WITH_STACKS uploads stacks.txt, WITH_OUTPUTS placeholder outputs. */
static void seed(fixture *f, const char *id, int64_t created, profd_status st, int what)
{
    profd_session s;
    profd_error err = {0};
    profd_session_init(&s);
    profd_strlcpy(s.session_id, id, sizeof s.session_id);
    profd_strlcpy(s.service_name, "web-api", sizeof s.service_name);
    s.status = st;
    s.created_at = s.started_at = created;
    s.completed_at = st == PROFD_COMPLETED ? created + 10000 : 0;
    s.duration_seconds = 10;
    s.sample_rate_hz = 100;
    s.pid = 4242;
    s.sample_count = 999; /* wrong on purpose: reprocess recounts */
    profd_strlcpy(s.host, "node-1", sizeof s.host);
    profd_strlcpy(s.sampler, "py-spy 0.4.1", sizeof s.sampler);
    profd_strlcpy(s.renderer, "profd 0.0.1", sizeof s.renderer);
    if (what & WITH_STACKS) {
        snprintf(s.stacks_object, sizeof s.stacks_object, "sessions/%s/stacks.txt", id);
        char stacks[256];
        snprintf(stacks, sizeof stacks, "main;serve;handler_%s 10\nmain;idle 5\n", id + 30);
        put_text(f->blob, s.stacks_object, stacks);
    }
    if (what & WITH_OUTPUTS) {
        snprintf(s.raw_data_object, sizeof s.raw_data_object, "sessions/%s/profile.json", id);
        snprintf(s.flame_graph_object, sizeof s.flame_graph_object, "sessions/%s/flamegraph.html",
                 id);
        put_text(f->blob, s.raw_data_object, "old profile");
        put_text(f->blob, s.flame_graph_object, "old flame graph");
    }
    assert_int_equal(f->store->ops->create(f->store, &s, &err), 1);
    profd_session_free(&s);
}

static profd_session get(fixture *f, const char *id)
{
    profd_session s;
    profd_error err = {0};
    if (f->store->ops->get(f->store, id, &s, &err) != 1)
        fail_msg("session %s not found: %s", id, err.msg);
    return s;
}

static char *read_object(fixture *f, const char *id, const char *file)
{
    char path[700];
    snprintf(path, sizeof path, "%s/blobs/sessions/%s/%s", f->dir, id, file);
    return profd_read_file(path, 1 << 24, NULL);
}

static int64_t generation(profd_blob *b, const char *id, const char *file)
{
    char object[200];
    int64_t gen = 0;
    profd_error err = {0};
    snprintf(object, sizeof object, "sessions/%s/%s", id, file);
    assert_int_equal(b->ops->stat(b, object, &gen, NULL, NULL, &err), 1);
    return gen;
}

/* Run the profd binary; its stdout (up to outlen) in out. Returns the exit status. */
static int profd(char *out, size_t outlen, const char *const *args)
{
    char path[600];
    snprintf(path, sizeof path, "%s/out.txt", top);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        const char *argv[16] = {"profd"};
        for (int i = 0; args[i] && i < 14; i++)
            argv[i + 1] = args[i];
        execv(getenv("PROFD_BIN"), (char **)argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    char *text = profd_read_file(path, 1 << 20, NULL);
    profd_strlcpy(out, text ? text : "", outlen);
    free(text);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

#define PROFD(out, ...) profd(out, sizeof out, (const char *const[]){__VA_ARGS__, NULL})

static int nfiles;

static int count_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path, (void)st, (void)ftw;
    nfiles += type == FTW_F;
    return 0;
}

static int count_files(const char *dir)
{
    nfiles = 0;
    return nftw(dir, count_one, 16, FTW_PHYS) == 0 ? nfiles : -1;
}

static void age_file(const char *path, int64_t ms_ago)
{
    struct timeval tv[2];
    int64_t t = profd_now_ms() - ms_ago;
    tv[0].tv_sec = tv[1].tv_sec = (time_t)(t / 1000);
    tv[0].tv_usec = tv[1].tv_usec = 0;
    assert_int_equal(utimes(path, tv), 0);
}

static void age_session_files(fixture *f, const char *id, int64_t ms_ago)
{
    const char *files[] = {"stacks.txt", "profile.json", "flamegraph.html"};
    for (int i = 0; i < 3; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/blobs/sessions/%s/%s", f->dir, id, files[i]);
        age_file(path, ms_ago);
    }
}

/* ---- selection ------------------------------------------------------------------------ */

/* 1203 sessions, seven per millisecond: pages end in the middle of a tie. */
static void check_select(profd_store *st)
{
    profd_error err = {0};
    int64_t base = profd_now_ms() - DAY_MS;
    for (int i = 0; i < 1203; i++) {
        profd_session s;
        profd_session_init(&s);
        make_id(0x5ca9, i, s.session_id);
        profd_strlcpy(s.service_name, "web-api", sizeof s.service_name);
        s.created_at = base + i / 7;
        assert_int_equal(st->ops->create(st, &s, &err), 1);
        profd_session_free(&s);
    }
    profd_id_list l = {0};
    assert_int_equal(profd_batch_select(st, INT64_MIN, INT64_MAX, &l, &err), 0);
    assert_int_equal(l.n, 1203);
    char seen[1203] = {0};
    for (int i = 0; i < l.n; i++) {
        unsigned tag, n;
        assert_int_equal(sscanf(l.ids[i], "%8x-0000-4000-8000-%12x", &tag, &n), 2);
        assert_true(n < 1203);
        assert_int_equal(seen[n], 0);
        seen[n] = 1;
        assert_int_equal(l.created[i], base + n / 7);
        if (i)
            assert_true(l.created[i] <= l.created[i - 1]); /* newest first */
    }
    profd_id_list_free(&l);
    /* A window: created in [base + 10, base + 19] is 70 sessions. */
    assert_int_equal(profd_batch_select(st, base + 10, base + 19, &l, &err), 0);
    assert_int_equal(l.n, 70);
    profd_id_list_free(&l);
}

static void test_select_memory(void **state)
{
    (void)state;
    profd_store *st = profd_store_memory_open(30 * 86400);
    check_select(st);
    st->ops->close(st);
}

static void test_select_redis(void **state)
{
    (void)state;
    if (!redis_up)
        skip();
    fixture f;
    fixture_open(&f, 1);
    check_select(f.store);
    fixture_close(&f);
}

/* ---- reprocess ------------------------------------------------------------------------- */

static void test_reprocess_local_100(void **state)
{
    (void)state;
    if (!redis_up)
        skip();
    fixture f;
    fixture_open(&f, 2);
    char id[PROFD_UUID_LEN + 1], out[4096];
    int64_t now = profd_now_ms();
    for (int i = 0; i < 100; i++) {
        make_id(0x100, i, id);
        seed(&f, id, now - 3600 * 1000 + i, PROFD_COMPLETED, WITH_STACKS | WITH_OUTPUTS);
    }
    char running[40], bare[40], lost[40];
    make_id(0x101, 1, running);
    make_id(0x101, 2, bare);
    make_id(0x101, 3, lost);
    seed(&f, running, now - 1000, PROFD_RUNNING, 0);
    seed(&f, bare, now - 1000, PROFD_COMPLETED, 0);
    seed(&f, lost, now - 1000, PROFD_COMPLETED, WITH_STACKS);
    char stacks[700];
    snprintf(stacks, sizeof stacks, "%s/blobs/sessions/%s/stacks.txt", f.dir, lost);
    assert_int_equal(unlink(stacks), 0);

    make_id(0x100, 42, id);
    int64_t gen0 = generation(f.blob, id, "profile.json");
    int64_t t0 = profd_mono_ms();
    assert_int_equal(PROFD(out, "reprocess", "--all", "--local", "--rate", "1000/s"), 0);
    int64_t took = profd_mono_ms() - t0;
    assert_non_null(strstr(out, "reprocessed: 100; skipped: 3 ("));
    assert_non_null(strstr(out, "not completed (running): 1"));
    assert_non_null(strstr(out, "no stacks.txt stored: 1"));
    assert_non_null(strstr(out, "stacks.txt is missing from the blob store: 1"));
    assert_non_null(strstr(out, "failed: 0"));
    print_message("# 100 sessions reprocessed locally in %lld ms\n", (long long)took);

    int64_t first_at[100];
    for (int i = 0; i < 100; i++) {
        make_id(0x100, i, id);
        profd_session s = get(&f, id);
        assert_true(s.reprocessed_at >= now);
        assert_string_equal(s.renderer, "profd " PROFD_VERSION);
        assert_int_equal(s.sample_count, 15);
        assert_int_equal(s.status, PROFD_COMPLETED);
        first_at[i] = s.reprocessed_at;
        profd_session_free(&s);
        char *json = read_object(&f, id, "profile.json");
        char *html = read_object(&f, id, "flamegraph.html");
        assert_non_null(json);
        assert_non_null(html);
        assert_non_null(strstr(json, "speedscope"));
        assert_non_null(strstr(json, id + 30)); /* this session's own frames */
        assert_non_null(strstr(html, "<canvas"));
        free(json);
        free(html);
    }
    profd_session s = get(&f, running);
    assert_int_equal(s.reprocessed_at, 0);
    profd_session_free(&s);
    make_id(0x100, 42, id);
    int64_t gen1 = generation(f.blob, id, "profile.json");
    assert_true(gen1 > gen0);
    char *before = read_object(&f, id, "profile.json");

    /* Again: the same result, written again over the generation it replaces. */
    assert_int_equal(PROFD(out, "reprocess", "--all", "--local", "--rate", "1000"), 0);
    assert_non_null(strstr(out, "reprocessed: 100; skipped: 3 ("));
    char *after = read_object(&f, id, "profile.json");
    assert_string_equal(before, after);
    assert_true(generation(f.blob, id, "profile.json") > gen1);
    for (int i = 0; i < 100; i++) {
        make_id(0x100, i, id);
        s = get(&f, id);
        assert_true(s.reprocessed_at >= first_at[i]);
        assert_int_equal(s.sample_count, 15);
        profd_session_free(&s);
    }
    free(before);
    free(after);
    fixture_close(&f);
}

static void test_reprocess_since_rate_session(void **state)
{
    (void)state;
    if (!redis_up)
        skip();
    fixture f;
    fixture_open(&f, 3);
    char id[PROFD_UUID_LEN + 1], out[4096], since[40];
    int64_t now = profd_now_ms();
    for (int i = 0; i < 12; i++) {
        make_id(0x200, i, id);
        seed(&f, id, now - 60000 + i, PROFD_COMPLETED, WITH_STACKS | WITH_OUTPUTS);
    }
    for (int i = 0; i < 5; i++) {
        make_id(0x201, i, id);
        seed(&f, id, now - 3 * DAY_MS, PROFD_COMPLETED, WITH_STACKS | WITH_OUTPUTS);
    }
    profd_rfc3339(now - DAY_MS, since);
    int64_t t0 = profd_mono_ms();
    assert_int_equal(PROFD(out, "reprocess", "--since", since, "--local", "--rate", "20/s"), 0);
    int64_t took = profd_mono_ms() - t0;
    assert_non_null(strstr(out, "reprocessed: 12; skipped: 0; failed: 0"));
    assert_true(took >= 11 * 1000 / 20); /* 12 sessions at 20/s: the last starts at 0.55 s */
    print_message("# 12 sessions at --rate 20/s took %lld ms\n", (long long)took);
    for (int i = 0; i < 5; i++) {
        make_id(0x201, i, id);
        profd_session s = get(&f, id);
        assert_int_equal(s.reprocessed_at, 0); /* older than --since */
        profd_session_free(&s);
    }
    /* One named session, and bad usage. */
    make_id(0x201, 3, id);
    assert_int_equal(PROFD(out, "reprocess", "--session", id, "--local"), 0);
    assert_non_null(strstr(out, "reprocessed: 1;"));
    profd_session s = get(&f, id);
    assert_true(s.reprocessed_at > 0);
    profd_session_free(&s);
    assert_int_equal(PROFD(out, "reprocess", "--local"), 2);
    assert_int_equal(PROFD(out, "reprocess", "--all", "--since", since), 2);
    assert_int_equal(PROFD(out, "reprocess", "--session", "../etc", "--local"), 2);
    assert_int_equal(PROFD(out, "reprocess", "--all", "--rate", "0"), 2);
    assert_int_equal(PROFD(out, "reprocess", "--since", "yesterday", "--local"), 2);
    setenv("PROFD_BUS", "memory", 1);
    assert_int_equal(PROFD(out, "reprocess", "--all"), 2); /* nobody would get the jobs */
    unsetenv("PROFD_BUS");
    fixture_close(&f);
}

static void test_reprocess_claim(void **state)
{
    (void)state;
    if (!redis_up)
        skip();
    fixture f;
    fixture_open(&f, 4);
    profd_config cfg;
    profd_error err = {0};
    assert_int_equal(profd_config_load(&cfg, &err), 0);
    char id[PROFD_UUID_LEN + 1], key[100];
    make_id(0x300, 1, id);
    seed(&f, id, profd_now_ms() - 1000, PROFD_COMPLETED, WITH_STACKS);
    snprintf(key, sizeof key, PROFD_REPROCESS_CLAIM "%s", id);
    assert_int_equal(f.store->ops->claim(f.store, key, "another-run", 60000, &err), 1);
    assert_int_equal(profd_reprocess_one(&cfg, f.store, f.blob, id, &err), PROFD_BATCH_SKIPPED);
    assert_non_null(strstr(err.msg, "another run"));
    profd_session s = get(&f, id);
    assert_int_equal(s.reprocessed_at, 0);
    profd_session_free(&s);
    assert_int_equal(f.store->ops->release(f.store, key, "another-run", &err), 0);
    assert_int_equal(profd_reprocess_one(&cfg, f.store, f.blob, id, &err), PROFD_BATCH_DONE);
    /* No outputs were stored before: they are created (generation 0 = new). */
    char *json = read_object(&f, id, "profile.json");
    assert_non_null(json);
    free(json);
    s = get(&f, id);
    assert_true(s.reprocessed_at > 0);
    assert_string_equal(s.raw_data_object + 45, "/profile.json");
    profd_session_free(&s);
    /* The claim is released afterwards: another run can take it. */
    assert_int_equal(f.store->ops->claim(f.store, key, "later-run", 1000, &err), 1);
    fixture_close(&f);
}

/* Queue mode: jobs on the memory bus, done by a worker in this process. */
typedef struct wctx {
    profd_worker *w;
    volatile sig_atomic_t stop;
} wctx;

static void *worker_main(void *arg)
{
    wctx *c = arg;
    profd_worker_run(c->w, &c->stop);
    return NULL;
}

static void test_reprocess_queue_worker(void **state)
{
    (void)state;
    if (!redis_up)
        skip();
    fixture f;
    fixture_open(&f, 5);
    char targets[400], pidbuf[64];
    snprintf(targets, sizeof targets, "%s/targets.json", f.dir);
    snprintf(pidbuf, sizeof pidbuf, "{\"web-api\": {\"pid\": %d}}", (int)getpid());
    write_file(targets, pidbuf);
    setenv("PROFD_TARGETS", targets, 1);
    setenv("PROFD_BUS", "memory", 1);
    setenv("PROFD_SAMPLER", "builtin", 1);
    setenv("PROFD_CLEANUP_DAYS", "0", 1);
    profd_config cfg;
    profd_error err = {0};
    assert_int_equal(profd_config_load(&cfg, &err), 0);
    profd_bus_memory_reset();
    profd_bus *bus = profd_bus_open(&cfg, PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE, &err);
    assert_non_null(bus);
    wctx c = {0};
    c.w = profd_worker_new(&cfg, bus, f.store, f.blob, &err);
    assert_non_null(c.w);
    char id[PROFD_UUID_LEN + 1];
    int64_t now = profd_now_ms();
    for (int i = 0; i < 20; i++) {
        make_id(0x400, i, id);
        seed(&f, id, now - 1000 + i, PROFD_COMPLETED, WITH_STACKS | WITH_OUTPUTS);
        assert_int_equal(profd_reprocess_enqueue(bus, id, &err), 0);
    }
    make_id(0x401, 0, id);
    seed(&f, id, now, PROFD_RUNNING, 0);
    assert_int_equal(profd_reprocess_enqueue(bus, id, &err), 0);
    pthread_t t;
    pthread_create(&t, NULL, worker_main, &c);
    int done = 0;
    /* until the 20 are done and the running session's message is taken too (it is the last) */
    for (int round = 0; round < 200 && (done < 20 || profd_bus_memory_pending() > 0); round++) {
        usleep(50 * 1000);
        done = 0;
        for (int i = 0; i < 20; i++) {
            make_id(0x400, i, id);
            profd_session s = get(&f, id);
            done += s.reprocessed_at > 0 && s.sample_count == 15;
            profd_session_free(&s);
        }
    }
    c.stop = 1;
    pthread_join(t, NULL);
    assert_int_equal(done, 20);
    assert_int_equal(profd_bus_memory_count(PROFD_TOPIC_DLQ), 0); /* no "not yet available" */
    assert_int_equal(profd_bus_memory_pending(), 0);
    make_id(0x401, 0, id);
    profd_session s = get(&f, id);
    assert_int_equal(s.reprocessed_at, 0); /* a running session is left alone */
    assert_int_equal(s.status, PROFD_RUNNING);
    profd_session_free(&s);
    profd_worker_free(c.w);
    bus->ops->close(bus);
    unsetenv("PROFD_BUS");
    unsetenv("PROFD_TARGETS");
    unsetenv("PROFD_CLEANUP_DAYS");
    fixture_close(&f);
}

/* ---- cleanup --------------------------------------------------------------------------- */

static void test_cleanup_file_store(void **state)
{
    (void)state;
    if (!redis_up)
        skip();
    fixture f;
    fixture_open(&f, 6);
    char id[PROFD_UUID_LEN + 1], out[65536], blobs[400];
    int64_t now = profd_now_ms();
    snprintf(blobs, sizeof blobs, "%s/blobs", f.dir);
    for (int i = 0; i < 12; i++) { /* old sessions, old files */
        make_id(0x600, i, id);
        seed(&f, id, now - 10 * DAY_MS, PROFD_COMPLETED, WITH_STACKS | WITH_OUTPUTS);
        age_session_files(&f, id, 10 * DAY_MS);
    }
    make_id(0x601, 0, id); /* old session reprocessed yesterday: its new files go with it */
    seed(&f, id, now - 9 * DAY_MS, PROFD_COMPLETED, WITH_STACKS | WITH_OUTPUTS);
    age_session_files(&f, id, DAY_MS);
    for (int i = 0; i < 5; i++) { /* recent */
        make_id(0x602, i, id);
        seed(&f, id, now - 2 * DAY_MS, PROFD_COMPLETED, WITH_STACKS | WITH_OUTPUTS);
        age_session_files(&f, id, 2 * DAY_MS);
    }
    for (int i = 0; i < 2; i++) { /* blobs whose records expired long ago */
        char object[700];
        make_id(0x603, i, id);
        snprintf(object, sizeof object, "sessions/%s/stacks.txt", id);
        put_text(f.blob, object, "main 1\n");
        snprintf(object, sizeof object, "%s/sessions/%s/stacks.txt", blobs, id);
        age_file(object, 30 * DAY_MS);
    }
    /* An index entry whose record expired (a store with a 1 s TTL wrote it). */
    profd_error err = {0};
    profd_store *brief = profd_store_redis_open(f.url, 1, &err);
    assert_non_null(brief);
    profd_session gone;
    profd_session_init(&gone);
    make_id(0x604, 0, gone.session_id);
    profd_strlcpy(gone.service_name, "web-api", sizeof gone.service_name);
    gone.created_at = now - 8 * DAY_MS;
    assert_int_equal(brief->ops->create(brief, &gone, &err), 1);
    profd_session_free(&gone);
    brief->ops->close(brief);
    usleep(1100 * 1000);
    assert_int_equal(count_files(blobs), 13 * 3 + 5 * 3 + 2);

    assert_int_equal(PROFD(out, "cleanup", "--days", "7", "--dry-run"), 0);
    assert_non_null(strstr(out, "sessions: 13 would be removed (and 1 index entries of expired "
                                "records); objects: 41 would be removed ("));
    make_id(0x600, 3, id);
    assert_non_null(strstr(out, id)); /* listed */
    assert_int_equal(count_files(blobs), 13 * 3 + 5 * 3 + 2);
    profd_session s = get(&f, id);
    profd_session_free(&s);

    assert_int_equal(PROFD(out, "cleanup", "--days", "7"), 0);
    assert_non_null(strstr(out, "sessions: 13 removed (and 1 index entries of expired records); "
                                "objects: 41 removed ("));
    print_message("# %s", out);
    assert_int_equal(count_files(blobs), 5 * 3);
    for (int i = 0; i < 12; i++) {
        make_id(0x600, i, id);
        assert_int_equal(f.store->ops->get(f.store, id, &s, &err), 0);
        profd_session_free(&s);
    }
    profd_id_list l = {0};
    assert_int_equal(profd_batch_select(f.store, INT64_MIN, INT64_MAX, &l, &err), 0);
    assert_int_equal(l.n, 5); /* the index entries went with the records */
    profd_id_list_free(&l);
    profd_list_filter filt = {NULL, PROFD_COMPLETED, 100};
    profd_session listed[100];
    int n = f.store->ops->list(f.store, &filt, listed, 100, &err);
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++)
        profd_session_free(&listed[i]);

    /* Nothing left to do: a second run removes nothing. */
    assert_int_equal(PROFD(out, "cleanup", "--days", "7"), 0);
    assert_non_null(strstr(out, "sessions: 0 removed; objects: 0 removed (0 bytes)"));
    assert_int_equal(PROFD(out, "cleanup", "--days", "0"), 2);
    assert_int_equal(PROFD(out, "cleanup"), 2);
    fixture_close(&f);
}

static pid_t start_gcs(int *port)
{
    char script[600], portfile[400];
    snprintf(script, sizeof script, "%s/tests/batch/gcs_aged.py", getenv("PROFD_SOURCE_DIR"));
    snprintf(portfile, sizeof portfile, "%s/gcs.port", top);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(portfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        execlp("python3", "python3", script, NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        char *text = profd_read_file(portfile, 64, NULL);
        if (text && atoi(text) > 0) {
            *port = atoi(text);
            free(text);
            return pid;
        }
        free(text);
        usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static int count_visit(const char *object, int64_t mtime, int64_t size, void *arg)
{
    (void)mtime, (void)size;
    int *n = arg;
    (*n)++;
    return strstr(object, "..") != NULL;
}

static void test_cleanup_gcs(void **state)
{
    (void)state;
    if (!redis_up)
        skip();
    fixture f;
    fixture_open(&f, 7);
    char host[64], age[400];
    snprintf(age, sizeof age, "%s/gcs.age", top);
    setenv("GCS_AGE_FILE", age, 1);
    int port = 0;
    pid_t gcs = start_gcs(&port);
    if (gcs < 0)
        fail_msg("gcs_aged.py did not start");
    snprintf(host, sizeof host, "127.0.0.1:%d", port);
    setenv("STORAGE_EMULATOR_HOST", host, 1);
    setenv("PROFD_STORAGE", "gs://bkt/profd", 1);
    profd_config cfg;
    profd_error err = {0};
    assert_int_equal(profd_config_load(&cfg, &err), 0);
    profd_blob *gb = profd_blob_open(&cfg, &err);
    if (!gb)
        fail_msg("gcs store: %s", err.msg);
    profd_blob *file_blob = f.blob;
    f.blob = gb; /* seed() uploads to the bucket now */
    char id[PROFD_UUID_LEN + 1], out[65536];
    int64_t now = profd_now_ms();
    write_file(age, "864000"); /* objects written now are 10 days old */
    for (int i = 0; i < 4; i++) {
        make_id(0x700, i, id);
        seed(&f, id, now - 10 * DAY_MS, PROFD_COMPLETED, WITH_STACKS | WITH_OUTPUTS);
    }
    make_id(0x701, 0, id); /* orphan */
    put_text(gb, "sessions/00000701-0000-4000-8000-000000000000/stacks.txt", "main 1\n");
    write_file(age, "0");
    for (int i = 0; i < 3; i++) {
        make_id(0x702, i, id);
        seed(&f, id, now - DAY_MS, PROFD_COMPLETED, WITH_STACKS | WITH_OUTPUTS);
    }
    int n = 0;
    assert_int_equal(gb->ops->list(gb, "sessions/", count_visit, &n, &err), 0);
    assert_int_equal(n, 7 * 3 + 1);

    assert_int_equal(PROFD(out, "cleanup", "--days", "7", "--dry-run"), 0);
    assert_non_null(strstr(out, "sessions: 4 would be removed; objects: 13 would be removed"));
    n = 0;
    assert_int_equal(gb->ops->list(gb, "sessions/", count_visit, &n, &err), 0);
    assert_int_equal(n, 22);

    assert_int_equal(PROFD(out, "cleanup", "--days", "7"), 0);
    assert_non_null(strstr(out, "sessions: 4 removed; objects: 13 removed"));
    print_message("# gcs: %s", out);
    n = 0;
    assert_int_equal(gb->ops->list(gb, "sessions/", count_visit, &n, &err), 0);
    assert_int_equal(n, 9);
    make_id(0x702, 2, id);
    char object[200];
    snprintf(object, sizeof object, "sessions/%s/flamegraph.html", id);
    assert_int_equal(gb->ops->stat(gb, object, NULL, NULL, NULL, &err), 1);
    make_id(0x700, 2, id);
    snprintf(object, sizeof object, "sessions/%s/flamegraph.html", id);
    assert_int_equal(gb->ops->stat(gb, object, NULL, NULL, NULL, &err), 0);

    gb->ops->close(gb);
    f.blob = file_blob;
    kill(gcs, SIGTERM);
    waitpid(gcs, NULL, 0);
    unsetenv("STORAGE_EMULATOR_HOST");
    fixture_close(&f);
}

/* ---- setup ----------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    snprintf(top, sizeof top, "/tmp/profd-batch.XXXXXX");
    if (!mkdtemp(top))
        return -1;
    setenv("PROFD_LOG_LEVEL", "warn", 1);
    setenv("PROFD_HOST", "node-1", 1);
    if (!profd_test_redis_binary())
        fprintf(stderr, "SKIP: redis-server not installed\n");
    else if (profd_test_redis_start(&srv, false) == 0)
        redis_up = true;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (redis_up)
        profd_test_redis_stop(&srv);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", top, NULL);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_memory),
        cmocka_unit_test(test_select_redis),
        cmocka_unit_test(test_reprocess_local_100),
        cmocka_unit_test(test_reprocess_since_rate_session),
        cmocka_unit_test(test_reprocess_claim),
        cmocka_unit_test(test_reprocess_queue_worker),
        cmocka_unit_test(test_cleanup_file_store),
        cmocka_unit_test(test_cleanup_gcs),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
