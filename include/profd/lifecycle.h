/* lifecycle.h - the steps of a session's life that touch the store, the bus
 * or the blob store: queueing a request, rendering a session's artefacts, and
 * the links a reader gets.
 *
 * These sit above session.h rather than in it because the session module is
 * the contract's codec and the store depends on it: a session module that
 * called the store would make a cycle. Everything that starts a session (the
 * API, alerts, `profd submit`) calls profd_session_enqueue; everything that
 * renders one (a capture, a reprocess) calls profd_session_render; everything
 * that shows one (the API, the worker's events) calls profd_session_links. */
#ifndef PROFD_LIFECYCLE_H
#define PROFD_LIFECYCLE_H

#include <stddef.h>

#include "blob.h"
#include "bus.h"
#include "session.h"
#include "store.h"
#include "util.h"

/* ---- queueing (src/lifecycle/enqueue.c) -------------------------------------- */

typedef enum profd_enqueue_result {
    PROFD_ENQUEUED,            /* recorded (with a store), published, announced */
    PROFD_ENQUEUE_EXISTS,      /* the session id was recorded already: nothing done */
    PROFD_ENQUEUE_STORE_ERROR, /* the record could not be created: nothing published */
    PROFD_ENQUEUE_BUS_ERROR,   /* not published (or not delivered within flush_ms); a
                                * record made for it is failed as unroutable */
} profd_enqueue_result;

/* Start a session for a validated request, in this order: record it as
 * queued (store create-if-absent, so a repeated id changes nothing), publish
 * the request on the requests topic keyed by the session id, then announce
 * session.queued on the events topic. st may be NULL: nothing is recorded and
 * nothing announced (the worker records the request when it takes it).
 * flush_ms > 0 waits that long for the bus to deliver the request (and the
 * event) before returning; 0 returns once they are handed to the bus.
 * s is filled (profd_session_free it in every case). A lost session.queued is
 * only logged (session.event_failed): the record is the truth. err is set for
 * the two errors and for EXISTS. */
PROFD_MUST_USE profd_enqueue_result profd_session_enqueue(profd_store *st, profd_bus *b,
                                                          const profd_request *req, int flush_ms,
                                                          profd_session *s, profd_error *err);

/* ---- rendering (src/lifecycle/render.c) -------------------------------------- */

/* Read input (raw sampler output or collapsed stacks), set s->sample_count, and
 * render profd_artifacts[first..] into dir/{file}, titled with the service and
 * duration, with the session's details in the HTML header. 0 ok; -1 with err
 * (code sampler_failed unless the reader set one). */
PROFD_MUST_USE int profd_session_render(profd_session *s, const char *input, const char *dir,
                                        int first, profd_error *err);

/* ---- links (src/lifecycle/links.c) ------------------------------------------- */

/* A link a browser can open for ttl_s seconds (V4 signed URL for gs://, signed
 * API link for file://) to object, into out. out is "" when object is "" or b
 * is NULL, and "" with a warning logged (session.link_failed) when the blob
 * store cannot make one: a missing link never fails a read or an event. */
void profd_session_link(profd_blob *b, const char *object, int ttl_s, char *out, size_t len);
/* s->flame_graph_url and s->raw_data_url from the record's object names. */
void profd_session_links(profd_blob *b, int ttl_s, profd_session *s);

#endif
