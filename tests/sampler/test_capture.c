/* test_capture.c - the sampler supervisor against the py-spy stand-in
 * (tests/pyspy) and real target processes: argv building, sampler choice,
 * real captures, every failure mode mapped to its code and text, the
 * deadline, stopped samplers, cancel, and PR_SET_PDEATHSIG. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "profd/sampler.h"

static char dir[] = "/tmp/profd-capture-XXXXXX";
static char pyspy[1024], out_path[1200], err_path[1200], log_path[1200];
static pid_t target;

static void assert_contains(const char *s, const char *needle)
{
    if (!strstr(s, needle))
        fail_msg("'%s' does not contain '%s'", s, needle);
}

static pid_t spawn_sleep(const char *seconds)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl("/usr/bin/sleep", "sleep", seconds, (char *)NULL);
        _exit(127);
    }
    char path[64], comm[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    for (int i = 0; i < 200; i++) { /* until the exec has happened */
        FILE *f = fopen(path, "r");
        bool done = f && fgets(comm, sizeof comm, f) && strncmp(comm, "sleep", 5) == 0;
        if (f)
            fclose(f);
        if (done)
            break;
        usleep(5000);
    }
    return pid;
}

static profd_capture_spec spec_for(long pid, int rate, int duration, int grace)
{
    profd_capture_spec s;
    memset(&s, 0, sizeof s);
    s.kind = PROFD_SAMPLER_PYSPY;
    s.pyspy = pyspy;
    s.self_exe = "/proc/self/exe";
    s.pid = pid;
    s.rate_hz = rate;
    s.duration_s = duration;
    s.grace_s = grace;
    s.out_path = out_path;
    s.stderr_path = err_path;
    return s;
}

/* One capture with PYSPY_STANDIN_MODE=mode ("" for none), waited to the end. */
static void run(const char *mode, const profd_capture_spec *s, profd_capture *c,
                profd_capture_result *r)
{
    if (*mode)
        setenv("PYSPY_STANDIN_MODE", mode, 1);
    profd_error err = {0};
    int rc = profd_capture_start(c, s, &err);
    unsetenv("PYSPY_STANDIN_MODE");
    if (rc != 0)
        fail_msg("start: %s", err.msg);
    profd_capture_wait(c, r);
}

static bool gone(pid_t pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

static void test_argv(void **state)
{
    (void)state;
    profd_capture_spec s = spec_for(4242, 100, 60, 10);
    s.pyspy = "py-spy";
    s.out_path = "/spool/raw.txt";
    char *argv[32], buf[128];
    int n = profd_capture_argv(&s, argv, 32, buf, sizeof buf);
    const char *want[] = {"py-spy", "record",         "--pid",    "4242",     "--rate",
                          "100",    "--duration",     "60",       "--format", "raw",
                          "-o",     "/spool/raw.txt", "--threads"};
    assert_int_equal(n, 13);
    for (int i = 0; i < n; i++)
        assert_string_equal(argv[i], want[i]);
    assert_null(argv[n]);

    s.kind = PROFD_SAMPLER_BUILTIN;
    s.self_exe = "/usr/bin/profd";
    s.options = (profd_options){true, true, true, true, true};
    n = profd_capture_argv(&s, argv, 32, buf, sizeof buf);
    const char *want2[] = {"/usr/bin/profd",
                           "sample",
                           "record",
                           "--pid",
                           "4242",
                           "--rate",
                           "100",
                           "--duration",
                           "60",
                           "--format",
                           "raw",
                           "-o",
                           "/spool/raw.txt",
                           "--nonblocking",
                           "--idle",
                           "--gil",
                           "--subprocesses",
                           "--native",
                           "--threads",
                           "--live"};
    assert_int_equal(n, 20);
    for (int i = 0; i < n; i++)
        assert_string_equal(argv[i], want2[i]);
    assert_null(argv[n]);
    assert_int_equal(profd_capture_argv(&s, argv, 10, buf, sizeof buf), -1);
    assert_int_equal(profd_capture_argv(&s, argv, 32, buf, 4), -1);

    /* A memory capture (docs/memory.md): the window, the frame depth and the summary file;
     * the sampler options do not apply. */
    s.kind = PROFD_SAMPLER_MEMORY;
    s.memory_frames = 16;
    s.summary_path = "/spool/memory.json";
    n = profd_capture_argv(&s, argv, 32, buf, sizeof buf);
    const char *want3[] = {"/usr/bin/profd",
                           "sample",
                           "memory",
                           "--pid",
                           "4242",
                           "--duration",
                           "60",
                           "--frames",
                           "16",
                           "-o",
                           "/spool/raw.txt",
                           "--summary",
                           "/spool/memory.json"};
    assert_int_equal(n, 13);
    for (int i = 0; i < n; i++)
        assert_string_equal(argv[i], want3[i]);
    assert_null(argv[n]);
    /* its deadline adds the baseline (at most 10 s), the attach timeout and the finish time */
    assert_int_equal(profd_capture_memory_extra_s(60), 10 + 5 + 60);
    assert_int_equal(profd_capture_memory_extra_s(4), 4 + 5 + 60);
}

static void test_choose_and_describe(void **state)
{
    (void)state;
    profd_sampler_kind k;
    profd_error err = {0};
    assert_int_equal(profd_sampler_choose("auto", pyspy, &k, &err), 0);
    assert_int_equal(k, PROFD_SAMPLER_PYSPY);
    assert_int_equal(profd_sampler_choose("auto", "/nonexistent/py-spy", &k, &err), 0);
    assert_int_equal(k, PROFD_SAMPLER_BUILTIN);
    assert_int_equal(profd_sampler_choose("py-spy", "/nonexistent/py-spy", &k, &err), -1);
    assert_string_equal(err.code, PROFD_E_SAMPLER_MISSING);
    assert_string_equal(err.msg, PROFD_PYSPY_MISSING);
    assert_int_equal(profd_sampler_choose("builtin", pyspy, &k, &err), 0);
    assert_int_equal(k, PROFD_SAMPLER_BUILTIN);
    assert_int_equal(profd_sampler_choose("perf", pyspy, &k, &err), -1);
    assert_string_equal(err.code, PROFD_E_INVALID);

    /* By name on PATH. */
    char *old = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin");
    char path[2048], bin[1024];
    snprintf(bin, sizeof bin, "%s", pyspy);
    *strrchr(bin, '/') = '\0';
    snprintf(path, sizeof path, "/nonexistent:%s:/usr/bin", bin);
    setenv("PATH", path, 1);
    assert_int_equal(profd_sampler_choose("py-spy", "py-spy", &k, &err), 0);
    assert_int_equal(k, PROFD_SAMPLER_PYSPY);
    char resolved[1024];
    assert_int_equal(profd_sampler_resolve("py-spy", resolved, sizeof resolved), 0);
    assert_string_equal(resolved, pyspy);
    setenv("PATH", "/nonexistent", 1);
    assert_int_equal(profd_sampler_choose("auto", "py-spy", &k, &err), 0);
    assert_int_equal(k, PROFD_SAMPLER_BUILTIN);
    setenv("PATH", old, 1);
    free(old);

    char desc[64], vlog[1300];
    snprintf(vlog, sizeof vlog, "%s/version.log", dir);
    setenv("PYSPY_STANDIN_LOG", vlog, 1);
    for (int i = 0; i < 3; i++) {
        profd_sampler_describe(PROFD_SAMPLER_PYSPY, pyspy, desc, sizeof desc);
        assert_string_equal(desc, "py-spy 0.4.1");
    }
    unsetenv("PYSPY_STANDIN_LOG");
    int runs = 0;
    char line[2048];
    FILE *f = fopen(vlog, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        runs += strstr(line, " --version") != NULL;
    fclose(f);
    unlink(vlog);
    assert_int_equal(runs, 1); /* run once, then cached */
    profd_sampler_describe(PROFD_SAMPLER_BUILTIN, pyspy, desc, sizeof desc);
    assert_string_equal(desc, "profd-builtin " PROFD_VERSION);
}

static void test_capture_ok(void **state)
{
    (void)state;
    setenv("PYSPY_STANDIN_LOG", log_path, 1);
    profd_capture_spec s = spec_for(target, 100, 1, 5);
    profd_capture c;
    profd_capture_result r;
    run("", &s, &c, &r);
    unsetenv("PYSPY_STANDIN_LOG");
    if (!r.ok)
        fail_msg("capture: %s", r.err.msg);
    /* py-spy records duration * rate - 1 intervals; the stand-in's main thread is always active */
    assert_int_equal(r.sample_count, 99);
    assert_true(r.wall_seconds >= 0.95 && r.wall_seconds < 3.0);
    assert_true(r.overhead_percent >= 0.0 && r.overhead_percent < 50.0);
    assert_true(r.overhead_percent == c.cpu_seconds / c.wall_seconds * 100.0);
    assert_false(r.partial);
    assert_true(c.done && gone(c.pid));
    FILE *f = fopen(out_path, "r");
    char line[1024];
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "thread (%d): MainThread;", (int)target);
    assert_contains(line, prefix);
    /* the stand-in logged the argv it was given */
    f = fopen(log_path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    char want[1600];
    snprintf(want, sizeof want,
             " record --pid %d --rate 100 --duration 1 --format raw -o %s --threads", (int)target,
             out_path);
    assert_contains(line, want);
}

static void test_overhead_from_rusage(void **state)
{
    (void)state;
    /* A 1000 Hz capture costs the sampler more CPU than a 10 Hz one. */
    double o[2];
    int rates[2] = {10, 1000};
    for (int i = 0; i < 2; i++) {
        profd_capture_spec s = spec_for(target, rates[i], 1, 5);
        profd_capture c;
        profd_capture_result r;
        run("", &s, &c, &r);
        assert_true(r.ok);
        assert_int_equal(r.sample_count, rates[i] - 1);
        o[i] = r.overhead_percent;
    }
    print_message("overhead: %.3f%% at 10 Hz, %.3f%% at 1000 Hz\n", o[0], o[1]);
    assert_true(o[1] > 0.0);
    assert_true(o[1] > o[0]);
}

static void expect_failure(const char *mode, const char *code, const char *msg, bool exact)
{
    profd_capture_spec s = spec_for(target, 100, 1, 5);
    profd_capture c;
    profd_capture_result r;
    run(mode, &s, &c, &r);
    assert_false(r.ok);
    assert_string_equal(r.err.code, code);
    if (exact)
        assert_string_equal(r.err.msg, msg);
    else
        assert_contains(r.err.msg, msg);
    assert_null(strchr(r.err.msg, '\n'));
    assert_true(gone(c.pid));
}

static void test_permission_and_not_python(void **state)
{
    (void)state;
    expect_failure("permission", PROFD_E_PERMISSION, PROFD_PERMISSION_DENIED, true);
    expect_failure("notpython", PROFD_E_SAMPLER_FAILED,
                   "Failed to find python version from target process", false);
}

/* The built-in sampler's "cannot open" and "unsupported build" lines reach the session whole,
 * as sampler_failed, even though they contain "Operation not permitted" or "Python". */
static void test_builtin_refusals(void **state)
{
    (void)state;
    const char *lines[] = {
        "Failed to profile process: cannot open /usr/bin/python3.14, mapped by pid 77 "
        "(/proc/77/root/usr/bin/python3.14: No such file or directory; /usr/bin/python3.14: No "
        "such file or directory; /proc/77/map_files/400000-422000: Operation not permitted)",
        "Failed to profile process: unsupported Python build 3.12.9 (_PyRuntime is 166688 "
        "bytes, not 3.12's 459944, and the 3.12 offsets do not hold: no thread has a Python "
        "frame)",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        FILE *f = fopen(err_path, "w");
        assert_non_null(f);
        fprintf(f, "%s\n", lines[i]);
        fclose(f);
        profd_capture c;
        memset(&c, 0, sizeof(c));
        c.spec = spec_for(target, 100, 1, 5);
        c.spec.kind = PROFD_SAMPLER_BUILTIN;
        c.done = true;
        c.status = 1 << 8; /* exited 1 */
        profd_capture_result r;
        profd_capture_result_of(&c, &r);
        assert_false(r.ok);
        assert_string_equal(r.err.code, PROFD_E_SAMPLER_FAILED);
        assert_contains(r.err.msg, "cannot be read by the built-in sampler: ");
        assert_contains(r.err.msg, lines[i]);
    }
}

static void test_no_such_process(void **state)
{
    (void)state;
    pid_t p = spawn_sleep("0");
    waitpid(p, NULL, 0);
    profd_capture_spec s = spec_for(p, 100, 1, 5);
    profd_capture c;
    profd_capture_result r;
    run("", &s, &c, &r);
    assert_false(r.ok);
    assert_string_equal(r.err.code, PROFD_E_NOT_FOUND);
    char want[64];
    snprintf(want, sizeof want, "no process %d", (int)p);
    assert_string_equal(r.err.msg, want);
}

static void test_crash(void **state)
{
    (void)state;
    expect_failure("crash", PROFD_E_SAMPLER_FAILED,
                   "sampler crashed (signal 11): Segmentation fault", false);
}

static void test_target_exits(void **state)
{
    (void)state;
    /* The target exits 0.6 s into a 2 s capture: the samples so far are kept. */
    pid_t p = spawn_sleep("0.6");
    profd_capture_spec s = spec_for(p, 100, 2, 5);
    profd_capture c;
    profd_capture_result r;
    profd_error err = {0};
    assert_int_equal(profd_capture_start(&c, &s, &err), 0);
    while (!profd_capture_step(&c)) {
        waitpid(p, NULL, WNOHANG); /* reap the target as its parent would */
        usleep(10000);
    }
    waitpid(p, NULL, 0);
    profd_capture_result_of(&c, &r);
    if (!r.ok)
        fail_msg("%s", r.err.msg);
    assert_true(r.partial);
    assert_true(r.sample_count > 30 && r.sample_count < 90);
    assert_contains(r.note, "exited after");
    assert_true(r.wall_seconds < 1.5);

    /* The same capture finished with nothing collected: target_exited. */
    p = spawn_sleep("30");
    s = spec_for(p, 100, 1, 5);
    setenv("PYSPY_STANDIN_MODE", "exit", 1);
    setenv("PYSPY_STANDIN_EXIT_AFTER", "0", 1);
    assert_int_equal(profd_capture_start(&c, &s, &err), 0);
    unsetenv("PYSPY_STANDIN_MODE");
    unsetenv("PYSPY_STANDIN_EXIT_AFTER");
    while (!profd_capture_step(&c))
        usleep(10000);
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    profd_capture_result_of(&c, &r);
    assert_false(r.ok);
    assert_int_equal(r.sample_count, 0);
    assert_string_equal(r.err.code, PROFD_E_TARGET_EXITED);
    assert_contains(r.err.msg, "exited before any samples were collected");
}

static void test_hang_is_killed_at_deadline(void **state)
{
    (void)state;
    profd_capture_spec s = spec_for(target, 100, 1, 1);
    profd_capture c;
    profd_capture_result r;
    int64_t t0 = profd_mono_ms();
    run("hang", &s, &c, &r); /* ignores SIGTERM: SIGKILL 2 s after it */
    double took = (double)(profd_mono_ms() - t0) / 1000.0;
    print_message("hung sampler (1 s + 1 s grace) reaped after %.2f s\n", took);
    assert_false(r.ok);
    assert_string_equal(r.err.code, PROFD_E_TIMEOUT);
    assert_string_equal(r.err.msg, "sampler did not finish within 1+1 s; stopped");
    assert_true(c.term_sent && c.kill_sent);
    assert_true(took >= 3.9 && took < 1 + 1 + 2 + 1.0);
    assert_true(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGKILL);
    assert_true(gone(c.pid));
}

static void test_stopped_sampler_is_killed(void **state)
{
    (void)state;
    profd_capture_spec s = spec_for(target, 100, 2, 5);
    profd_capture c;
    profd_capture_result r;
    run("stop", &s, &c, &r); /* stops itself 1 s in (half of 2 s) */
    assert_false(r.ok);
    assert_string_equal(r.err.code, PROFD_E_SAMPLER_FAILED);
    assert_string_equal(
        r.err.msg, "sampler was stopped (SIGSTOP) and was killed so the target is not left paused");
    assert_true(r.wall_seconds < 1.5);
    assert_true(c.stopped && !c.term_sent);
    assert_true(gone(c.pid));
}

static void test_missing_sampler(void **state)
{
    (void)state;
    profd_capture_spec s = spec_for(target, 100, 1, 5);
    s.pyspy = "/nonexistent/py-spy";
    profd_capture c;
    profd_error err = {0};
    assert_int_equal(profd_capture_start(&c, &s, &err), -1);
    assert_string_equal(err.code, PROFD_E_SAMPLER_MISSING);
    assert_string_equal(err.msg, PROFD_PYSPY_MISSING);

    /* Executable bit but not a program: exec itself fails in the child. */
    char bogus[1300];
    snprintf(bogus, sizeof bogus, "%s/py-spy-bogus", dir);
    FILE *f = fopen(bogus, "w");
    fputs("\x7f"
          "ELF garbage\n",
          f);
    fclose(f);
    chmod(bogus, 0755);
    s.pyspy = bogus;
    profd_error_clear(&err);
    assert_int_equal(profd_capture_start(&c, &s, &err), -1);
    assert_string_equal(err.code, PROFD_E_SAMPLER_MISSING);
    assert_string_equal(err.msg, PROFD_PYSPY_MISSING);
    assert_true(c.exec_errno != 0);
    profd_capture_result r;
    profd_capture_result_of(&c, &r);
    assert_string_equal(r.err.code, PROFD_E_SAMPLER_MISSING);

    s.kind = PROFD_SAMPLER_BUILTIN;
    s.self_exe = bogus;
    assert_int_equal(profd_capture_start(&c, &s, &err), -1);
    assert_string_equal(err.code, PROFD_E_SAMPLER_MISSING);
    assert_contains(err.msg, "built-in sampler");
    unlink(bogus);
}

static void test_cancel_keeps_partial_output(void **state)
{
    (void)state;
    profd_capture_spec s = spec_for(target, 100, 10, 5);
    profd_capture c;
    profd_capture_result r;
    profd_error err = {0};
    assert_int_equal(profd_capture_start(&c, &s, &err), 0);
    int64_t t0 = profd_mono_ms();
    while (profd_mono_ms() - t0 < 500)
        assert_false(profd_capture_step(&c));
    profd_capture_cancel(&c, PROFD_E_CANCELLED);
    profd_capture_wait(&c, &r);
    assert_false(r.ok);
    assert_string_equal(r.err.code, PROFD_E_CANCELLED);
    assert_contains(r.err.msg, "cancelled");
    assert_true(r.sample_count >= 30 && r.sample_count <= 80);
    assert_true(r.wall_seconds < 1.5);
    assert_true(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
}

/* Wait (as subreaper or parent) for pid to die; its wait status, or -1 on timeout. */
static int wait_dead(pid_t pid, int ms)
{
    int st;
    for (int i = 0; i < ms / 10; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        usleep(10000);
    }
    return -1;
}

static void test_pdeathsig_process(void **state)
{
    (void)state;
    /* A helper process starts a capture (a sampler that ignores SIGTERM) and
     * exits without waiting for it: the sampler must die with it. */
    prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphans come to us, so we can reap and see them */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t helper = fork();
    if (helper == 0) {
        profd_capture_spec s = spec_for(target, 100, 30, 5);
        profd_capture c;
        profd_error err = {0};
        setenv("PYSPY_STANDIN_MODE", "hang", 1);
        if (profd_capture_start(&c, &s, &err) != 0)
            _exit(1);
        usleep(200 * 1000);
        ssize_t w = write(fds[1], &c.pid, sizeof c.pid);
        (void)w;
        _exit(0);
    }
    close(fds[1]);
    pid_t sampler = 0;
    assert_int_equal(read(fds[0], &sampler, sizeof sampler), (ssize_t)sizeof sampler);
    close(fds[0]);
    waitpid(helper, NULL, 0);
    int st = wait_dead(sampler, 3000);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    assert_true(st != -1);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void *start_and_leave(void *arg)
{
    profd_capture *c = arg;
    profd_capture_spec s = spec_for(target, 100, 30, 5);
    profd_error err = {0};
    if (profd_capture_start(c, &s, &err) != 0)
        c->pid = -1;
    return NULL;
}

static void test_pdeathsig_thread(void **state)
{
    (void)state;
    /* PR_SET_PDEATHSIG fires when the forking *thread* exits, even though the
     * process lives on: the worker's capture thread must outlive its sampler. */
    static profd_capture c;
    pthread_t th;
    setenv("PYSPY_STANDIN_MODE", "hang", 1);
    assert_int_equal(pthread_create(&th, NULL, start_and_leave, &c), 0);
    pthread_join(th, NULL);
    unsetenv("PYSPY_STANDIN_MODE");
    assert_true(c.pid > 0);
    int st = wait_dead(c.pid, 3000);
    assert_true(st != -1);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static int setup(void **state)
{
    (void)state;
    const char *build = getenv("PROFD_BUILD_DIR");
    if (!build || !mkdtemp(dir))
        return -1;
    snprintf(pyspy, sizeof pyspy, "%s/tests/pyspy/bin/py-spy", build);
    snprintf(out_path, sizeof out_path, "%s/raw.txt", dir);
    snprintf(err_path, sizeof err_path, "%s/sampler.stderr", dir);
    snprintf(log_path, sizeof log_path, "%s/standin.log", dir);
    target = spawn_sleep("120");
    return access(pyspy, X_OK) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    kill(target, SIGKILL);
    waitpid(target, NULL, 0);
    unlink(out_path);
    unlink(err_path);
    unlink(log_path);
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argv),
        cmocka_unit_test(test_choose_and_describe),
        cmocka_unit_test(test_capture_ok),
        cmocka_unit_test(test_overhead_from_rusage),
        cmocka_unit_test(test_permission_and_not_python),
        cmocka_unit_test(test_no_such_process),
        cmocka_unit_test(test_crash),
        cmocka_unit_test(test_target_exits),
        cmocka_unit_test(test_hang_is_killed_at_deadline),
        cmocka_unit_test(test_stopped_sampler_is_killed),
        cmocka_unit_test(test_missing_sampler),
        cmocka_unit_test(test_builtin_refusals),
        cmocka_unit_test(test_cancel_keeps_partial_output),
        cmocka_unit_test(test_pdeathsig_process),
        cmocka_unit_test(test_pdeathsig_thread),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
