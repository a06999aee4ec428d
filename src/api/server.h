/* server.h - what the HTTP layer (http.c) shares with the handlers (h_*.c).
 * Handlers see an api_req and these reply functions, never the front's
 * sockets (front.h); a handler that streams uses api__reply_stream. */
#ifndef PROFD_API_SERVER_H
#define PROFD_API_SERVER_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "front.h"
#include "profd/api.h"
#include "profd/session.h"

struct profd_api {
    profd_api_opts o;
    profd_config cfg; /* a copy: the caller's may go away */
    api_front *front;
    profd_jwt_keys *keys;
    char link_key[256];
    int port;
    /* live streams (h_live.c): producers running, and the flag that ends them */
    pthread_mutex_t live_mu;
    pthread_cond_t live_cv;
    int live_streams;
    volatile int stopping;
};

typedef struct api_req {
    api_exchange *x;
    profd_api *api;
    const char *method;
    profd_route route;
    const char *body; /* NUL-terminated (borrowed from x); NULL without a body */
    size_t len;
    int64_t t0_us; /* monotonic, for the duration histogram */
    profd_jwt_claims who;
    /* The status of the answer so far (0: none yet). */
    int status;
} api_req;

/* Responses: each replaces any earlier one of the same request. */
void api__reply_body(api_req *r, int status, const char *type, const char *body, size_t len);
void api__reply_json(api_req *r, int status, json_object *o); /* takes o */
void api__reply_detail(api_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void api__reply_redirect(api_req *r, const char *location);
/* Serve an open file (the fd is taken). */
void api__reply_fd(api_req *r, int fd, uint64_t size, const char *type);
void api__reply_header(api_req *r, const char *name, const char *value);
const char *api__req_header(api_req *r, const char *name);
const char *api__req_query(api_req *r, const char *name);
/* Turn the answer into a stream (front.h, "Streaming"): status and headers
 * go out when the handler returns; write events from any thread. NULL when
 * out of memory (the answer is then a 503). */
api_stream *api__reply_stream(api_req *r, int status, const char *type);

/* The front's handler (http.c): route, authorise, run the handler, time it.
 * ctx is the profd_api. On a pool thread, or on the loop for /healthz. */
void api__request(void *ctx, api_exchange *x);

/* A session as the API shows it: public JSON with fresh links. */
json_object *api__session_json(api_req *r, profd_session *s);
/* true: found (out filled); false: answered (404, or 503 on a store error).
 * out is profd_session_free'd by the caller either way. */
bool api__load_session(api_req *r, const char *id, profd_session *out);
/* Answer with a store failure. */
void api__reply_store_error(api_req *r, const profd_error *err);

void api__handle_start(api_req *r);
void api__handle_get(api_req *r);
void api__handle_list(api_req *r);
void api__handle_cancel(api_req *r);
void api__handle_artifact(api_req *r); /* flamegraph and raw */
void api__handle_file(api_req *r);
void api__serve_object(api_req *r, const char *object, const char *type);
void api__handle_healthz(api_req *r);
void api__handle_readyz(api_req *r);
void api__handle_metrics(api_req *r);
void api__handle_alert(api_req *r);  /* h_alert.c: both alert webhooks */
void api__handle_diff(api_req *r);   /* h_diff.c */
void api__handle_export(api_req *r); /* h_diff.c: …/{id}/export/{format} */
/* h_console.c: GET / and /console/{asset}, GET /api/v1/openapi.json, the sign-in code. */
void api__handle_console(api_req *r);
void api__handle_openapi(api_req *r);
void api__handle_signin(api_req *r);
void api__handle_whoami(api_req *r);

/* live.c: the Server-Sent Events of GET …/{id}/live, transport-free. */
typedef struct api_live {
    profd_store *store;
    profd_blob *blob;
    int link_ttl_s;
    char id[PROFD_UUID_LEN + 1];
    long sent;           /* sample count of the last stacks event; -1 none */
    long progress_count; /* of the last progress event */
    int progress_status;
} api_live;
typedef enum {
    API_LIVE_WAIT, /* nothing new (out may hold nothing) */
    API_LIVE_MORE, /* events appended; the stream goes on */
    API_LIVE_END,  /* the last event appended (final, or gone): close the stream */
} api_live_step;
/* last_event_id: the request's Last-Event-ID or NULL. */
void api__live_init(api_live *l, profd_store *store, profd_blob *blob, int link_ttl_s,
                    const char *id, const char *last_event_id);
/* Read the record (and live.txt when the count moved) and append due events to out. */
PROFD_MUST_USE api_live_step api__live_poll(api_live *l, profd_sb *out);
void api__handle_live(api_req *r); /* h_live.c: the transport */
/* Stop accepting live streams and wait until every producer has ended. */
void api__live_stop(profd_api *a);

/* A file compiled into the binary (assets.c, from embed_assets.py). */
typedef struct api_asset {
    const char *name; /* "openapi.json", "index.html", "app.js", "app.css" */
    const char *type; /* Content-Type */
    const char *data;
    size_t len;
} api_asset;
extern const api_asset api__assets[]; /* ends with name NULL */

/* Content-Security-Policy values (csp.c): the console's, and the flame
 * graph page's (its inline style and script allowed by hash). Static. */
const char *api__csp_console(void);
const char *api__csp_flame(void);

#endif
