/* conn.h - a Redis connection of our own: URL parsing, a TCP socket with
 * timeouts, and hiredis's reply parser. Commands are batched (pipelined): one
 * write for all of them, then their replies in order.
 *
 * Not thread-safe on its own; the store serialises calls with its mutex. */
#ifndef PROFD_STORE_CONN_H
#define PROFD_STORE_CONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "profd/util.h"

typedef struct profd_redis_url {
    char host[256];
    int port;
    char user[128];
    char password[256]; /* never printed */
    int db;
    int tls; /* rediss:// */
} profd_redis_url;

/* TLS files for rediss:// (PROFD_REDIS_CA, PROFD_REDIS_CERT, PROFD_REDIS_KEY).
 * NULL or "" means: the system's CA store; no client certificate. A key
 * without a certificate is an error; a certificate without a key reads the
 * key from the certificate's file. */
typedef struct profd_redis_tls {
    const char *ca;   /* PEM file, or a hashed directory (c_rehash) */
    const char *cert; /* client certificate chain, PEM */
    const char *key;  /* its private key, PEM */
} profd_redis_tls;

/* redis:// or rediss://[[user]:password@]host[:port][/db]; 0 ok, -1 with a one-line error
 * that never contains the password. */
int store__redis_url_parse(const char *url, profd_redis_url *out, profd_error *err);

#define STORE__CMD_MAX_ARGS 24

/* One Redis command (module-internal: store__, not to be confused with the
 * profd_cmd_* subcommands of cli.h): arguments borrowed from the caller, except numbers, which are
 * formatted into the command's own buffer. */
typedef struct store__cmd {
    int argc;
    const char *argv[STORE__CMD_MAX_ARGS];
    size_t len[STORE__CMD_MAX_ARGS];
    char nums[STORE__CMD_MAX_ARGS][24];
} store__cmd;

void store__cmd_init(store__cmd *c, const char *name);
void store__cmd_str(store__cmd *c, const char *s);
void store__cmd_buf(store__cmd *c, const char *s, size_t len);
void store__cmd_num(store__cmd *c, long long v);

typedef struct profd_conn profd_conn;

profd_conn *store__conn_new(const profd_redis_url *u, int timeout_ms);
void store__conn_free(profd_conn *c);
/* Make c speak TLS (for rediss:// URLs): loads the CA and the client
 * certificate now, so a bad file is reported at startup. The server's
 * certificate is verified against the CA and the URL's host name (or IP
 * address). 0 ok, -1 with a one-line error naming the variable to fix. */
int store__conn_use_tls(profd_conn *c, const profd_redis_tls *t, profd_error *err);
/* Connect (with AUTH and SELECT) unless connected. 0 ok, -1 error. */
int store__conn_ensure(profd_conn *c, profd_error *err);
/* Send n commands in one write and read their n replies into replies[]
 * (each freed with freeReplyObject). On any I/O or protocol failure the
 * connection is dropped (the next call reconnects) and -1 is returned with
 * "redis at HOST:PORT: REASON"; no reply is left allocated. Error replies are
 * returned as replies: check them with store__conn_reply_ok. */
int store__conn_exec(profd_conn *c, store__cmd *cmds, int n, redisReply **replies,
                     profd_error *err);
/* 0 when r is not an error reply; else -1 with "redis at HOST:PORT: MSG". */
int store__conn_reply_ok(profd_conn *c, const redisReply *r, profd_error *err);
void store__conn_free_replies(redisReply **replies, int n);
/* Wait until fd is ready for ev (POLLIN/POLLOUT) or the monotonic deadline (ms)
 * passes: 1 ready, 0 timed out, -1 error (errno). The TLS layer waits with it too. */
int store__conn_wait_fd(int fd, short ev, int64_t deadline);
/* "HOST:PORT", for messages. */
const char *store__conn_addr(const profd_conn *c);

#endif
