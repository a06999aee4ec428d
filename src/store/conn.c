/* conn.c - the Redis connection under the store: our own TCP socket, hiredis
 * only for what it is good at (formatting commands, parsing replies).
 *
 * Why not redisContext: hiredis 0.14 has no TLS, and its blocking API hides
 * the socket. Owning the socket means a TLS transport (the reliability work's
 * rediss://) replaces io_send/io_recv below and nothing else; the store above
 * never sees the difference.
 *
 * Failure model: every wait is bounded by the timeout (2 s by default), so a
 * dead or hung Redis costs one bounded failure, never a hang. Any I/O or
 * protocol error drops the socket; the next call reconnects (with AUTH and
 * SELECT). A failure mid-pipeline leaves the outcome of the commands sent
 * unknown, which is why the store makes each write idempotent or atomic (Lua).
 * The password is sent in AUTH and never copied into any message.
 *
 * TLS (rediss://): tls.c's SSL_read/SSL_write stand in for recv/send in
 * io_recv/io_send, and a TLS handshake follows the TCP connect. TLS may need
 * to read to write (and the reverse), so the I/O functions record which way
 * to poll (want) and the waits below use it. */
#include "conn.h"
#include "tls.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct profd_conn {
    profd_redis_url url;
    char addr[300];
    int timeout_ms;
    int fd; /* -1: not connected */
    redisReader *reader;
    SSL_CTX *tls_ctx; /* rediss://: set by store__conn_use_tls */
    SSL *ssl;         /* the TLS session on fd */
    short want;       /* after EAGAIN from TLS: POLLIN or POLLOUT */
    char tls_why[200];
};

/* ---- URL -------------------------------------------------------------- */

static int hexdig(int c)
{
    if (isdigit(c))
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode src[0..n) into dst; -1 if it does not fit or is malformed. */
static int pct_decode(const char *src, size_t n, char *dst, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int h = hexdig((unsigned char)src[i + 1]), l = hexdig((unsigned char)src[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (j + 1 >= size)
            return -1;
        dst[j++] = (char)c;
    }
    dst[j] = '\0';
    return 0;
}

static int parse_userinfo(const char *s, size_t n, profd_redis_url *u, profd_error *err)
{
    const char *colon = memchr(s, ':', n);
    int rc = 0;
    if (colon) {
        rc = pct_decode(s, (size_t)(colon - s), u->user, sizeof u->user);
        if (rc == 0)
            rc =
                pct_decode(colon + 1, n - (size_t)(colon - s) - 1, u->password, sizeof u->password);
    } else {
        rc = pct_decode(s, n, u->password, sizeof u->password);
    }
    if (rc != 0)
        profd_error_set(err, NULL,
                        "PROFD_REDIS_URL: the user or password part is malformed "
                        "or too long (percent-encode special characters)");
    return rc;
}

static int parse_port_db(const char *p, profd_redis_url *u, profd_error *err)
{
    char *end;
    if (*p == ':') {
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535) {
            profd_error_set(err, NULL, "PROFD_REDIS_URL: the port must be 1..65535");
            return -1;
        }
        u->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        long db = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || db < 0 || db > 1000000) {
            profd_error_set(err, NULL,
                            "PROFD_REDIS_URL: the database after '/' must be a "
                            "number such as 0");
            return -1;
        }
        u->db = (int)db;
        return 0;
    }
    if (*p == '/')
        p++;
    if (*p) {
        profd_error_set(err, NULL,
                        "PROFD_REDIS_URL: unexpected text after host:port (expected "
                        "redis://[:password@]host:port[/db])");
        return -1;
    }
    return 0;
}

static int parse_hostport(const char *p, profd_redis_url *u, profd_error *err)
{
    const char *end;
    if (*p == '[') {
        end = strchr(p, ']');
        if (!end) {
            profd_error_set(err, NULL, "PROFD_REDIS_URL: unclosed '[' in the IPv6 host");
            return -1;
        }
        p++;
    } else {
        end = p + strcspn(p, ":/");
    }
    size_t n = (size_t)(end - p);
    if (n == 0 || n >= sizeof u->host) {
        profd_error_set(err, NULL, "PROFD_REDIS_URL: missing or too long host name");
        return -1;
    }
    memcpy(u->host, p, n);
    u->host[n] = '\0';
    return parse_port_db(*end == ']' ? end + 1 : end, u, err);
}

int store__redis_url_parse(const char *url, profd_redis_url *u, profd_error *err)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    const char *p;
    if (strncmp(url, "redis://", 8) == 0) {
        p = url + 8;
    } else if (strncmp(url, "rediss://", 9) == 0) {
        p = url + 9;
        u->tls = 1;
    } else {
        profd_error_set(err, NULL,
                        "PROFD_REDIS_URL must start with redis:// or rediss:// (TLS) "
                        "(redis://[:password@]host:port[/db]) or be 'memory'");
        return -1;
    }
    const char *at = strrchr(p, '@');
    if (at) {
        if (parse_userinfo(p, (size_t)(at - p), u, err) != 0)
            return -1;
        p = at + 1;
    }
    return parse_hostport(p, u, err);
}

/* ---- commands ------------------------------------------------------------ */

void store__cmd_init(store__cmd *c, const char *name)
{
    c->argc = 0;
    store__cmd_str(c, name);
}

void store__cmd_buf(store__cmd *c, const char *s, size_t len)
{
    if (c->argc >= STORE__CMD_MAX_ARGS)
        abort(); /* a programming error: commands are built from fixed code */
    c->argv[c->argc] = s;
    c->len[c->argc++] = len;
}

void store__cmd_str(store__cmd *c, const char *s)
{
    store__cmd_buf(c, s, strlen(s));
}

void store__cmd_num(store__cmd *c, long long v)
{
    int i = c->argc;
    int n = snprintf(c->nums[i], sizeof c->nums[i], "%lld", v);
    store__cmd_buf(c, c->nums[i], (size_t)n);
}

/* ---- transport (the place TLS slots in) ------------------------------------ */

int store__conn_wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - profd_mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = ev};
        int r = poll(&p, 1, (int)left);
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

static ssize_t io_send(profd_conn *c, const char *buf, size_t len)
{
    c->want = POLLOUT;
    if (c->ssl)
        return store__tls_write(c->ssl, buf, len, &c->want, c->tls_why, sizeof c->tls_why);
    return send(c->fd, buf, len, MSG_NOSIGNAL);
}

static ssize_t io_recv(profd_conn *c, char *buf, size_t len)
{
    c->want = POLLIN;
    if (c->ssl)
        return store__tls_read(c->ssl, buf, len, &c->want, c->tls_why, sizeof c->tls_why);
    return recv(c->fd, buf, len, 0);
}

static void drop(profd_conn *c)
{
    store__tls_close(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->reader)
        redisReaderFree(c->reader);
    c->reader = NULL;
}

static int fail(profd_conn *c, profd_error *err, const char *reason)
{
    drop(c);
    profd_error_set(err, NULL, "redis%s at %s: %s", c->tls_ctx ? " (TLS)" : "", c->addr, reason);
    return -1;
}

static int fail_errno(profd_conn *c, profd_error *err, int e)
{
    char reason[256];
    if (e == EPROTO && c->ssl && c->tls_why[0])
        snprintf(reason, sizeof reason, "TLS error: %s", c->tls_why);
    else
        snprintf(reason, sizeof reason, "%s", strerror(e));
    reason[0] = (char)tolower((unsigned char)reason[0]);
    return fail(c, err, reason);
}

static int send_all(profd_conn *c, const char *buf, size_t len, int64_t deadline, profd_error *err)
{
    while (len > 0) {
        ssize_t n = io_send(c, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return fail_errno(c, err, errno);
        int w = store__conn_wait_fd(c->fd, c->want, deadline);
        if (w == 0)
            return fail(c, err, "timed out sending a command");
        if (w < 0)
            return fail_errno(c, err, errno);
    }
    return 0;
}

/* Read until the reader yields one reply. */
static int read_reply(profd_conn *c, redisReply **out, int64_t deadline, profd_error *err)
{
    for (;;) {
        void *r = NULL;
        if (redisReaderGetReply(c->reader, &r) != REDIS_OK) {
            char reason[200];
            snprintf(reason, sizeof reason, "protocol error: %s", c->reader->errstr);
            return fail(c, err, reason);
        }
        if (r) {
            *out = r;
            return 0;
        }
        char buf[16384];
        ssize_t n = io_recv(c, buf, sizeof buf);
        if (n > 0) {
            redisReaderFeed(c->reader, buf, (size_t)n);
            continue;
        }
        if (n == 0)
            return fail(c, err, "connection closed by the server");
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return fail_errno(c, err, errno);
        int w = store__conn_wait_fd(c->fd, c->want, deadline);
        if (w == 0)
            return fail(c, err, "timed out waiting for a reply");
        if (w < 0)
            return fail_errno(c, err, errno);
    }
}

/* ---- connecting ------------------------------------------------------------ */

static int connect_one(const struct addrinfo *ai, int64_t deadline, int *err_out)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        *err_out = errno;
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        *err_out = errno;
        close(fd);
        return -1;
    }
    int w = store__conn_wait_fd(fd, POLLOUT, deadline), so = 0;
    socklen_t sl = sizeof so;
    if (w <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0 || so != 0) {
        *err_out = w == 0 ? ETIMEDOUT : w < 0 ? errno : so;
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    return fd;
}

static int open_socket(profd_conn *c, profd_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", c->url.port);
    int rc = getaddrinfo(c->url.host, port, &hints, &res);
    if (rc != 0) {
        char reason[200];
        snprintf(reason, sizeof reason, "cannot resolve the host name (%s)", gai_strerror(rc));
        return fail(c, err, reason);
    }
    int64_t deadline = profd_mono_ms() + c->timeout_ms;
    int e = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next)
        c->fd = connect_one(ai, deadline, &e);
    freeaddrinfo(res);
    if (c->fd < 0) {
        if (e == ETIMEDOUT) {
            char reason[80];
            snprintf(reason, sizeof reason, "connection timed out after %d ms", c->timeout_ms);
            return fail(c, err, reason);
        }
        return fail_errno(c, err, e);
    }
    if (c->tls_ctx) {
        char why[300];
        c->ssl = store__tls_connect(c->tls_ctx, c->fd, c->url.host, deadline, why, sizeof why);
        if (!c->ssl)
            return fail(c, err, why);
    }
    c->reader = redisReaderCreate();
    if (!c->reader)
        return fail(c, err, "out of memory");
    return 0;
}

/* AUTH and SELECT, pipelined; over TLS also a PING, because a TLS 1.3
 * server rejects a missing client certificate only after our handshake has
 * finished: the PING brings that error to the connect, not the first write. */
static int handshake(profd_conn *c, profd_error *err)
{
    store__cmd cmds[3];
    int n = 0;
    if (c->url.password[0]) {
        store__cmd_init(&cmds[n], "AUTH");
        if (c->url.user[0])
            store__cmd_str(&cmds[n], c->url.user);
        store__cmd_str(&cmds[n++], c->url.password);
    }
    if (c->url.db) {
        store__cmd_init(&cmds[n], "SELECT");
        store__cmd_num(&cmds[n++], c->url.db);
    }
    if (c->ssl)
        store__cmd_init(&cmds[n++], "PING");
    if (n == 0)
        return 0;
    redisReply *rep[3] = {NULL, NULL, NULL};
    if (store__conn_exec(c, cmds, n, rep, err) != 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = store__conn_reply_ok(c, rep[i], err);
    store__conn_free_replies(rep, n);
    if (rc != 0)
        drop(c);
    return rc;
}

/* An idle connection owes us nothing, so anything readable on it means the
 * server closed it (a Redis restart while we were idle): reconnect now
 * instead of failing the next operation. */
static void drop_if_stale(profd_conn *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) == 0)
        return;
    /* TLS 1.3 servers send session tickets after the handshake: readable,
     * yet nothing is wrong. */
    if (c->ssl && !(p.revents & (POLLRDHUP | POLLHUP | POLLERR)) && store__tls_idle_ok(c->ssl))
        return;
    drop(c);
}

int store__conn_ensure(profd_conn *c, profd_error *err)
{
    if (c->fd >= 0)
        drop_if_stale(c);
    if (c->fd >= 0)
        return 0;
    if (open_socket(c, err) != 0)
        return -1;
    return handshake(c, err);
}

profd_conn *store__conn_new(const profd_redis_url *u, int timeout_ms)
{
    profd_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->url = *u;
    c->fd = -1;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    if (strchr(u->host, ':'))
        snprintf(c->addr, sizeof c->addr, "[%s]:%d", u->host, u->port);
    else
        snprintf(c->addr, sizeof c->addr, "%s:%d", u->host, u->port);
    return c;
}

void store__conn_free(profd_conn *c)
{
    if (!c)
        return;
    drop(c);
    if (c->tls_ctx)
        SSL_CTX_free(c->tls_ctx);
    memset(c->url.password, 0, sizeof c->url.password);
    free(c);
}

int store__conn_use_tls(profd_conn *c, const profd_redis_tls *t, profd_error *err)
{
    SSL_CTX *ctx = store__tls_ctx_new(t, err);
    if (!ctx)
        return -1;
    drop(c);
    if (c->tls_ctx)
        SSL_CTX_free(c->tls_ctx);
    c->tls_ctx = ctx;
    return 0;
}

const char *store__conn_addr(const profd_conn *c)
{
    return c->addr;
}

/* ---- pipelined execution ---------------------------------------------------- */

static char *format_all(store__cmd *cmds, int n, size_t *len_out)
{
    size_t len = 0, cap = 0;
    char *out = NULL;
    for (int i = 0; i < n; i++) {
        char *one = NULL;
        int k = redisFormatCommandArgv(&one, cmds[i].argc, cmds[i].argv, cmds[i].len);
        if (k < 0) {
            free(out);
            return NULL;
        }
        if (len + (size_t)k > cap) {
            cap = (len + (size_t)k) * 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                redisFreeCommand(one);
                free(out);
                return NULL;
            }
            out = grown;
        }
        memcpy(out + len, one, (size_t)k);
        len += (size_t)k;
        redisFreeCommand(one);
    }
    *len_out = len;
    return out;
}

void store__conn_free_replies(redisReply **replies, int n)
{
    for (int i = 0; i < n; i++) {
        if (replies[i])
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

int store__conn_exec(profd_conn *c, store__cmd *cmds, int n, redisReply **replies, profd_error *err)
{
    for (int i = 0; i < n; i++)
        replies[i] = NULL;
    if (store__conn_ensure(c, err) != 0)
        return -1;
    size_t len = 0;
    char *buf = format_all(cmds, n, &len);
    if (!buf)
        return fail(c, err, "out of memory formatting a command");
    int64_t deadline = profd_mono_ms() + c->timeout_ms;
    int rc = send_all(c, buf, len, deadline, err);
    free(buf);
    for (int i = 0; rc == 0 && i < n; i++)
        rc = read_reply(c, &replies[i], deadline, err);
    if (rc != 0)
        store__conn_free_replies(replies, n);
    return rc;
}

int store__conn_reply_ok(profd_conn *c, const redisReply *r, profd_error *err)
{
    if (r && r->type != REDIS_REPLY_ERROR)
        return 0;
    profd_error_set(err, NULL, "redis at %s: %s", c->addr, r ? r->str : "no reply");
    return -1;
}
