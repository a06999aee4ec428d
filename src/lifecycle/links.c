/* links.c - the links a reader of a session gets.
 *
 * Records hold object names, never links: a link expires
 * (PROFD_SIGNED_URL_TTL) and is made when a session is shown, by the API when
 * it answers and by the worker when it publishes an event. Both used to do it
 * their own way: the API checked for a missing blob store and logged a failed
 * link, the worker did neither. Here one rule serves both: no object or no
 * blob store gives "", and a link the blob store cannot make gives "" and a
 * warning, never an error, since a session without a link is still worth
 * showing. */
#include "profd/lifecycle.h"
#include "profd/log.h"

void profd_session_link(profd_blob *b, const char *object, int ttl_s, char *out, size_t len)
{
    out[0] = '\0';
    if (!object[0] || !b)
        return;
    profd_error err = {0};
    if (b->ops->link(b, object, ttl_s, out, len, &err) != 0) {
        LOG_W(NULL, "session.link_failed", "cannot make a link to %s: %s", object, err.msg);
        out[0] = '\0';
    }
}

void profd_session_links(profd_blob *b, int ttl_s, profd_session *s)
{
    profd_session_link(b, s->flame_graph_object, ttl_s, s->flame_graph_url,
                       sizeof s->flame_graph_url);
    profd_session_link(b, s->raw_data_object, ttl_s, s->raw_data_url, sizeof s->raw_data_url);
}
