/* test_file_blob.c - the file:// blob store through the public blob interface:
 * URL dispatch, name validation, generations (first write, conditional
 * rewrite, a race of first writers in separate processes), round trips,
 * listing, removal, signed links, and reading an object through a descriptor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profd/blob.h"

static char root[256];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    size_t len;
    return profd_read_file(path, 1 << 20, &len);
}

static int setup(void **state)
{
    char tmpl[] = "/tmp/profd-blob-test-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    profd_strlcpy(root, tmpl, sizeof root);
    char store[PATH_MAX + 16];
    snprintf(store, sizeof store, "%s/store", root);
    profd_error err = {0};
    profd_blob *b = profd_blob_file_open(store, &err);
    assert_non_null(b);
    *state = b;
    return 0;
}

static int teardown(void **state)
{
    profd_blob *b = *state;
    b->ops->close(b);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", root, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
    return 0;
}

static void src_file(char *out, size_t len, const char *text)
{
    snprintf(out, len, "%s/src-%d.txt", root, rand());
    write_text(out, text);
}

static void test_open_urls(void **state)
{
    (void)state;
    profd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    profd_error err = {0};
    snprintf(cfg.storage, sizeof cfg.storage, "file://%s/abs", root);
    profd_blob *b = profd_blob_open(&cfg, &err);
    assert_non_null(b);
    b->ops->close(b);
    char abs[PATH_MAX + 8];
    snprintf(abs, sizeof abs, "%s/abs", root);
    struct stat st;
    assert_int_equal(stat(abs, &st), 0);

    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(root), 0);
    const char *rel[] = {"file://./rel1", "file://rel2"};
    for (int i = 0; i < 2; i++) {
        profd_strlcpy(cfg.storage, rel[i], sizeof cfg.storage);
        b = profd_blob_open(&cfg, &err);
        assert_non_null(b);
        char link[PATH_MAX * 2], want[PATH_MAX * 2];
        assert_int_equal(b->ops->link(b, "x/y.json", 60, link, sizeof link, &err), 0);
        snprintf(want, sizeof want, "file://%s/%s/x/y.json", root, i ? "rel2" : "rel1");
        assert_string_equal(link, want);
        b->ops->close(b);
    }
    assert_int_equal(chdir(cwd), 0);

    const char *bad[] = {"file://", "s3://bucket/x", "gs://", "gs://A_B", "/tmp/x", "gs://b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        profd_strlcpy(cfg.storage, bad[i], sizeof cfg.storage);
        profd_error_clear(&err);
        assert_null(profd_blob_open(&cfg, &err));
        assert_true(strlen(err.msg) > 10);
        assert_null(strchr(err.msg, '\n'));
    }
}

static void test_bad_names(void **state)
{
    profd_blob *b = *state;
    char src[PATH_MAX];
    src_file(src, sizeof src, "x");
    const char *bad[] = {"",   "..",  "../escape", "a/../../b", "/abs", "a//b",
                         "a/", "a b", "a\x01",     "./a",       "a/.",  "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        profd_error err = {0};
        assert_int_equal(
            b->ops->put_file(b, bad[i], src, "text/plain", NULL, PROFD_GEN_ANY, NULL, &err), -1);
        assert_string_equal(err.code, PROFD_E_INVALID);
        profd_error_clear(&err);
        assert_int_equal(b->ops->stat(b, bad[i], NULL, NULL, NULL, &err), -1);
    }
    char escaped[PATH_MAX + 16];
    snprintf(escaped, sizeof escaped, "%s/escape", root);
    struct stat st;
    assert_int_not_equal(stat(escaped, &st), 0);
}

static void test_generations(void **state)
{
    profd_blob *b = *state;
    char s1[PATH_MAX], s2[PATH_MAX], s3[PATH_MAX], out[PATH_MAX + 16];
    src_file(s1, sizeof s1, "first");
    src_file(s2, sizeof s2, "second");
    src_file(s3, sizeof s3, "third");
    snprintf(out, sizeof out, "%s/out.txt", root);
    profd_error err = {0};
    int64_t g1 = 0, g2 = 0, g3 = 0, gs = 0, size = 0, mtime = 0;
    const char *obj = "sessions/a/stacks.txt";
    assert_int_equal(b->ops->put_file(b, obj, s1, "text/plain", NULL, PROFD_GEN_NEW, &g1, &err), 0);
    assert_true(g1 > 0);
    assert_int_equal(b->ops->put_file(b, obj, s2, "text/plain", NULL, PROFD_GEN_NEW, &g2, &err),
                     -1);
    assert_non_null(strstr(err.msg, "already exists"));
    assert_int_equal(b->ops->get_file(b, obj, out, &err), 0);
    char *text = slurp(out);
    assert_string_equal(text, "first");
    free(text);

    /* Rewrite naming the generation it replaces: the generation grows. */
    assert_int_equal(b->ops->put_file(b, obj, s2, "text/plain", NULL, g1, &g2, &err), 0);
    assert_true(g2 > g1);
    /* A writer holding the old generation is refused and changes nothing. */
    assert_int_equal(b->ops->put_file(b, obj, s3, "text/plain", NULL, g1, &g3, &err), -1);
    assert_non_null(strstr(err.msg, "not replaced"));
    assert_int_equal(b->ops->stat(b, obj, &gs, &size, &mtime, &err), 1);
    assert_int_equal(gs, g2);
    assert_int_equal(size, 6);
    assert_true(llabs(mtime - profd_now_ms()) < 60000);
    /* A generation for an object that does not exist is refused too. */
    assert_int_equal(b->ops->put_file(b, "sessions/a/none", s3, NULL, NULL, g2, NULL, &err), -1);
    /* ANY overwrites. */
    assert_int_equal(b->ops->put_file(b, obj, s3, NULL, NULL, PROFD_GEN_ANY, &g3, &err), 0);
    assert_true(g3 > g2);
    assert_int_equal(b->ops->get_file(b, obj, out, &err), 0);
    text = slurp(out);
    assert_string_equal(text, "third");
    free(text);
}

/* Eight processes race to create one object: exactly one wins. */
static void test_first_write_race(void **state)
{
    profd_blob *b = *state;
    enum { N = 8 };
    char src[PATH_MAX];
    src_file(src, sizeof src, "race");
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            profd_error err = {0};
            int rc = b->ops->put_file(b, "race/obj", src, NULL, NULL, PROFD_GEN_NEW, NULL, &err);
            _exit(rc == 0 ? 0 : (strstr(err.msg, "already exists") ? 1 : 2));
        }
    }
    int won = 0, lost = 0;
    for (int i = 0; i < N; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        assert_true(WIFEXITED(st));
        if (WEXITSTATUS(st) == 0)
            won++;
        else if (WEXITSTATUS(st) == 1)
            lost++;
    }
    assert_int_equal(won, 1);
    assert_int_equal(lost, N - 1);
}

static void test_get_missing_and_bad_source(void **state)
{
    profd_blob *b = *state;
    char out[PATH_MAX + 16];
    snprintf(out, sizeof out, "%s/never.txt", root);
    profd_error err = {0};
    assert_int_equal(b->ops->get_file(b, "no/such/object", out, &err), -1);
    assert_non_null(strstr(err.msg, "not found"));
    struct stat st;
    assert_int_not_equal(stat(out, &st), 0);
    assert_int_equal(b->ops->stat(b, "no/such/object", NULL, NULL, NULL, &err), 0);
    assert_int_equal(
        b->ops->put_file(b, "x/y", "/nonexistent/file", NULL, NULL, PROFD_GEN_ANY, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/file"));
}

/* The number of entries in dir, "." and ".." aside */
static int entries(const char *dir)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    int n = -1;
    assert_int_equal(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

/* profd_blob_get_fd: the object's bytes through a descriptor, no file left in TMPDIR; an absent
 * object and a TMPDIR that cannot hold the copy end apart. */
static void test_get_fd(void **state)
{
    profd_blob *b = *state;
    char src[PATH_MAX + 16], tmp[PATH_MAX + 16];
    snprintf(src, sizeof src, "%s/src.txt", root);
    snprintf(tmp, sizeof tmp, "%s/tmp", root);
    assert_int_equal(mkdir(tmp, 0700), 0);
    write_text(src, "a;b 3\n");
    profd_error err = {0};
    assert_int_equal(
        b->ops->put_file(b, "s/1/stacks.txt", src, NULL, NULL, PROFD_GEN_ANY, NULL, &err), 0);
    const char *was = getenv("TMPDIR");
    char *saved = was ? strdup(was) : NULL;
    setenv("TMPDIR", tmp, 1);
    int fd = -2;
    assert_int_equal(profd_blob_get_fd(b, "s/1/stacks.txt", &fd, &err), PROFD_BLOB_FD_OK);
    char buf[64] = {0};
    assert_int_equal(pread(fd, buf, sizeof buf - 1, 0), 6);
    assert_string_equal(buf, "a;b 3\n");
    assert_int_equal(entries(tmp), 0);
    close(fd);
    assert_int_equal(profd_blob_get_fd(b, "s/1/absent.txt", &fd, &err), PROFD_BLOB_FD_UNAVAILABLE);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(err.msg, "not found"));
    assert_int_equal(entries(tmp), 0);
    setenv("TMPDIR", "/nonexistent/profd-tmp", 1);
    assert_int_equal(profd_blob_get_fd(b, "s/1/stacks.txt", &fd, &err), PROFD_BLOB_FD_LOCAL);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(err.msg, "/nonexistent/profd-tmp"));
    if (saved)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
}

typedef struct seen {
    char names[16][64];
    int64_t sizes[16];
    int n, stop_after;
} seen;

static int visit(const char *object, int64_t mtime_ms, int64_t size, void *arg)
{
    seen *s = arg;
    assert_true(mtime_ms > 0);
    profd_strlcpy(s->names[s->n], object, sizeof s->names[0]);
    s->sizes[s->n++] = size;
    return s->stop_after && s->n >= s->stop_after;
}

static void test_list_and_remove(void **state)
{
    profd_blob *b = *state;
    char src[PATH_MAX];
    src_file(src, sizeof src, "abc");
    profd_error err = {0};
    const char *objs[] = {"sessions/s2/profile.json", "sessions/s1/stacks.txt",
                          "sessions/s1/flamegraph.html", "sessions/s10/x", "other/y"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(b->ops->put_file(b, objs[i], src, NULL, NULL, PROFD_GEN_NEW, NULL, &err),
                         0);
    /* A leftover temp file of a crashed write is not an object. */
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/store/sessions/s1/.profd-tmp-abc123", root);
    write_text(tmp, "partial");

    seen s = {0};
    assert_int_equal(b->ops->list(b, "sessions/", visit, &s, &err), 0);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.names[0], "sessions/s1/flamegraph.html");
    assert_string_equal(s.names[1], "sessions/s1/stacks.txt");
    assert_string_equal(s.names[2], "sessions/s10/x");
    assert_string_equal(s.names[3], "sessions/s2/profile.json");
    assert_int_equal(s.sizes[0], 3);

    memset(&s, 0, sizeof s);
    assert_int_equal(b->ops->list(b, "sessions/s1", visit, &s, &err), 0);
    assert_int_equal(s.n, 3); /* s1/… and s10/… */
    memset(&s, 0, sizeof s);
    assert_int_equal(b->ops->list(b, "sessions/s1/", visit, &s, &err), 0);
    assert_int_equal(s.n, 2);
    memset(&s, 0, sizeof s);
    s.stop_after = 2;
    assert_int_equal(b->ops->list(b, "", visit, &s, &err), 0);
    assert_int_equal(s.n, 2);
    memset(&s, 0, sizeof s);
    assert_int_equal(b->ops->list(b, "nothing/here/", visit, &s, &err), 0);
    assert_int_equal(s.n, 0);

    assert_int_equal(b->ops->remove(b, "sessions/s2/profile.json", &err), 0);
    assert_int_equal(b->ops->remove(b, "sessions/s2/profile.json", &err), 0); /* absent ok */
    char dir[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/store/sessions/s2", root);
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0); /* emptied directory pruned */
    snprintf(dir, sizeof dir, "%s/store/sessions", root);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(b->ops->stat(b, "sessions/s2/profile.json", NULL, NULL, NULL, &err), 0);
    assert_int_equal(b->ops->remove(b, "../x", &err), -1);
}

static void query(const char *link, const char *name, char *out, size_t len)
{
    char key[32];
    snprintf(key, sizeof key, "%s=", name);
    const char *p = strstr(link, key);
    assert_non_null(p);
    p += strlen(key);
    size_t n = strcspn(p, "&");
    assert_true(n < len);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void test_links(void **state)
{
    profd_blob *b = *state;
    profd_error err = {0};
    char link[4096], want[PATH_MAX + 64];
    assert_int_equal(b->ops->link(b, "sessions/s1/profile.json", 60, link, sizeof link, &err), 0);
    snprintf(want, sizeof want, "file://%s/store/sessions/s1/profile.json", root);
    assert_string_equal(link, want);

    profd_blob_file_set_link_base(b, "http://127.0.0.1:8080/", "k3y");
    int64_t now = profd_now_ms() / 1000;
    assert_int_equal(b->ops->link(b, "sessions/s1/profile.json", 600, link, sizeof link, &err), 0);
    const char *prefix = "http://127.0.0.1:8080/api/v1/files/sessions/s1/profile.json?expires=";
    assert_memory_equal(link, prefix, strlen(prefix));
    char expires[32], sig[128];
    query(link, "expires", expires, sizeof expires);
    query(link, "signature", sig, sizeof sig);
    long long exp = atoll(expires);
    assert_true(exp >= now + 599 && exp <= now + 601);
    assert_int_equal(strlen(sig), 64);

    assert_int_equal(profd_blob_file_verify("k3y", "sessions/s1/profile.json", expires, sig, now),
                     0);
    assert_int_equal(profd_blob_file_verify("k3y", "sessions/s1/profile.json", expires, sig, exp),
                     -2);
    assert_int_equal(profd_blob_file_verify("other", "sessions/s1/profile.json", expires, sig, now),
                     -1);
    assert_int_equal(profd_blob_file_verify("k3y", "sessions/s1/stacks.txt", expires, sig, now),
                     -1);
    char later[32];
    snprintf(later, sizeof later, "%lld", exp + 1000);
    assert_int_equal(profd_blob_file_verify("k3y", "sessions/s1/profile.json", later, sig, now),
                     -1);
    sig[10] = sig[10] == 'a' ? 'b' : 'a';
    assert_int_equal(profd_blob_file_verify("k3y", "sessions/s1/profile.json", expires, sig, now),
                     -1);
    assert_int_equal(profd_blob_file_verify("k3y", "sessions/s1/profile.json", "12x", sig, now),
                     -1);
    assert_int_equal(profd_blob_file_verify("k3y", "sessions/s1/profile.json", expires, "ab", now),
                     -1);
    assert_int_equal(b->ops->link(b, "../etc/passwd", 60, link, sizeof link, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_write_race, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_missing_and_bad_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
