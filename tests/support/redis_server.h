/* redis_server.h - a throwaway redis-server for tests.
 *
 * Starts Debian's redis-server on a free loopback port in a fresh temporary
 * directory (no RDB snapshots; AOF only when asked, for restart tests), waits
 * until it answers PING, and stops it again. The server dies with the test
 * process (PR_SET_PDEATHSIG), so a crashed test leaves nothing behind. */
#ifndef PROFD_TEST_REDIS_SERVER_H
#define PROFD_TEST_REDIS_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct profd_test_redis {
    pid_t pid;
    int port;
    bool appendonly;
    char dir[256];
    char url[64]; /* redis://127.0.0.1:PORT/0 */
} profd_test_redis;

/* Path of redis-server, or NULL when it is not installed (tests skip). */
const char *profd_test_redis_binary(void);
/* 0 ok; -1 (with a message on stderr) when it could not be started. */
int profd_test_redis_start(profd_test_redis *r, bool appendonly);
/* Stop (SIGTERM, which flushes the AOF) and wait; keeps dir and port. */
void profd_test_redis_kill(profd_test_redis *r);
/* Start again on the same port and directory (data comes back from the AOF). */
int profd_test_redis_restart(profd_test_redis *r);
/* Stop and remove the directory. */
void profd_test_redis_stop(profd_test_redis *r);
/* A loopback port nobody listens on at the moment of the call. */
int profd_test_free_port(void);

#endif
