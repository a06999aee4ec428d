/* alert_enqueue.c - record a request as queued, publish it, announce it.
 *
 * The same three steps as the API's start (src/api/h_start.c), in the same
 * order and with the same failure handling: the record is created first
 * (create-if-absent, so a repeated id changes nothing), then the request goes
 * on the requests topic keyed by session id, then session.queued on the
 * events topic. When the bus refuses the request the session is failed as
 * unroutable at once, so no queued record waits for a message that was never
 * sent; a lost session.queued event is only logged (the record is the truth). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/alert.h"
#include "profd/log.h"

static int publish_request(profd_bus *b, const profd_request *req, const char *id, profd_error *err)
{
    json_object *j = profd_request_to_json(req);
    const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
    int rc = b->ops->publish(b, PROFD_TOPIC_REQUESTS, id, text, strlen(text), NULL, 0, err);
    json_object_put(j);
    return rc;
}

static void announce(profd_bus *b, const profd_session *s)
{
    profd_error err = {0};
    char *ev = profd_event_to_string("session.queued", s);
    if (!ev ||
        b->ops->publish(b, PROFD_TOPIC_EVENTS, s->session_id, ev, strlen(ev), NULL, 0, &err) < 0)
        LOG_W(s->session_id, "alert.event_failed", "cannot publish session.queued: %s",
              ev ? err.msg : "out of memory");
    free(ev);
}

int profd_alert_enqueue(profd_store *st, profd_bus *b, const profd_request *req, profd_session *s,
                        profd_error *err)
{
    profd_session_from_request(s, req);
    int rc = st->ops->create(st, s, err);
    if (rc <= 0)
        return rc;
    if (publish_request(b, req, s->session_id, err) < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "The request could not be published: %s", err->msg);
        profd_session_fail(s, PROFD_E_UNROUTABLE, msg);
        profd_error e2;
        st->ops->put(st, s, &e2);
        return -2;
    }
    announce(b, s);
    return 1;
}
