/* exchange.c - the HTTP front's side that handlers see (front.h): a request's
 * accessors and its response, streamed responses, and the mailbox that gives
 * a connection back to the loop in front.c (docs/http-front.md).
 *
 * A handler owns its exchange until it returns; a stream is shared by the
 * producer and the connection (refcounted, under its own lock), and a
 * producer's write only queues bytes and posts a wake-up: the loop moves them
 * to the socket. Exchanges without a connection (api__exchange_new) let tests
 * and the fuzzer run the real handlers on parsed requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front_internal.h"
#include "profd/log.h"

/* ---- the exchange -------------------------------------------------------- */

void front__x_free(api_exchange *x)
{
    if (!x)
        return;
    api__head_free(&x->head);
    free(x->body);
    profd_sb_free(&x->headers);
    free(x->rbody);
    if (x->rfd >= 0)
        close(x->rfd);
    free(x);
}

static void x_reset_response(api_exchange *x)
{
    profd_sb_free(&x->headers);
    memset(&x->headers, 0, sizeof x->headers);
    free(x->rbody);
    x->rbody = NULL;
    x->rlen = 0;
    if (x->rfd >= 0)
        close(x->rfd);
    x->rfd = -1;
    x->rsize = 0;
    x->type = NULL;
}

const char *api__x_method(const api_exchange *x)
{
    return x->head.method;
}

const char *api__x_path(const api_exchange *x)
{
    return x->head.path;
}

const char *api__x_header(const api_exchange *x, const char *name)
{
    return api__head_field(&x->head, name);
}

const char *api__x_query(const api_exchange *x, const char *name)
{
    return api__head_arg(&x->head, name);
}

const char *api__x_body(const api_exchange *x, size_t *len)
{
    *len = x->body_len;
    return x->body;
}

const char *api__x_peer(const api_exchange *x)
{
    return x->peer;
}

int api__x_status(const api_exchange *x)
{
    return x->status;
}

void api__respond(api_exchange *x, int status, const char *type, const void *body, size_t len)
{
    if (x->stream)
        return;
    x_reset_response(x);
    x->status = status;
    x->type = type;
    x->rbody = malloc(len + 1);
    if (x->rbody) {
        memcpy(x->rbody, body, len);
        x->rlen = len;
    } else {
        x->status = 500;
    }
}

void api__respond_fd(api_exchange *x, int status, const char *type, int fd, uint64_t size)
{
    if (x->stream) {
        close(fd);
        return;
    }
    x_reset_response(x);
    x->status = status;
    x->type = type;
    x->rfd = fd;
    x->rsize = size;
}

static bool header_text_ok(const char *s, bool name)
{
    if (!*s && name)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '\r' || *p == '\n' || (name && (*p <= ' ' || *p == ':' || *p >= 0x7f)))
            return false;
    return true;
}

void api__respond_header(api_exchange *x, const char *name, const char *value)
{
    if (!x->status || !name || !value)
        return;
    if (!header_text_ok(name, true) || !header_text_ok(value, false)) {
        LOG_W(NULL, "http.header_dropped", "response header %.64s dropped: CR, LF or bad name",
              name);
        return;
    }
    profd_sb_addf(&x->headers, "%s: %s\r\n", name, value);
}

/* ---- the mailbox --------------------------------------------------------- */

void front__mb_post(api_front *f, int slot, uint32_t gen, bool stream)
{
    pthread_mutex_lock(&f->mb_mu);
    if (f->mb_len == f->mb_cap) {
        int cap = f->mb_cap ? f->mb_cap * 2 : 64;
        msg *m = realloc(f->mb, (size_t)cap * sizeof *m);
        if (m) {
            f->mb = m;
            f->mb_cap = cap;
        }
    }
    if (f->mb_len < f->mb_cap)
        f->mb[f->mb_len++] = (msg){slot, gen, stream};
    pthread_mutex_unlock(&f->mb_mu);
    uint64_t one = 1;
    ssize_t w = write(f->efd, &one, sizeof one);
    (void)w;
}

void front__stream_release(api_stream *s, bool conn_side)
{
    pthread_mutex_lock(&s->mu);
    if (conn_side)
        s->gone = true;
    else
        s->closed = true;
    int refs = --s->refs;
    pthread_mutex_unlock(&s->mu);
    if (refs == 0) {
        pthread_mutex_destroy(&s->mu);
        profd_sb_free(&s->pending);
        free(s);
    }
}

/* ---- exchanges without a connection (tests, fuzzing) ------------------- */

api_exchange *api__exchange_new(api_head *h, char *body, size_t len)
{
    api_exchange *x = calloc(1, sizeof *x);
    if (!x) {
        api__head_free(h);
        free(body);
        return NULL;
    }
    x->rfd = -1;
    x->head = *h;
    memset(h, 0, sizeof *h);
    x->body = body;
    x->body_len = len;
    profd_strlcpy(x->peer, "127.0.0.1", sizeof x->peer);
    return x;
}

const char *api__x_response(const api_exchange *x, size_t *len)
{
    *len = x->rlen;
    return x->rbody;
}

void api__exchange_free(api_exchange *x)
{
    if (x && x->stream) { /* no connection: both ends let go here */
        front__stream_release(x->stream, true);
        x->stream = NULL;
    }
    front__x_free(x);
}

/* ---- streams ------------------------------------------------------------- */

api_stream *api__respond_stream(api_exchange *x, int status, const char *type)
{
    if (x->stream)
        return x->stream;
    api_stream *s = calloc(1, sizeof *s);
    if (!s) {
        api__respond(x, 503, "application/json", "{\"detail\":\"out of memory\"}", 26);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->refs = 2;
    s->f = x->f;
    s->slot = x->slot;
    s->gen = x->gen;
    x_reset_response(x);
    x->status = status;
    x->type = type;
    x->stream = s;
    return s;
}

api_stream_result api__stream_write(api_stream *s, const void *data, size_t len)
{
    if (!s)
        return API_STREAM_GONE;
    pthread_mutex_lock(&s->mu);
    api_stream_result r = API_STREAM_OK;
    if (s->gone || s->closed || !s->f)
        r = API_STREAM_GONE;
    else if (s->pending.len + len > API_STREAM_MAX_PENDING)
        r = API_STREAM_FULL;
    else {
        profd_sb_addn(&s->pending, data, len);
        if (s->pending.oom)
            r = API_STREAM_GONE;
        else if (!s->queued) {
            s->queued = true;
            front__mb_post(s->f, s->slot, s->gen, true);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

void api__stream_close(api_stream *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    if (!s->gone && s->f && !s->queued) {
        s->queued = true;
        front__mb_post(s->f, s->slot, s->gen, true);
    }
    pthread_mutex_unlock(&s->mu);
    front__stream_release(s, false);
}
