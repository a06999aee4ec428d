/* front_internal.h - what the HTTP front's two files share (api module only;
 * the handlers' side is front.h).
 *
 * front.c is the loop: sockets, connections, deadlines, the pool. exchange.c
 * is what a handler touches: the request accessors, the response setters,
 * streams, and the mailbox a pool thread or a stream producer uses to hand
 * a connection back to the loop. The structures below are shared between
 * the two; only the loop reads or writes a connection (conn, in front.c). */
#ifndef PROFD_API_FRONT_INTERNAL_H
#define PROFD_API_FRONT_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "front.h"
#include "profd/util.h"

typedef struct conn conn;

typedef struct addr_key {
    unsigned char b[17]; /* family byte + address */
} addr_key;

struct api_stream {
    pthread_mutex_t mu;
    int refs;    /* the producer and the connection */
    bool gone;   /* the connection closed */
    bool closed; /* the producer ended the response */
    bool queued; /* a wake message is on the mailbox */
    profd_sb pending;
    api_front *f;
    int slot;
    uint32_t gen;
};

struct api_exchange {
    api_front *f;
    int slot;
    uint32_t gen;
    api_head head;
    char *body;
    size_t body_len;
    char peer[INET6_ADDRSTRLEN];
    int status;
    const char *type;
    profd_sb headers; /* "Name: value\r\n" lines */
    char *rbody;
    size_t rlen;
    int rfd;
    uint64_t rsize;
    api_stream *stream;
};

typedef struct msg {
    int slot;
    uint32_t gen;
    bool stream;
} msg;

struct api_front {
    api_front_opts o;
    int lfd, ep, efd, port;
    pthread_t loop;
    bool loop_started;
    _Atomic int stop; /* set by api__front_stop, read by the loop */
    conn *c;
    int max, nconns;
    int *freelist, nfree;
    addr_key *akeys;
    int *acount, naddr;
    int64_t accept_paused_until;
    /* the pool */
    pthread_t *workers;
    int nworkers;
    pthread_mutex_t job_mu;
    pthread_cond_t job_cv;
    api_exchange **jobs;
    int job_head, job_len;
    bool workers_stop;
    /* the mailbox back to the loop */
    pthread_mutex_t mb_mu;
    msg *mb;
    int mb_len, mb_cap;
};

/* Queue a message for the loop (the handler of slot/gen is done, or its stream has news) and
 * wake it. */
void front__mb_post(api_front *f, int slot, uint32_t gen, bool stream);
/* One side lets go of a stream (conn_side: the connection; else the producer); the last frees
 * it. */
void front__stream_release(api_stream *s, bool conn_side);
/* Free an exchange: request, response and any file it was to send. NULL is fine. */
void front__x_free(api_exchange *x);

#endif
