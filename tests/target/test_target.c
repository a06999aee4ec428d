/* test_target.c - PROFD_TARGETS loading, target resolution and the start-time
 * check, against real processes this test starts (sleep, and forked children
 * renamed with PR_SET_NAME). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "profd/target.h"
#include "proc.h"

static char dir[] = "/tmp/profd-target-XXXXXX";
static pid_t kids[32];
static int nkids;

static pid_t spawn_sleep(const char *seconds)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl("/usr/bin/sleep", "sleep", seconds, (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    kids[nkids++] = pid;
    /* wait until the exec has happened (comm is "sleep") */
    char path[64], comm[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(path, "r");
        if (f && fgets(comm, sizeof comm, f) && strncmp(comm, "sleep", 5) == 0) {
            fclose(f);
            break;
        }
        if (f)
            fclose(f);
        usleep(5000);
    }
    return pid;
}

static void reap_all(void)
{
    for (int i = 0; i < nkids; i++) {
        kill(kids[i], SIGKILL);
        waitpid(kids[i], NULL, 0);
    }
    nkids = 0;
}

static const char *write_file(const char *name, const char *fmt, ...)
{
    static char path[8][256];
    static int slot;
    char *p = path[slot++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
    return p;
}

static void assert_contains(const char *s, const char *needle)
{
    if (!strstr(s, needle))
        fail_msg("'%s' does not contain '%s'", s, needle);
}

static void expect_load_error(const char *json, const char *needle, const char *service)
{
    const char *p = write_file("targets.json", "%s", json);
    profd_error err = {0};
    profd_targets *t = profd_targets_load(p, &err);
    assert_null(t);
    assert_string_equal(err.code, PROFD_E_INVALID);
    assert_contains(err.msg, p);
    assert_contains(err.msg, needle);
    if (service)
        assert_contains(err.msg, service);
    assert_null(strchr(err.msg, '\n'));
}

static void test_load_errors(void **state)
{
    (void)state;
    expect_load_error("{\"web\": ", "invalid JSON", NULL);
    expect_load_error("not json", "invalid JSON", NULL);
    expect_load_error("{} {}", "invalid JSON", NULL);
    expect_load_error("[1, 2]", "must be a JSON object", NULL);
    expect_load_error("{\"Web API\": {\"pid\": 1}}", "not a valid service name", "Web API");
    expect_load_error("{\"web\": {\"pid\": 0}}", "\"pid\" must be an integer >= 1", "'web'");
    expect_load_error("{\"web\": {\"pid\": \"12\"}}", "\"pid\" must be an integer", "'web'");
    expect_load_error("{\"ok\": {\"pid\": 5}, \"web\": {\"pidfile\": \"run/web.pid\"}}",
                      "\"pidfile\" must be an absolute path", "'web'");
    expect_load_error("{\"jobs\": {\"cmdline\": \"celery (\"}}",
                      "\"cmdline\" is not a valid regular expression", "'jobs'");
    expect_load_error("{\"jobs\": {\"cmdline\": \"\"}}", "non-empty regular expression", "'jobs'");
    expect_load_error("{\"web\": {\"pidfle\": \"/run/web.pid\"}}", "unknown key \"pidfle\"",
                      "'web'");
    expect_load_error("{\"web\": {\"pid\": 1, \"pidfile\": \"/x\"}}", "exactly one of", "'web'");
    expect_load_error("{\"web\": 5}", "exactly one of", "'web'");

    profd_error err = {0};
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope.json", dir);
    assert_null(profd_targets_load(missing, &err));
    assert_contains(err.msg, "cannot read");
    assert_contains(err.msg, missing);

    profd_targets *t = profd_targets_load(NULL, &err);
    assert_non_null(t);
    assert_false(profd_targets_configured(t));
    profd_targets_free(t);
    t = profd_targets_load("", &err);
    assert_false(profd_targets_configured(t));
    profd_targets_free(t);
}

static profd_targets *load(const char *json)
{
    profd_error err = {0};
    profd_targets *t = profd_targets_load(write_file("targets.json", "%s", json), &err);
    if (!t)
        fail_msg("load: %s", err.msg);
    return t;
}

static void test_resolve_by_pid_pidfile_cmdline(void **state)
{
    (void)state;
    pid_t p = spawn_sleep("30.123");
    const char *pidfile = write_file("svc.pid", "  %d\n", (int)p);
    const char *badfile = write_file("bad.pid", "12abc\n");
    char json[2048];
    snprintf(json, sizeof json,
             "{\"bypid\": {\"pid\": %d}, \"byfile\": {\"pidfile\": \"%s\"},"
             " \"bycmd\": {\"cmdline\": \"^sleep 30\\\\.123$\"},"
             " \"bad\": {\"pidfile\": \"%s\"}, \"gone\": {\"pidfile\": \"%s/none.pid\"},"
             " \"nomatch\": {\"cmdline\": \"^no-such-program-xyz\"}}",
             (int)p, pidfile, badfile, dir);
    profd_targets *t = load(json);
    assert_true(profd_targets_configured(t));
    assert_true(profd_targets_has(t, "bycmd"));
    assert_false(profd_targets_has(t, "other"));

    unsigned long long start;
    assert_int_equal(profd_proc_start_time(p, &start, NULL, NULL), 0);
    const char *names[] = {"bypid", "byfile", "bycmd"};
    for (int i = 0; i < 3; i++) {
        profd_target out;
        profd_error err = {0};
        if (profd_target_resolve(t, names[i], 0, false, &out, &err) != 0)
            fail_msg("%s: %s", names[i], err.msg);
        assert_int_equal(out.pid, p);
        assert_true(out.start_time == start);
        assert_int_equal(out.uid, getuid());
    }
    profd_target out;
    profd_error err = {0};
    assert_int_equal(profd_target_resolve(t, "other", 0, false, &out, &err), -1);
    assert_string_equal(err.code, PROFD_E_NOT_ALLOWED);
    assert_contains(err.msg, "not listed in PROFD_TARGETS");
    assert_int_equal(profd_target_resolve(t, "bad", 0, false, &out, &err), -1);
    assert_string_equal(err.code, PROFD_E_NOT_FOUND);
    assert_contains(err.msg, "does not hold a pid");
    assert_int_equal(profd_target_resolve(t, "gone", 0, false, &out, &err), -1);
    assert_string_equal(err.code, PROFD_E_NOT_FOUND);
    assert_contains(err.msg, "cannot read pidfile");
    assert_int_equal(profd_target_resolve(t, "nomatch", 0, false, &out, &err), -1);
    assert_string_equal(err.code, PROFD_E_NOT_FOUND);
    assert_contains(err.msg, "no process matches cmdline");
    profd_targets_free(t);
    reap_all();

    /* The pid of an entry that has exited. */
    snprintf(json, sizeof json, "{\"bypid\": {\"pid\": %d}}", (int)p);
    t = load(json);
    assert_int_equal(profd_target_resolve(t, "bypid", 0, false, &out, &err), -1);
    assert_string_equal(err.code, PROFD_E_NOT_FOUND);
    char want[64];
    snprintf(want, sizeof want, "no process %d", (int)p);
    assert_string_equal(err.msg, want);
    profd_targets_free(t);
}

static void test_cmdline_picks_oldest(void **state)
{
    (void)state;
    pid_t first = spawn_sleep("30.456");
    usleep(60 * 1000); /* start times are in clock ticks (10 ms) */
    spawn_sleep("30.456");
    profd_targets *t = load("{\"jobs\": {\"cmdline\": \"sleep 30[.]456\"}}");
    profd_target out;
    profd_error err = {0};
    assert_int_equal(profd_target_resolve(t, "jobs", 0, false, &out, &err), 0);
    assert_int_equal(out.pid, first);
    profd_targets_free(t);
    reap_all();
}

/* A child that forks a grandchild (sleep) and waits: test -> parent -> sleep. */
static pid_t spawn_family(pid_t *grandchild)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        pid_t g = fork();
        if (g == 0) {
            execl("/usr/bin/sleep", "sleep", "30", (char *)NULL);
            _exit(127);
        }
        ssize_t w = write(fds[1], &g, sizeof g);
        (void)w;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        pause();
        _exit(0);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], grandchild, sizeof *grandchild), (ssize_t)sizeof *grandchild);
    close(fds[0]);
    kids[nkids++] = pid;
    return pid;
}

static void test_descendants_only(void **state)
{
    (void)state;
    pid_t g;
    pid_t parent = spawn_family(&g);
    pid_t other = spawn_sleep("30");
    char json[128];
    snprintf(json, sizeof json, "{\"svc\": {\"pid\": %d}}", (int)parent);
    profd_targets *t = load(json);
    profd_target out;
    profd_error err = {0};
    assert_int_equal(profd_target_resolve(t, "svc", parent, false, &out, &err), 0);
    assert_int_equal(out.pid, parent);
    if (profd_target_resolve(t, "svc", g, false, &out, &err) != 0)
        fail_msg("grandchild: %s", err.msg);
    assert_int_equal(out.pid, g);
    assert_int_equal(profd_target_resolve(t, "svc", other, false, &out, &err), -1);
    assert_string_equal(err.code, PROFD_E_NOT_ALLOWED);
    assert_contains(err.msg, "not service 'svc''s process");
    /* The service's parent (this test) is not its descendant either. */
    assert_int_equal(profd_target_resolve(t, "svc", getpid(), false, &out, &err), -1);
    assert_string_equal(err.code, PROFD_E_NOT_ALLOWED);
    assert_int_equal(profd_target_resolve(t, "svc", 999999999, false, &out, &err), -1);
    assert_string_equal(err.code, PROFD_E_NOT_FOUND);
    assert_string_equal(err.msg, "no process 999999999");
    profd_targets_free(t);
    kill(g, SIGKILL);
    reap_all();
}

static void test_without_targets(void **state)
{
    (void)state;
    pid_t p = spawn_sleep("30");
    profd_targets *t = profd_targets_load(NULL, NULL);
    profd_target out;
    profd_error err = {0};
    assert_int_equal(profd_target_resolve(t, "svc", 0, false, &out, &err), -1);
    assert_string_equal(err.code, PROFD_E_NOT_FOUND);
    assert_contains(err.msg, "PROFD_TARGETS");
    if (geteuid() == 0) {
        assert_int_equal(profd_target_resolve(t, "svc", p, false, &out, &err), -1);
        assert_string_equal(err.code, PROFD_E_NOT_ALLOWED);
        assert_contains(err.msg, "set PROFD_TARGETS, or PROFD_ALLOW_ANY_PID=1");
        assert_int_equal(profd_target_resolve(t, "svc", p, true, &out, &err), 0);
        assert_int_equal(out.pid, p);
        assert_int_equal(profd_target_resolve(t, "svc", 1, true, &out, &err), 0);
    } else {
        assert_int_equal(profd_target_resolve(t, "svc", p, false, &out, &err), 0);
        assert_int_equal(out.pid, p);
        assert_int_equal(profd_target_resolve(t, "svc", 1, false, &out, &err), -1);
        assert_string_equal(err.code, PROFD_E_NOT_ALLOWED);
        assert_contains(err.msg, "belongs to uid 0");
    }
    assert_int_equal(profd_target_resolve(t, "svc", 999999999, true, &out, &err), -1);
    assert_string_equal(err.code, geteuid() == 0 ? PROFD_E_NOT_FOUND : PROFD_E_NOT_FOUND);
    assert_string_equal(err.msg, "no process 999999999");
    profd_targets_free(t);
    reap_all();
}

static void test_start_time_check(void **state)
{
    (void)state;
    pid_t p = spawn_sleep("30");
    char json[128];
    snprintf(json, sizeof json, "{\"svc\": {\"pid\": %d}}", (int)p);
    profd_targets *t = load(json);
    profd_target out;
    profd_error err = {0};
    assert_int_equal(profd_target_resolve(t, "svc", 0, false, &out, &err), 0);
    assert_int_equal(profd_target_check(&out, &err), 0);

    profd_target reused = out; /* as if the pid now named a younger process */
    reused.start_time = out.start_time - 1;
    assert_int_equal(profd_target_check(&reused, &err), -1);
    assert_string_equal(err.code, PROFD_E_TARGET_EXITED);
    char want[128];
    snprintf(want, sizeof want, "process %d exited (its pid now belongs to another process)",
             (int)p);
    assert_string_equal(err.msg, want);

    kill(p, SIGKILL); /* a zombie (not reaped yet) has exited too */
    usleep(50 * 1000);
    assert_int_equal(profd_target_check(&out, &err), -1);
    assert_string_equal(err.code, PROFD_E_TARGET_EXITED);
    reap_all();
    assert_int_equal(profd_target_check(&out, &err), -1);
    assert_string_equal(err.code, PROFD_E_TARGET_EXITED);
    profd_targets_free(t);
}

static void test_stat_parsing(void **state)
{
    (void)state;
    proc_info pi;
    char line[512];
    /* comm "a) b (c" with spaces and parens; fields 3.. follow the last ')' */
    snprintf(line, sizeof line,
             "4242 (a) b (c) S 77 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 "
             "1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n");
    assert_int_equal(target__proc_parse_stat(line, &pi), 0);
    assert_int_equal(pi.state, 'S');
    assert_int_equal(pi.ppid, 77);
    assert_true(pi.start_time == 987654ULL);
    assert_int_equal(target__proc_parse_stat("4242 (truncated", &pi), -1);
    assert_int_equal(target__proc_parse_stat("4242 (x) S 1 2", &pi), -1);

    /* A live process whose name has spaces and ')' in it. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_NAME, "x) (y z) S 1");
        ssize_t w = write(fds[1], "r", 1);
        (void)w;
        pause();
        _exit(0);
    }
    kids[nkids++] = pid;
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    close(fds[0]);
    close(fds[1]);
    unsigned long long start, start_self;
    uid_t uid;
    long ppid;
    assert_int_equal(profd_proc_start_time(pid, &start, &uid, &ppid), 0);
    assert_int_equal(ppid, getpid());
    assert_int_equal(uid, getuid());
    assert_int_equal(profd_proc_start_time(getpid(), &start_self, NULL, NULL), 0);
    assert_true(start >= start_self);
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(stat, sizeof stat, f));
    fclose(f);
    assert_contains(stat, "(x) (y z) S 1) ");
    assert_true(target__proc_descends_from(pid, getpid()));
    assert_false(target__proc_descends_from(getpid(), pid));
    reap_all();
    errno = 0;
    assert_int_equal(profd_proc_start_time(pid, &start, NULL, NULL), -1);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    reap_all();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "%s/targets.json", dir);
    const char *names[] = {"targets.json", "svc.pid", "bad.pid"};
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "%s/%s", dir, names[i]);
        unlink(cmd);
    }
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_resolve_by_pid_pidfile_cmdline),
        cmocka_unit_test(test_cmdline_picks_oldest),
        cmocka_unit_test(test_descendants_only),
        cmocka_unit_test(test_without_targets),
        cmocka_unit_test(test_start_time_check),
        cmocka_unit_test(test_stat_parsing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
