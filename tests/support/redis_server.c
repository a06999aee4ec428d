/* redis_server.c - start and stop a throwaway redis-server for tests.
 *
 * fork/exec with an argv (no shell). Readiness is a real PING over TCP, not a
 * sleep. Ports come from the kernel (bind to port 0); if another process takes
 * the port before redis-server binds it, redis-server exits and we try again
 * with a new one. */
#include "redis_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *profd_test_redis_binary(void)
{
    static const char *const paths[] = {"/usr/bin/redis-server", "/usr/local/bin/redis-server",
                                        "/usr/sbin/redis-server"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

int profd_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static pid_t spawn(const profd_test_redis *r)
{
    char port[16], log[300];
    snprintf(port, sizeof port, "%d", r->port);
    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    const char *argv[] = {profd_test_redis_binary(),
                          "--port",
                          port,
                          "--bind",
                          "127.0.0.1",
                          "--save",
                          "",
                          "--appendonly",
                          r->appendonly ? "yes" : "no",
                          "--dir",
                          r->dir,
                          "--logfile",
                          log,
                          "--daemonize",
                          "no",
                          "--protected-mode",
                          "no",
                          NULL};
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        execv(argv[0], (char **)argv);
        _exit(127);
    }
    return pid;
}

/* 1 when the server answers +PONG. */
static int pong(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 1};
    char buf[64] = "";
    int ok = 0;
    if (fd < 0)
        return 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, "PING\r\n", 6) == 6 &&
        read(fd, buf, sizeof buf - 1) > 0)
        ok = strncmp(buf, "+PONG", 5) == 0;
    close(fd);
    return ok;
}

/* Wait up to 10 s for PING; 0 ready, -1 the server exited or never answered. */
static int wait_ready(profd_test_redis *r)
{
    long long deadline = mono_ms() + 10000;
    while (mono_ms() < deadline) {
        int st;
        if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
            r->pid = 0;
            return -1;
        }
        if (pong(r->port))
            return 0;
        usleep(20000);
    }
    return -1;
}

int profd_test_redis_restart(profd_test_redis *r)
{
    r->pid = spawn(r);
    if (r->pid > 0 && wait_ready(r) == 0)
        return 0;
    fprintf(stderr, "redis-server did not start on port %d (see %s/redis.log)\n", r->port, r->dir);
    return -1;
}

int profd_test_redis_start(profd_test_redis *r, bool appendonly)
{
    memset(r, 0, sizeof *r);
    r->appendonly = appendonly;
    if (!profd_test_redis_binary()) {
        fprintf(stderr, "redis-server is not installed (scripts/install-deps.sh adds it)\n");
        return -1;
    }
    snprintf(r->dir, sizeof r->dir, "/tmp/profd-redis-XXXXXX");
    if (!mkdtemp(r->dir)) {
        perror("mkdtemp");
        return -1;
    }
    for (int attempt = 0; attempt < 5; attempt++) {
        r->port = profd_test_free_port();
        snprintf(r->url, sizeof r->url, "redis://127.0.0.1:%d/0", r->port);
        r->pid = spawn(r);
        if (r->pid > 0 && wait_ready(r) == 0)
            return 0;
        profd_test_redis_kill(r);
    }
    fprintf(stderr, "redis-server did not start (see %s/redis.log)\n", r->dir);
    return -1;
}

void profd_test_redis_kill(profd_test_redis *r)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, SIGTERM);
    long long deadline = mono_ms() + 5000;
    int st;
    while (waitpid(r->pid, &st, WNOHANG) == 0) {
        if (mono_ms() > deadline) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, &st, 0);
            break;
        }
        usleep(10000);
    }
    r->pid = 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void profd_test_redis_stop(profd_test_redis *r)
{
    profd_test_redis_kill(r);
    if (r->dir[0])
        nftw(r->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    r->dir[0] = '\0';
}
