/* front.c - the HTTP/1.1 front: one epoll loop, a connection table, and a
 * small pool of handler threads (docs/http-front.md).
 *
 * Why this shape. Hostile clients cost a connection slot and a buffer, never
 * a thread: the loop thread owns every socket, reads with nonblocking
 * calls, and only a complete, well-framed request reaches a handler. So
 * clients that trickle headers, or sit idle, cannot starve anyone of
 * threads, and handlers that wait on Redis cannot stall the loop (they run
 * on the pool; the few that never block, like /healthz, run inline).
 *
 * What bounds it:
 *  - slots: max_connections in all and max_per_address per client address.
 *    A slot is freed the moment its socket is closed (there is no thread to
 *    wait for). When an address (or the table) is full, the new connection
 *    takes the slot of the oldest connection of that address (or of anyone)
 *    that is lingering, or has not delivered a complete request head yet
 *    (idle keep-alive, trickling), or else has been sending a body for more
 *    than a second. Only when none is evictable (every one has a request in
 *    a handler or a response on the way) is the newcomer refused (503). So
 *    idle or slow connections can never lock an address, or the server, out.
 *  - deadlines per connection: the whole head within header_timeout of
 *    accept (or of its first byte after a keep-alive wait), the whole body
 *    within body_timeout of the head, the next request within idle_timeout,
 *    and every response write must progress within write_timeout. A
 *    deadline closes the connection without an answer.
 *  - memory: one input buffer of API_HTTP_MAX_HEAD + 1 KiB per connection,
 *    a body of at most max_body, and the response being sent.
 *  - framing errors (parse.c) are answered 400 (413, 431, 505) with
 *    "Connection: close", and the connection is closed.
 * Closing is lingering: after the last response the write side is shut and
 * input is read and dropped for up to 2 s, so a client that sent more than
 * was read gets its answer instead of a reset.
 *
 * Threads: the loop owns the table; a request being handled belongs to its
 * pool thread until the handler returns (then a message on the mailbox and
 * an eventfd hand it back). Streams (front.h) have their own lock. What a
 * handler touches (the exchange, streams, the mailbox) is in exchange.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "front_internal.h"
#include "profd/log.h"

#define IN_CAP (API_HTTP_MAX_HEAD + 1024)
#define LINGER_MS 2000
#define TICK_MS 100

typedef enum { C_FREE, C_READ, C_HANDLER, C_WRITE, C_STREAM, C_LINGER } cstate;

typedef struct conn {
    int fd;
    cstate st;
    uint32_t gen;
    addr_key key;
    char peer[INET6_ADDRSTRLEN];
    int64_t deadline; /* monotonic ms; 0: none */
    int64_t since;    /* when this phase began: eviction takes the oldest */
    uint32_t events;
    char *in;
    size_t in_len;
    api_exchange *x;
    api_chunked ch;
    uint64_t body_left;
    bool got_byte; /* a byte of the current head arrived */
    char *out;
    size_t out_len, out_off;
    int file_fd;
    uint64_t file_left;
    off_t file_off;
    bool close_after;
    api_stream *stream;
    bool chunked_out, stream_ended;
    bool eof; /* the client shut its side: answer what was read, then close */
} conn;

/* ---- addresses ----------------------------------------------------------- */

static addr_key key_of(const struct sockaddr_storage *ss, char *text, size_t tl)
{
    addr_key k;
    memset(&k, 0, sizeof k);
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            k.b[0] = 4;
            memcpy(k.b + 1, s6->sin6_addr.s6_addr + 12, 4);
            inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, text, (socklen_t)tl);
        } else {
            k.b[0] = 6;
            memcpy(k.b + 1, &s6->sin6_addr, 16);
            inet_ntop(AF_INET6, &s6->sin6_addr, text, (socklen_t)tl);
        }
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        k.b[0] = 4;
        memcpy(k.b + 1, &s4->sin_addr, 4);
        inet_ntop(AF_INET, &s4->sin_addr, text, (socklen_t)tl);
    }
    return k;
}

static int addr_find(api_front *f, const addr_key *k)
{
    for (int i = 0; i < f->naddr; i++)
        if (memcmp(f->akeys[i].b, k->b, sizeof k->b) == 0)
            return i;
    return -1;
}

static int addr_count(api_front *f, const addr_key *k)
{
    int i = addr_find(f, k);
    return i < 0 ? 0 : f->acount[i];
}

static void addr_add(api_front *f, const addr_key *k, int d)
{
    int i = addr_find(f, k);
    if (i < 0) {
        if (d < 0)
            return;
        i = f->naddr++;
        f->akeys[i] = *k;
        f->acount[i] = 0;
    }
    f->acount[i] += d;
    if (f->acount[i] <= 0) {
        f->naddr--;
        f->akeys[i] = f->akeys[f->naddr];
        f->acount[i] = f->acount[f->naddr];
    }
}

/* ---- the mailbox and the pool -------------------------------------------- */
static void *worker_main(void *arg)
{
    api_front *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->job_mu);
        while (!f->job_len && !f->workers_stop)
            pthread_cond_wait(&f->job_cv, &f->job_mu);
        if (f->workers_stop) {
            pthread_mutex_unlock(&f->job_mu);
            return NULL;
        }
        api_exchange *x = f->jobs[f->job_head];
        f->job_head = (f->job_head + 1) % f->max;
        f->job_len--;
        pthread_mutex_unlock(&f->job_mu);
        f->o.handler(f->o.ctx, x);
        front__mb_post(f, x->slot, x->gen, false);
    }
}

/* ---- connections --------------------------------------------------------- */

#define DETACHED UINT32_MAX /* c->events: not in the epoll set */

static void set_events(api_front *f, conn *c, uint32_t ev)
{
    if (c->events == ev)
        return;
    struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)(c - f->c)};
    epoll_ctl(f->ep, c->events == DETACHED ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

/* A hang-up while a handler runs is reported at every wait: stop watching
 * until the response is ready (the write then finds the peer gone). */
static void detach(api_front *f, conn *c)
{
    if (c->events != DETACHED)
        epoll_ctl(f->ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->events = DETACHED;
}

static void close_conn(api_front *f, conn *c)
{
    epoll_ctl(f->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    addr_add(f, &c->key, -1);
    if (c->stream)
        front__stream_release(c->stream, true);
    front__x_free(c->x);
    free(c->in);
    free(c->out);
    if (c->file_fd >= 0)
        close(c->file_fd);
    uint32_t gen = c->gen + 1;
    memset(c, 0, sizeof *c);
    c->gen = gen;
    c->fd = -1;
    c->file_fd = -1;
    c->st = C_FREE;
    f->freelist[f->nfree++] = (int)(c - f->c);
    f->nconns--;
}

static void start_linger(api_front *f, conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->st = C_LINGER;
    c->since = profd_mono_ms();
    c->deadline = c->since + LINGER_MS;
    set_events(f, c, EPOLLIN | EPOLLRDHUP);
}

static const char *reason_phrase(int s)
{
    switch (s) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static void put_status(profd_sb *b, int status, const char *type, bool close)
{
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    profd_sb_addf(b, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, reason_phrase(status), date);
    if (type)
        profd_sb_addf(b, "Content-Type: %s\r\n", type);
    if (close)
        profd_sb_add(b, "Connection: close\r\n");
}

static void try_write(api_front *f, conn *c);

static void set_out(conn *c, profd_sb *b)
{
    free(c->out);
    c->out = b->s;
    c->out_len = b->len;
    c->out_off = 0;
    if (b->oom) { /* nothing sensible to send */
        free(c->out);
        c->out = NULL;
        c->out_len = 0;
        c->close_after = true;
    }
}

/* Answer a request the front refuses itself, then close. */
static void reject(api_front *f, conn *c, int status, const char *why)
{
    if (f->o.rejected)
        f->o.rejected(f->o.ctx, status, why);
    LOG_D(NULL, "http.rejected", "%s: %d %s", c->peer, status, why);
    front__x_free(c->x);
    c->x = NULL;
    profd_sb b = {0};
    char body[400];
    int n = snprintf(body, sizeof body, "{\"detail\":\"%s\"}", why);
    put_status(&b, status, "application/json", true);
    /* like every handler answer (docs/console.md, "Security headers") */
    profd_sb_add(&b, "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
    profd_sb_addf(&b, "Content-Length: %d\r\n\r\n%s", n, body);
    c->close_after = true;
    set_out(c, &b);
    c->st = C_WRITE;
    c->since = profd_mono_ms();
    c->deadline = c->since + f->o.write_timeout_ms;
    try_write(f, c);
}

static void finish(api_front *f, conn *c)
{
    api_exchange *x = c->x;
    bool head_only = strcmp(x->head.method, "HEAD") == 0;
    c->close_after = c->close_after || c->eof || !x->head.keep_alive || f->stop;
    if (!x->status)
        api__respond(x, 500, "application/json", "{\"detail\":\"Internal Server Error\"}", 34);
    profd_sb b = {0};
    if (x->stream) {
        c->chunked_out = x->head.minor == 1;
        if (!c->chunked_out)
            c->close_after = true;
        put_status(&b, x->status, x->type, c->close_after);
        if (c->chunked_out)
            profd_sb_add(&b, "Transfer-Encoding: chunked\r\n");
        profd_sb_addf(&b, "%s\r\n", x->headers.s ? x->headers.s : "");
        c->stream = x->stream;
        x->stream = NULL;
        set_out(c, &b);
        c->st = C_STREAM;
        if (head_only) {
            c->stream_ended = true;
            pthread_mutex_lock(&c->stream->mu);
            c->stream->gone = true;
            pthread_mutex_unlock(&c->stream->mu);
            c->chunked_out = false;
        }
        front__x_free(c->x);
        c->x = NULL;
        c->since = profd_mono_ms();
        c->deadline = c->since + f->o.write_timeout_ms;
        /* what the producer wrote meanwhile is picked up by the next wake */
        front__mb_post(f, (int)(c - f->c), c->gen, true);
        try_write(f, c);
        return;
    }
    uint64_t len = x->rfd >= 0 ? x->rsize : x->rlen;
    put_status(&b, x->status, x->type, c->close_after);
    if (!c->close_after && x->head.minor == 0)
        profd_sb_add(&b, "Connection: keep-alive\r\n");
    profd_sb_addf(&b, "%sContent-Length: %llu\r\n\r\n", x->headers.s ? x->headers.s : "",
                  (unsigned long long)len);
    if (!head_only && x->rfd < 0)
        profd_sb_addn(&b, x->rbody ? x->rbody : "", x->rlen);
    if (!head_only && x->rfd >= 0) {
        c->file_fd = x->rfd;
        c->file_left = x->rsize;
        c->file_off = 0;
        x->rfd = -1;
    }
    set_out(c, &b);
    front__x_free(c->x);
    c->x = NULL;
    c->st = C_WRITE;
    c->since = profd_mono_ms();
    c->deadline = c->since + f->o.write_timeout_ms;
    try_write(f, c);
}

static void dispatch(api_front *f, conn *c)
{
    c->st = C_HANDLER;
    c->deadline = 0;
    set_events(f, c, 0);
    api_exchange *x = c->x;
    if (x->body == NULL && x->head.body != API_BODY_NONE)
        x->body = calloc(1, 1);
    if (f->o.inline_ok && f->o.inline_ok(f->o.ctx, x)) {
        f->o.handler(f->o.ctx, x);
        finish(f, c);
        return;
    }
    pthread_mutex_lock(&f->job_mu);
    f->jobs[(f->job_head + f->job_len) % f->max] = x;
    f->job_len++;
    pthread_cond_signal(&f->job_cv);
    pthread_mutex_unlock(&f->job_mu);
}

static void back_to_read(api_front *f, conn *c);

/* Make progress on the buffered input: a head, then a body. */
static void process(api_front *f, conn *c)
{
    while (c->st == C_READ) {
        if (!c->x) {
            if (!c->in_len)
                return;
            size_t end = 0;
            api_parse_result r = api__head_end(c->in, c->in_len, &end);
            if (r == API_PARSE_MORE && c->in_len == IN_CAP)
                r = API_PARSE_HEAD_TOO_LARGE;
            if (r == API_PARSE_MORE)
                return;
            if (r == API_PARSE_BAD)
                return reject(f, c, 400, "malformed line ending (CRLF only)");
            if (r == API_PARSE_HEAD_TOO_LARGE)
                return reject(f, c, 431, "request head too large");
            api_exchange *x = calloc(1, sizeof *x);
            if (!x)
                return reject(f, c, 503, "out of memory");
            x->rfd = -1;
            x->f = f;
            x->slot = (int)(c - f->c);
            x->gen = c->gen;
            memcpy(x->peer, c->peer, sizeof x->peer);
            c->x = x;
            char why[200];
            r = api__parse_head(c->in, end, &x->head, why, sizeof why);
            memmove(c->in, c->in + end, c->in_len - end);
            c->in_len -= end;
            if (r != API_PARSE_OK)
                return reject(f, c, (int)r, why);
            if (x->head.body == API_BODY_LENGTH && x->head.length > f->o.max_body) {
                char m[80];
                snprintf(m, sizeof m, "Request body exceeds %zu bytes", f->o.max_body);
                return reject(f, c, 413, m);
            }
            if (x->head.body == API_BODY_NONE) {
                dispatch(f, c);
                return;
            }
            c->body_left = x->head.length;
            memset(&c->ch, 0, sizeof c->ch);
            c->since = profd_mono_ms();
            c->deadline = c->since + f->o.body_timeout_ms;
            if (x->head.expect_100 && x->head.minor == 1 && !c->in_len) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                ssize_t w = send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL);
                (void)w; /* best effort: a client that cannot take 25 bytes times out */
            }
        }
        api_exchange *x = c->x;
        if (!c->in_len)
            return;
        if (x->head.body == API_BODY_LENGTH) {
            size_t take = c->in_len < c->body_left ? c->in_len : (size_t)c->body_left;
            char *b = realloc(x->body, x->body_len + take + 1);
            if (!b)
                return reject(f, c, 503, "out of memory");
            memcpy(b + x->body_len, c->in, take);
            x->body_len += take;
            b[x->body_len] = '\0';
            x->body = b;
            memmove(c->in, c->in + take, c->in_len - take);
            c->in_len -= take;
            c->body_left -= take;
            if (!c->body_left)
                dispatch(f, c);
            return;
        }
        size_t used = 0;
        api_parse_result r = api__chunked_feed(&c->ch, c->in, c->in_len, &used, &x->body,
                                               &x->body_len, f->o.max_body);
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        if (r == API_PARSE_BAD)
            return reject(f, c, 400, "malformed chunked body");
        if (r == API_PARSE_BODY_TOO_LARGE) {
            char m[80];
            snprintf(m, sizeof m, "Request body exceeds %zu bytes", f->o.max_body);
            return reject(f, c, 413, m);
        }
        if (r == API_PARSE_OK)
            dispatch(f, c);
        return;
    }
}

static void back_to_read(api_front *f, conn *c)
{
    c->st = C_READ;
    c->got_byte = c->in_len > 0;
    c->since = profd_mono_ms();
    c->deadline = c->since + (c->got_byte ? f->o.header_timeout_ms : f->o.idle_timeout_ms);
    set_events(f, c, c->eof ? 0 : EPOLLIN | EPOLLRDHUP);
    process(f, c);
    if (c->st == C_READ && c->eof)
        close_conn(f, c);
}

/* The response (or the stream's latest bytes) is out. */
static void written(api_front *f, conn *c)
{
    if (c->st == C_STREAM && !c->stream_ended) {
        c->deadline = 0; /* waiting for the producer */
        set_events(f, c, EPOLLRDHUP);
        return;
    }
    if (c->stream) { /* the connection may carry another request, or stream */
        front__stream_release(c->stream, true);
        c->stream = NULL;
        c->stream_ended = c->chunked_out = false;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    if (c->close_after)
        start_linger(f, c);
    else
        back_to_read(f, c);
}

static void try_write(api_front *f, conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(f, c, EPOLLOUT);
            return;
        }
        if (n <= 0) {
            close_conn(f, c);
            return;
        }
        c->out_off += (size_t)n;
        c->deadline = profd_mono_ms() + f->o.write_timeout_ms;
    }
    while (c->file_fd >= 0 && c->file_left) {
        size_t want = c->file_left > (1u << 20) ? (1u << 20) : (size_t)c->file_left;
        ssize_t n = sendfile(c->fd, c->file_fd, &c->file_off, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(f, c, EPOLLOUT);
            return;
        }
        if (n <= 0) { /* the file shrank, or the peer is gone */
            close_conn(f, c);
            return;
        }
        c->file_left -= (uint64_t)n;
        c->deadline = profd_mono_ms() + f->o.write_timeout_ms;
    }
    if (c->file_fd >= 0) {
        close(c->file_fd);
        c->file_fd = -1;
    }
    written(f, c);
}

/* The producer wrote or closed: move its bytes into the output. */
static void stream_wake(api_front *f, conn *c)
{
    api_stream *s = c->stream;
    if (!s)
        return;
    profd_sb add = {0};
    pthread_mutex_lock(&s->mu);
    s->queued = false;
    if (s->pending.len && !c->stream_ended) {
        if (c->chunked_out)
            profd_sb_addf(&add, "%zx\r\n", s->pending.len);
        profd_sb_addn(&add, s->pending.s, s->pending.len);
        if (c->chunked_out)
            profd_sb_add(&add, "\r\n");
    }
    s->pending.len = 0;
    if (s->closed && !c->stream_ended) {
        c->stream_ended = true;
        if (c->chunked_out)
            profd_sb_add(&add, "0\r\n\r\n");
    }
    pthread_mutex_unlock(&s->mu);
    if (add.oom) {
        profd_sb_free(&add);
        close_conn(f, c);
        return;
    }
    if (add.len) {
        size_t rest = c->out_len - c->out_off;
        char *o = malloc(rest + add.len);
        if (!o) {
            profd_sb_free(&add);
            close_conn(f, c);
            return;
        }
        memcpy(o, c->out + c->out_off, rest);
        memcpy(o + rest, add.s, add.len);
        free(c->out);
        c->out = o;
        c->out_len = rest + add.len;
        c->out_off = 0;
    }
    profd_sb_free(&add);
    if (c->out_off < c->out_len || c->stream_ended) {
        c->deadline = profd_mono_ms() + f->o.write_timeout_ms;
        try_write(f, c);
    }
}

static void on_readable(api_front *f, conn *c)
{
    if (c->st == C_LINGER) {
        char junk[4096];
        for (;;) {
            ssize_t n = recv(c->fd, junk, sizeof junk, 0);
            if (n > 0)
                continue;
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return;
            close_conn(f, c); /* EOF or error: done */
            return;
        }
    }
    if (c->st == C_STREAM) { /* the client hung up (RDHUP) or sent junk */
        char junk[512];
        ssize_t n = recv(c->fd, junk, sizeof junk, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            close_conn(f, c);
        return;
    }
    if (c->st != C_READ)
        return;
    if (!c->in && !(c->in = malloc(IN_CAP))) {
        close_conn(f, c);
        return;
    }
    while (c->in_len < IN_CAP) {
        ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n == 0) { /* answer what was read, if anything */
            c->eof = true;
            break;
        }
        if (n < 0) { /* reset */
            close_conn(f, c);
            return;
        }
        if (!c->got_byte && !c->x) { /* a new head starts: its deadline */
            c->got_byte = true;
            c->deadline = profd_mono_ms() + f->o.header_timeout_ms;
        }
        c->in_len += (size_t)n;
        if (c->x) /* a body: consume as it comes */
            break;
    }
    process(f, c);
    if (c->st == C_READ && c->eof) {
        close_conn(f, c);
        return;
    }
    /* A head phase with a full buffer was rejected in process(); a body
     * phase drains the buffer each time, so reading goes on. */
}

/* ---- accept -------------------------------------------------------------- */

/* Who may lose its slot to a newcomer, best first: 0 lingering, 1 before
 * or between requests (idle keep-alive, trickling a head), 2 sending a body
 * for more than a second (a slow upload); -1 never (a request is being
 * handled or answered). */
static int evict_rank(const conn *c, int64_t now)
{
    if (c->st == C_LINGER)
        return 0;
    if (c->st == C_READ && !c->x)
        return 1;
    if (c->st == C_READ && now - c->since > 1000)
        return 2;
    return -1;
}

/* The best evictable connection (of key k, or of anyone when k is NULL):
 * lowest rank, then oldest in its phase. NULL when none. */
static conn *victim(api_front *f, const addr_key *k)
{
    conn *best = NULL;
    int best_rank = 3;
    int64_t now = profd_mono_ms();
    for (int i = 0; i < f->max; i++) {
        conn *c = &f->c[i];
        if (c->st == C_FREE || (k && memcmp(c->key.b, k->b, sizeof k->b) != 0))
            continue;
        int r = evict_rank(c, now);
        if (r < 0)
            continue;
        if (r < best_rank || (r == best_rank && c->since < best->since)) {
            best = c;
            best_rank = r;
        }
    }
    return best;
}

/* Close the connections (of key k, or all) whose client already hung up
 * but whose EOF the loop has not read yet, so their slots are free now. */
static void reap(api_front *f, const addr_key *k)
{
    for (int i = 0; i < f->max; i++) {
        conn *c = &f->c[i];
        if ((c->st != C_READ && c->st != C_LINGER) || (k && memcmp(c->key.b, k->b, sizeof k->b)))
            continue;
        char b;
        ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            if (c->st == C_READ && c->x == NULL && c->in_len == 0)
                close_conn(f, c);
            else if (c->st == C_LINGER)
                close_conn(f, c);
        }
    }
}

/* A victim this young is more likely a client that has not had time to
 * send than a slow one: first look for slots of clients that already left
 * (reap costs a recv per connection, so it is not done for old victims). */
static bool young(api_front *f, const conn *v)
{
    (void)f;
    return !v || (v->st != C_LINGER && profd_mono_ms() - v->since < 1000);
}

static void refuse(int fd)
{
    static const char r[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                            "Connection: close\r\nContent-Length: 35\r\n\r\n"
                            "{\"detail\":\"too many connections\"}\r\n";
    ssize_t w = send(fd, r, sizeof r - 1, MSG_NOSIGNAL);
    (void)w;
    close(fd);
}

static void on_accept(api_front *f)
{
    bool reaped = false; /* at most one reap per wake-up: it costs a recv a connection */
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(f->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                LOG_W(NULL, "http.accept", "accept: %s; pausing for %d ms", strerror(errno),
                      TICK_MS);
                epoll_ctl(f->ep, EPOLL_CTL_DEL, f->lfd, NULL);
                f->accept_paused_until = profd_mono_ms() + TICK_MS;
            }
            return;
        }
        char text[INET6_ADDRSTRLEN] = "?";
        addr_key k = key_of(&ss, text, sizeof text);
        const char *why = NULL;
        if (addr_count(f, &k) >= f->o.max_per_address && !reaped && young(f, victim(f, &k))) {
            reap(f, &k);
            reaped = true;
        }
        if (addr_count(f, &k) >= f->o.max_per_address) {
            conn *v = victim(f, &k);
            if (v)
                close_conn(f, v);
            else
                why = "per-address connection limit";
        }
        if (!why && f->nconns >= f->max && !reaped && young(f, victim(f, NULL))) {
            reap(f, NULL);
            reaped = true;
        }
        if (!why && f->nconns >= f->max) {
            conn *v = victim(f, NULL);
            if (v)
                close_conn(f, v);
            else
                why = "connection limit";
        }
        if (why) {
            if (f->o.rejected)
                f->o.rejected(f->o.ctx, 503, why);
            LOG_D(NULL, "http.refused", "%s: %s", text, why);
            refuse(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int slot = f->freelist[--f->nfree];
        conn *c = &f->c[slot];
        uint32_t gen = c->gen;
        memset(c, 0, sizeof *c);
        c->gen = gen;
        c->fd = fd;
        c->file_fd = -1;
        c->key = k;
        memcpy(c->peer, text, sizeof c->peer);
        c->st = C_READ;
        c->since = profd_mono_ms();
        c->deadline = c->since + f->o.header_timeout_ms;
        c->events = EPOLLIN | EPOLLRDHUP;
        struct epoll_event e = {.events = c->events, .data.u32 = (uint32_t)slot};
        f->nconns++;
        addr_add(f, &k, +1);
        if (epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &e) < 0)
            close_conn(f, c);
    }
}

/* ---- the loop ------------------------------------------------------------ */

#define LISTEN_TAG UINT32_MAX
#define EVENT_TAG (UINT32_MAX - 1)

static void on_mail(api_front *f)
{
    uint64_t v;
    ssize_t r = read(f->efd, &v, sizeof v);
    (void)r;
    pthread_mutex_lock(&f->mb_mu);
    int n = f->mb_len;
    msg *m = n ? malloc((size_t)n * sizeof *m) : NULL;
    if (m)
        memcpy(m, f->mb, (size_t)n * sizeof *m);
    else
        n = 0;
    f->mb_len = 0;
    pthread_mutex_unlock(&f->mb_mu);
    for (int i = 0; i < n; i++) {
        conn *c = &f->c[m[i].slot];
        if (c->st == C_FREE || c->gen != m[i].gen)
            continue;
        if (!m[i].stream && c->st == C_HANDLER)
            finish(f, c);
        else if (m[i].stream && c->st == C_STREAM)
            stream_wake(f, c);
    }
    free(m);
}

static void tick(api_front *f)
{
    int64_t now = profd_mono_ms();
    for (int i = 0; i < f->max; i++) {
        conn *c = &f->c[i];
        if (c->st != C_FREE && c->st != C_HANDLER && c->deadline && now >= c->deadline) {
            LOG_D(NULL, "http.deadline", "%s: connection closed at its deadline (state %d)",
                  c->peer, (int)c->st);
            close_conn(f, c);
        }
    }
    if (f->accept_paused_until && now >= f->accept_paused_until) {
        f->accept_paused_until = 0;
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = LISTEN_TAG};
        epoll_ctl(f->ep, EPOLL_CTL_ADD, f->lfd, &e);
    }
}

static void *loop_main(void *arg)
{
    api_front *f = arg;
    struct epoll_event ev[128];
    int64_t last_tick = profd_mono_ms();
    while (!f->stop) {
        int n = epoll_wait(f->ep, ev, 128, TICK_MS);
        bool accept_now = false;
        for (int i = 0; i < n; i++) {
            uint32_t tag = ev[i].data.u32;
            if (tag == LISTEN_TAG) { /* after this batch's hang-ups free their slots */
                accept_now = true;
                continue;
            }
            if (tag == EVENT_TAG) {
                on_mail(f);
                continue;
            }
            conn *c = &f->c[tag];
            if (c->st == C_FREE)
                continue;
            if (c->st == C_HANDLER) {
                detach(f, c);
                continue;
            }
            uint32_t e = ev[i].events;
            if ((e & EPOLLOUT) && (c->st == C_WRITE || c->st == C_STREAM))
                try_write(f, c);
            else if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                if ((e & (EPOLLHUP | EPOLLERR)) && c->st != C_HANDLER && !(e & EPOLLIN))
                    close_conn(f, c);
                else
                    on_readable(f, c);
            }
        }
        if (accept_now)
            on_accept(f);
        int64_t now = profd_mono_ms();
        if (now - last_tick >= TICK_MS) {
            last_tick = now;
            tick(f);
        }
    }
    return NULL;
}

/* ---- start and stop ------------------------------------------------------ */

int api__resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *sl, profd_error *err)
{
    char host[256], port[16];
    const char *colon = strrchr(listen, ':');
    if (!colon || strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof port ||
        (size_t)(colon - listen) >= sizeof host) {
        profd_error_set(err, NULL, "PROFD_LISTEN must be HOST:PORT, got '%s'", listen);
        return -1;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    snprintf(port, sizeof port, "%s", colon + 1);
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    int rc = getaddrinfo(*h ? h : NULL, port, &hints, &res);
    if (rc != 0 || !res) {
        profd_error_set(err, NULL, "PROFD_LISTEN %s: %s", listen, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int open_listener(api_front *f, profd_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (api__resolve(f->o.listen, &ss, &sl, err) < 0)
        return -1;
    f->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (f->lfd >= 0)
        setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(f->lfd, 4096) < 0) {
        profd_error_set(
            err, NULL,
            "cannot listen on %s: %s (is the port taken, or the address not this host's?)",
            f->o.listen, strerror(errno));
        return -1;
    }
    struct sockaddr_storage b;
    socklen_t bl = sizeof b;
    getsockname(f->lfd, (struct sockaddr *)&b, &bl);
    f->port = ntohs(b.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&b)->sin6_port
                                            : ((struct sockaddr_in *)&b)->sin_port);
    return 0;
}

static void defaults(api_front_opts *o)
{
    if (o->max_connections <= 0)
        o->max_connections = 1024;
    if (o->max_per_address <= 0)
        o->max_per_address = 64;
    if (o->header_timeout_ms <= 0)
        o->header_timeout_ms = 10000;
    if (o->body_timeout_ms <= 0)
        o->body_timeout_ms = 30000;
    if (o->idle_timeout_ms <= 0)
        o->idle_timeout_ms = 15000;
    if (o->write_timeout_ms <= 0)
        o->write_timeout_ms = 15000;
    if (o->workers <= 0)
        o->workers = 8;
    if (o->max_body == 0)
        o->max_body = 64 * 1024;
}

api_front *api__front_start(const api_front_opts *o, profd_error *err)
{
    api_front *f = calloc(1, sizeof *f);
    if (!f) {
        profd_error_set(err, NULL, "out of memory");
        return NULL;
    }
    f->o = *o;
    defaults(&f->o);
    f->lfd = f->ep = f->efd = -1;
    f->max = f->o.max_connections;
    pthread_mutex_init(&f->job_mu, NULL);
    pthread_cond_init(&f->job_cv, NULL);
    pthread_mutex_init(&f->mb_mu, NULL);
    f->c = calloc((size_t)f->max, sizeof *f->c);
    f->freelist = calloc((size_t)f->max, sizeof *f->freelist);
    f->akeys = calloc((size_t)f->max, sizeof *f->akeys);
    f->acount = calloc((size_t)f->max, sizeof *f->acount);
    f->jobs = calloc((size_t)f->max, sizeof *f->jobs);
    f->workers = calloc((size_t)f->o.workers, sizeof *f->workers);
    if (!f->c || !f->freelist || !f->akeys || !f->acount || !f->jobs || !f->workers) {
        profd_error_set(err, NULL, "out of memory");
        api__front_stop(f);
        return NULL;
    }
    for (int i = 0; i < f->max; i++) {
        f->c[i].fd = f->c[i].file_fd = -1;
        f->freelist[f->nfree++] = f->max - 1 - i;
    }
    if (open_listener(f, err) < 0) {
        api__front_stop(f);
        return NULL;
    }
    f->ep = epoll_create1(EPOLL_CLOEXEC);
    f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event l = {.events = EPOLLIN, .data.u32 = LISTEN_TAG};
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = EVENT_TAG};
    if (f->ep < 0 || f->efd < 0 || epoll_ctl(f->ep, EPOLL_CTL_ADD, f->lfd, &l) < 0 ||
        epoll_ctl(f->ep, EPOLL_CTL_ADD, f->efd, &e) < 0) {
        profd_error_set(err, NULL, "epoll: %s", strerror(errno));
        api__front_stop(f);
        return NULL;
    }
    for (; f->nworkers < f->o.workers; f->nworkers++)
        if (pthread_create(&f->workers[f->nworkers], NULL, worker_main, f) != 0)
            break;
    if (f->nworkers == 0 || pthread_create(&f->loop, NULL, loop_main, f) != 0) {
        profd_error_set(err, NULL, "cannot start the HTTP threads");
        api__front_stop(f);
        return NULL;
    }
    f->loop_started = true;
    return f;
}

int api__front_port(const api_front *f)
{
    return f->port;
}

void api__front_stop(api_front *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->job_mu);
    f->workers_stop = true;
    pthread_cond_broadcast(&f->job_cv);
    pthread_mutex_unlock(&f->job_mu);
    for (int i = 0; i < f->nworkers; i++)
        pthread_join(f->workers[i], NULL);
    f->stop = 1;
    if (f->loop_started) {
        uint64_t one = 1;
        ssize_t w = write(f->efd, &one, sizeof one);
        (void)w;
        pthread_join(f->loop, NULL);
    }
    for (int i = 0; f->c && i < f->max; i++)
        if (f->c[i].st != C_FREE)
            close_conn(f, &f->c[i]);
    if (f->lfd >= 0)
        close(f->lfd);
    if (f->ep >= 0)
        close(f->ep);
    if (f->efd >= 0)
        close(f->efd);
    pthread_mutex_destroy(&f->job_mu);
    pthread_cond_destroy(&f->job_cv);
    pthread_mutex_destroy(&f->mb_mu);
    free(f->c);
    free(f->freelist);
    free(f->akeys);
    free(f->acount);
    free(f->jobs);
    free(f->workers);
    free(f->mb);
    free(f);
}
