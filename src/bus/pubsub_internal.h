/* pubsub_internal.h - the pieces of the Pub/Sub transport (pubsub.c):
 * resource names (pubsub_codec.c), REST calls (pubsub_http.c),
 * and the shared state the poller, the puller and the lease extender use. */
#ifndef PROFD_BUS_PUBSUB_INTERNAL_H
#define PROFD_BUS_PUBSUB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profd/bus.h"
#include "profd/gcp.h"

#define PS_NAME_MAX 512
#define PS_DEFAULT_API "https://pubsub.googleapis.com/v1"

/* "projects/P/KIND/NAME" from a short name and project, or a full name as is.
 * var names the setting in the error. 0 ok. */
int bus__ps_resource_name(char *out, size_t outlen, const char *project, const char *kind,
                          const char *name, const char *var, profd_error *err);

typedef struct ps_http ps_http;

/* api: "http://HOST/v1" or PS_DEFAULT_API; gcp (not owned) may be a no_auth client. */
ps_http *bus__ps_http_new(const char *api, profd_gcp *gcp, profd_error *err);
void bus__ps_http_free(ps_http *h);
/* METHOD API/PATH with a JSON body (or NULL) through profd_gcp_call: at most
 * attempts tries within total_ms. 0 on a 2xx (free r); -1 with a one-line
 * error naming what (e.g. "publishing to projects/p/topics/t"); free r. */
int bus__ps_http_call(ps_http *h, const char *method, const char *path, const char *body,
                      int attempts, int total_ms, const char *what, profd_gcp_resp *r,
                      profd_error *err);

/* One pulled message, from the pull until done(). */
typedef struct psmsg {
    profd_msg m;
    char *ack_id;
    char *data;
    int64_t due_ms; /* monotonic time at which its ack deadline lapses */
    bool delivered; /* handed to the worker by poll() */
    struct psmsg *prev, *next;
} psmsg;

typedef struct psbus {
    profd_bus base;
    int roles;
    char sub[PS_NAME_MAX];
    char topics[3][PS_NAME_MAX]; /* by profd_topic */
    int ack_deadline;            /* seconds: the subscription's; the extender renews to it */
    int max_buffer;              /* pulled but undelivered at most: PROFD_MAX_CONCURRENT */
    profd_gcp *gcp;
    ps_http *http;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* on CLOCK_MONOTONIC: buffer, pause, stop */
    pthread_mutex_t ext_mu; /* held around every deadline change (see pubsub_consume.c) */
    psmsg *head, *tail;     /* every unacked message this bus holds, oldest first */
    int nbuffered;          /* of those, pulled but not yet delivered */
    bool paused, stopping, started;
    int64_t cooldown_until;     /* monotonic: no pull before (after a NACK) */
    unsigned err_seq, err_seen; /* puller errors, and the last one poll() reported */
    char err_msg[512];
    pthread_t puller, extender;
} psbus;

/* pubsub_consume.c */
int bus__ps_consume_start(psbus *b, profd_error *err);
void bus__ps_consume_stop(psbus *b); /* joins the threads, returns what is still held */
int bus__ps_poll(profd_bus *bb, int timeout_ms, profd_msg **out, profd_error *err);
void bus__ps_done(profd_bus *bb, profd_msg *m, profd_disposition d);
int bus__ps_extend(profd_bus *bb, profd_msg *m, int seconds);
void bus__ps_pause(profd_bus *bb);
void bus__ps_resume(profd_bus *bb);

#endif
