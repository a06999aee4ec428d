/* enqueue.c - record a request as queued, publish it, announce it.
 *
 * This was written three times (the API's start, the alert intake and
 * `profd submit`), with three small differences: submit re-published a
 * request whose id was already recorded while the others did nothing, and
 * each logged a lost event under its own name. Now there is one order and one
 * failure rule for all of them:
 *   1. create the record (create-if-absent): an id that exists already means
 *      a retry or a race, and nothing more is done (EXISTS);
 *   2. publish the request keyed by session id; if the bus refuses it (or,
 *      with flush_ms, does not deliver it in time), fail the record as
 *      unroutable at once, so no queued record waits for a message that was
 *      never sent (BUS_ERROR);
 *   3. announce session.queued; a lost event is only logged, because the
 *      record is the truth and readers poll it.
 * Without a store (submit when Redis does not answer) step 1 and step 3 are
 * skipped: there is no record to announce, and the worker records the request
 * when it takes it. The caller decides what a result means to its user (an
 * HTTP status, an alert skip reason, an exit code). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/lifecycle.h"
#include "profd/log.h"

static int publish_request(profd_bus *b, const profd_request *req, const char *id, int flush_ms,
                           profd_error *err)
{
    json_object *j = profd_request_to_json(req);
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    int rc = b->ops->publish(b, PROFD_TOPIC_REQUESTS, id, text, strlen(text), NULL, 0, err);
    json_object_put(j);
    if (rc == 0 && flush_ms > 0 && b->ops->flush(b, flush_ms) != 0) {
        profd_error_set(err, NULL, "the request was not delivered to the bus within %d s",
                        flush_ms / 1000);
        rc = -1;
    }
    return rc;
}

static void announce(profd_bus *b, const profd_session *s, int flush_ms)
{
    profd_error err = {0};
    char *ev = profd_event_to_string("session.queued", s);
    int rc = -1;
    if (!ev)
        profd_error_set(&err, NULL, "out of memory");
    else if ((rc = b->ops->publish(b, PROFD_TOPIC_EVENTS, s->session_id, ev, strlen(ev), NULL, 0,
                                   &err)) == 0 &&
             flush_ms > 0 && (rc = b->ops->flush(b, flush_ms)) != 0)
        profd_error_set(&err, NULL, "not delivered within %d s", flush_ms / 1000);
    if (rc != 0)
        LOG_W(s->session_id, "session.event_failed", "cannot publish session.queued: %s", err.msg);
    free(ev);
}

profd_enqueue_result profd_session_enqueue(profd_store *st, profd_bus *b, const profd_request *req,
                                           int flush_ms, profd_session *s, profd_error *err)
{
    profd_session_from_request(s, req);
    if (st) {
        int created = st->ops->create(st, s, err);
        if (created < 0)
            return PROFD_ENQUEUE_STORE_ERROR;
        if (created == 0) {
            profd_error_set(err, NULL, "session %s exists already", s->session_id);
            return PROFD_ENQUEUE_EXISTS;
        }
    }
    if (publish_request(b, req, s->session_id, flush_ms, err) != 0) {
        if (st) {
            char msg[600];
            profd_error put_err = {0};
            snprintf(msg, sizeof msg, "The request could not be published: %s", err->msg);
            profd_session_fail(s, PROFD_E_UNROUTABLE, msg);
            if (st->ops->put(st, s, &put_err) != 0)
                LOG_E(s->session_id, "store.error",
                      "cannot record the unroutable session (it stays queued until the "
                      "sweeper fails it): %s",
                      put_err.msg);
        }
        return PROFD_ENQUEUE_BUS_ERROR;
    }
    if (st)
        announce(b, s, flush_ms);
    return PROFD_ENQUEUED;
}
