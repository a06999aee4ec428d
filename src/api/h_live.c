/* h_live.c - GET /api/v1/monitoring/profile/{id}/live on the API's HTTP front:
 * the thin transport of live.c's events (docs/console.md).
 *
 * The session is checked first like any read (401/403/404 as JSON); then the
 * answer becomes a 200 text/event-stream (api__reply_stream, front.h
 * "Streaming") and the handler returns at once, so it does not hold a pool
 * thread. A producer thread per stream polls live.c every half second and
 * writes what it returns, sends an SSE comment after 15 s of silence so
 * proxies keep the connection, and ends after the final event, when the client
 * is gone, when the client stops reading (a full stream is closed; the client
 * resumes with Last-Event-ID), or when the API stops: profd_api_stop waits for
 * every producer (api__live_stop) before the store and blob store go away. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

#define LIVE_POLL_MS 500
#define LIVE_KEEPALIVE_MS 15000

typedef struct stream {
    profd_api *api;
    api_stream *s;
    api_live live;
} stream;

static bool wait_poll(profd_api *a)
{
    for (int i = 0; i < LIVE_POLL_MS / 100; i++) {
        if (a->stopping)
            return false;
        usleep(100 * 1000);
    }
    return !a->stopping;
}

/* One producer fewer; api__live_stop waits for none to be left. */
static void stream_gone(profd_api *a)
{
    pthread_mutex_lock(&a->live_mu);
    a->live_streams--;
    pthread_cond_broadcast(&a->live_cv);
    pthread_mutex_unlock(&a->live_mu);
}

static void *producer(void *arg)
{
    stream *st = arg;
    profd_api *a = st->api;
    profd_sb sb = {0};
    int64_t last = profd_mono_ms();
    bool go = api__stream_write(st->s, "retry: 2000\n\n", 13) == API_STREAM_OK;
    while (go) {
        sb.len = 0;
        api_live_step step = api__live_poll(&st->live, &sb);
        if (!sb.len && profd_mono_ms() - last >= LIVE_KEEPALIVE_MS)
            profd_sb_add(&sb, ": keepalive\n\n");
        if (sb.oom)
            break;
        if (sb.len) {
            if (api__stream_write(st->s, sb.s, sb.len) != API_STREAM_OK)
                break; /* gone, or not reading: it resumes with Last-Event-ID */
            last = profd_mono_ms();
        }
        if (step == API_LIVE_END)
            break;
        go = wait_poll(a);
    }
    profd_sb_free(&sb);
    api__stream_close(st->s);
    free(st);
    stream_gone(a);
    return NULL;
}

void api__handle_live(api_req *r)
{
    profd_session s;
    bool found = api__load_session(r, r->route.param, &s);
    profd_session_free(&s);
    if (!found)
        return;
    profd_api *a = r->api;
    stream *st = calloc(1, sizeof *st);
    if (!st)
        return;
    st->api = a;
    api__live_init(&st->live, a->o.store, a->o.blob, a->cfg.signed_url_ttl, r->route.param,
                   api__req_header(r, "Last-Event-ID"));
    pthread_mutex_lock(&a->live_mu);
    bool stopping = a->stopping;
    if (!stopping)
        a->live_streams++;
    pthread_mutex_unlock(&a->live_mu);
    if (stopping) {
        free(st);
        api__reply_detail(r, 503, "The API is stopping");
        return;
    }
    st->s = api__reply_stream(r, 200, "text/event-stream");
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (!st->s || pthread_create(&th, &at, producer, st) != 0) {
        if (st->s)
            api__stream_close(st->s);
        free(st);
        stream_gone(a);
    } else {
        api__reply_header(r, "X-Accel-Buffering", "no");
    }
    pthread_attr_destroy(&at);
}

void api__live_stop(profd_api *a)
{
    pthread_mutex_lock(&a->live_mu);
    a->stopping = 1;
    while (a->live_streams > 0)
        pthread_cond_wait(&a->live_cv, &a->live_mu);
    pthread_mutex_unlock(&a->live_mu);
}
