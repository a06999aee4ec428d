/* capture.c - running a sampler as a supervised child process.
 *
 * py-spy and `profd sample record` take the same argv, so one supervisor runs
 * both: fork (never a shell) and exec an argv prepared before the fork, so the
 * child only makes async-signal-safe calls. The child gets a process group of
 * its own (the supervisor signals the whole group, grandchildren included),
 * PR_SET_PDEATHSIG so it dies with the thread that forked it (checked against
 * the fork race with getppid), /dev/null on stdin and stdout, stderr into a
 * file read later to explain failures, default signal dispositions, an empty
 * signal mask, and no other descriptors. A close-on-exec pipe reports a failed
 * exec (with its errno) before profd_capture_start returns.
 *
 * profd_capture_step never blocks: waitid(WNOWAIT) looks at the child first so
 * its group can be killed while the pid is still reserved (a zombie), then
 * wait4 reaps it and collects its rusage. A stopped sampler is killed at once,
 * because py-spy stopped in the middle of a sample can leave the target
 * paused. Past duration + grace the group gets SIGTERM, and SIGKILL 2 s later.
 * Cancelling sends SIGINT first: py-spy (like `profd sample`) writes what it
 * has collected on Ctrl-C, but dies without output on SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profd/sampler.h"

#define KILL_AFTER_TERM_MS 2000
#define CANCEL_GRACE_MS 3000
#define WAIT_STEP_US 20000

static int push(char **argv, int *argc, int max, char *s)
{
    if (*argc + 1 >= max)
        return -1;
    argv[(*argc)++] = s;
    argv[*argc] = NULL;
    return 0;
}

/* Copy a number into buf and return it, or NULL when buf is full. */
static char *number(char **buf, size_t *left, long v)
{
    int n = snprintf(*buf, *left, "%ld", v);
    if (n < 0 || (size_t)n >= *left)
        return NULL;
    char *s = *buf;
    *buf += n + 1;
    *left -= (size_t)n + 1;
    return s;
}

int profd_capture_memory_extra_s(int duration_s)
{
    int baseline =
        duration_s < PROFD_MEMORY_BASELINE_MAX_S ? duration_s : PROFD_MEMORY_BASELINE_MAX_S;
    return baseline + PROFD_MEMORY_ATTACH_TIMEOUT_S + PROFD_MEMORY_FINISH_TIMEOUT_S;
}

int profd_capture_argv(const profd_capture_spec *s, char **argv, int max, char *buf, size_t buflen)
{
    int argc = 0;
    char *pid = number(&buf, &buflen, s->pid), *rate = number(&buf, &buflen, s->rate_hz);
    char *dur = number(&buf, &buflen, s->duration_s);
    if (!pid || !rate || !dur || max < 1)
        return -1;
    argv[0] = NULL;
    int bad = 0;
    if (s->kind == PROFD_SAMPLER_MEMORY) {
        char *frames = number(&buf, &buflen, s->memory_frames > 0 ? s->memory_frames : 64);
        if (!frames)
            return -1;
        char *mem[] = {(char *)s->self_exe, "sample", "memory",   "--pid", pid,
                       "--duration",        dur,      "--frames", frames,  "-o",
                       (char *)s->out_path};
        for (size_t i = 0; i < sizeof mem / sizeof mem[0]; i++)
            bad |= push(argv, &argc, max, mem[i]);
        if (s->summary_path) {
            bad |= push(argv, &argc, max, "--summary");
            bad |= push(argv, &argc, max, (char *)s->summary_path);
        }
        return bad ? -1 : argc;
    }
    if (s->kind == PROFD_SAMPLER_PYSPY) {
        bad |= push(argv, &argc, max, (char *)(s->pyspy ? s->pyspy : "py-spy"));
    } else {
        bad |= push(argv, &argc, max, (char *)s->self_exe);
        bad |= push(argv, &argc, max, "sample");
    }
    char *fixed[] = {"record",   "--pid", pid,  "--rate",           rate, "--duration", dur,
                     "--format", "raw",   "-o", (char *)s->out_path};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        bad |= push(argv, &argc, max, fixed[i]);
    const profd_options *o = &s->options;
    if (o->nonblocking)
        bad |= push(argv, &argc, max, "--nonblocking");
    if (o->idle)
        bad |= push(argv, &argc, max, "--idle");
    if (o->gil)
        bad |= push(argv, &argc, max, "--gil");
    if (o->subprocesses)
        bad |= push(argv, &argc, max, "--subprocesses");
    if (o->native)
        bad |= push(argv, &argc, max, "--native");
    /* One root frame per thread ("thread (TID): NAME"), so threads stay apart. */
    bad |= push(argv, &argc, max, "--threads");
    /* profd's own flag (py-spy has none): snapshots for the console's live view */
    if (s->kind == PROFD_SAMPLER_BUILTIN)
        bad |= push(argv, &argc, max, "--live");
    return bad ? -1 : argc;
}

/* Move a descriptor to >= 3 (close-on-exec) so dup2 onto 0..2 cannot clobber it. */
static int high_fd(int fd)
{
    if (fd < 0 || fd >= 3)
        return fd;
    int h = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return h;
}

typedef struct child_setup {
    const char *exe;
    char **argv;
    int devnull, errfd, report; /* report: write end of the exec-error pipe */
    pid_t parent;
    int maxfd;
} child_setup;

/* Between fork and exec: async-signal-safe calls only. */
static void child_exec(const child_setup *cs)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != cs->parent) /* the forking thread's process died before prctl */
        _exit(127);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(cs->devnull, 0) < 0 || dup2(cs->devnull, 1) < 0 || dup2(cs->errfd, 2) < 0)
        _exit(127);
    int report = cs->report;
    if (report != 3) {
        report = dup3(cs->report, 3, O_CLOEXEC);
        if (report < 0)
            _exit(127);
    }
    if (close_range(4, ~0U, 0) != 0)
        for (int fd = 4; fd < cs->maxfd; fd++)
            close(fd);
    execv(cs->exe, cs->argv);
    int e = errno;
    ssize_t w = write(report, &e, sizeof e);
    (void)w;
    _exit(127);
}

static void missing(const profd_capture *c, int e, profd_error *err)
{
    if (c->spec.kind == PROFD_SAMPLER_PYSPY)
        profd_error_set(err, PROFD_E_SAMPLER_MISSING, "%s", PROFD_PYSPY_MISSING);
    else
        profd_error_set(err, PROFD_E_SAMPLER_MISSING,
                        "the built-in sampler (%.200s) could not be run: %s", c->exe,
                        e ? strerror(e) : "not found");
}

static int open_files(const profd_capture_spec *spec, int *devnull, int *errfd, int report[2],
                      profd_error *err)
{
    *devnull = high_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
    *errfd = high_fd(open(spec->stderr_path ? spec->stderr_path : "/dev/null",
                          O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    report[0] = report[1] = -1;
    if (pipe2(report, O_CLOEXEC) == 0) {
        report[0] = high_fd(report[0]);
        report[1] = high_fd(report[1]);
    }
    if (*devnull >= 0 && *errfd >= 0 && report[0] >= 0 && report[1] >= 0)
        return 0;
    int e = errno;
    profd_error_set(err, PROFD_E_SAMPLER_FAILED, "cannot prepare the sampler's files (%s): %s",
                    spec->stderr_path ? spec->stderr_path : "/dev/null", strerror(e));
    return -1;
}

static void close_all(int a, int b, int c, int d)
{
    int fds[] = {a, b, c, d};
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* The child's exec status: 0 when it ran, else the errno of the failed exec. */
static int read_exec_report(int fd)
{
    int e = 0;
    ssize_t n;
    while ((n = read(fd, &e, sizeof e)) < 0 && errno == EINTR)
        ;
    return n == (ssize_t)sizeof e ? (e ? e : ENOEXEC) : 0;
}

static pid_t spawn(profd_capture *c, char **argv, profd_error *err)
{
    int devnull, errfd, report[2];
    if (open_files(&c->spec, &devnull, &errfd, report, err) != 0) {
        close_all(devnull, errfd, report[0], report[1]);
        return -1;
    }
    struct rlimit rl;
    child_setup cs = {c->exe, argv, devnull, errfd, report[1], getpid(), 65536};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 65536)
        cs.maxfd = (int)rl.rlim_cur;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* no handler may run in the child */
    pid_t pid = fork();
    if (pid == 0)
        child_exec(&cs);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close_all(devnull, errfd, report[1], -1);
    if (pid < 0) {
        close(report[0]);
        profd_error_set(err, PROFD_E_SAMPLER_FAILED, "cannot start the sampler: fork: %s",
                        strerror(fork_errno));
        return -1;
    }
    setpgid(pid, pid); /* also in the parent, so the group exists before any kill */
    c->exec_errno = read_exec_report(report[0]);
    close(report[0]);
    return pid;
}

int profd_capture_start(profd_capture *c, const profd_capture_spec *spec, profd_error *err)
{
    memset(c, 0, sizeof *c);
    c->spec = *spec;
    c->pid = -1;
    c->started_mono_ms = profd_mono_ms();
    const char *name =
        spec->kind == PROFD_SAMPLER_PYSPY ? (spec->pyspy ? spec->pyspy : "py-spy") : spec->self_exe;
    char *argv[32];
    if (profd_sampler_resolve(name, c->exe, sizeof c->exe) != 0) {
        profd_strlcpy(c->exe, name ? name : "", sizeof c->exe);
        c->done = true;
        missing(c, ENOENT, err);
        return -1;
    }
    if (profd_capture_argv(spec, argv, 32, c->argv_buf, sizeof c->argv_buf) < 0) {
        c->done = true;
        profd_error_set(err, PROFD_E_SAMPLER_FAILED, "sampler command line too long");
        return -1;
    }
    if (spec->out_path)
        unlink(spec->out_path); /* a stale file must not pass for this capture's output */
    c->started_mono_ms = profd_mono_ms();
    int extra =
        spec->kind == PROFD_SAMPLER_MEMORY ? profd_capture_memory_extra_s(spec->duration_s) : 0;
    c->deadline_mono_ms =
        c->started_mono_ms + (int64_t)(spec->duration_s + extra + spec->grace_s) * 1000;
    c->pid = spawn(c, argv, err);
    if (c->pid < 0) {
        c->done = true;
        return -1;
    }
    if (c->exec_errno) {
        int st;
        while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
            ;
        c->status = st;
        c->done = true;
        missing(c, c->exec_errno, err);
        return -1;
    }
    return 0;
}

static void reap(profd_capture *c, int64_t now)
{
    /* The child is a zombie: its pid (and so its group id) cannot be reused yet. */
    kill(-c->pid, SIGKILL); /* grandchildren, if any */
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(c->pid, &st, 0, &ru) < 0 && errno == EINTR)
        ;
    c->status = st;
    c->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    c->wall_seconds = (double)(now - c->started_mono_ms) / 1000.0;
    c->done = true;
}

bool profd_capture_step(profd_capture *c)
{
    if (c->done)
        return true;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int64_t now = profd_mono_ms();
    int r = waitid(P_PID, (id_t)c->pid, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT);
    if (r == 0 && si.si_pid == c->pid) {
        if (si.si_code != CLD_STOPPED && si.si_code != CLD_TRAPPED) {
            reap(c, now);
            return true;
        }
        if (!c->stopped) { /* a stopped sampler may hold the target paused: kill it now */
            c->stopped = true;
            c->kill_sent = true;
            c->killed_mono_ms = now;
            kill(-c->pid, SIGKILL);
            kill(c->pid, SIGKILL);
        }
        return false;
    }
    if (r < 0 && errno == ECHILD) { /* reaped elsewhere: judge by its output alone */
        c->done = true;
        c->status = 0;
        c->wall_seconds = (double)(now - c->started_mono_ms) / 1000.0;
        return true;
    }
    if (!c->term_sent && now >= c->deadline_mono_ms) {
        c->term_sent = true;
        c->killed_mono_ms = now;
        kill(-c->pid, SIGTERM);
    } else if (c->term_sent && !c->kill_sent && now >= c->killed_mono_ms + KILL_AFTER_TERM_MS) {
        c->kill_sent = true;
        kill(-c->pid, SIGKILL);
    }
    return false;
}

void profd_capture_cancel(profd_capture *c, const char *code)
{
    if (c->done || c->pid <= 0)
        return;
    if (!c->cancel_code)
        c->cancel_code = code ? code : PROFD_E_CANCELLED;
    kill(-c->pid, SIGINT); /* Ctrl-C: the sampler writes what it has */
    int64_t soon = profd_mono_ms() + CANCEL_GRACE_MS;
    if (soon < c->deadline_mono_ms)
        c->deadline_mono_ms = soon;
}

void profd_capture_wait(profd_capture *c, profd_capture_result *r)
{
    while (!profd_capture_step(c))
        usleep(WAIT_STEP_US);
    profd_capture_result_of(c, r);
}
