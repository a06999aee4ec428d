/* session.c - the session record in memory: statuses, defaults, building a
 * queued session from a validated request, copying, and failing a session.
 *
 * The struct uses sentinels for the contract's nulls (0 for times and pid, a
 * negative number for overhead and sample count, "" for strings) so that it
 * can be copied by value; only labels live on the heap, shared by reference
 * count. The JSON side (records, API shape, events) is in api__session_json.c. */
#include "profd/session.h"

#include <string.h>

static const char *const status_names[] = {"queued", "running", "completed", "failed"};

const char *profd_status_name(profd_status s)
{
    if ((unsigned)s > PROFD_FAILED)
        return "unknown";
    return status_names[s];
}

int profd_status_parse(const char *s, profd_status *out)
{
    for (int i = 0; s && i <= PROFD_FAILED; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            *out = (profd_status)i;
            return 0;
        }
    }
    return -1;
}

bool profd_status_terminal(profd_status s)
{
    return s == PROFD_COMPLETED || s == PROFD_FAILED;
}

void profd_session_init(profd_session *s)
{
    memset(s, 0, sizeof *s);
    s->status = PROFD_QUEUED;
    s->overhead_percent = -1;
    s->sample_count = -1;
    s->profile_type = PROFD_PROFILE_CPU;
    s->bytes_total = -1;
    s->blocks_total = -1;
    s->memory_frames = PROFD_MEMORY_FRAMES_DEFAULT;
}

void profd_session_from_request(profd_session *s, const profd_request *r)
{
    profd_session_init(s);
    profd_strlcpy(s->session_id, r->session_id, sizeof s->session_id);
    profd_strlcpy(s->service_name, r->service_name, sizeof s->service_name);
    s->pid = r->pid;
    s->created_at = profd_now_ms();
    s->duration_seconds = r->duration_seconds;
    s->sample_rate_hz = r->rate_hz;
    profd_strlcpy(s->trigger, r->trigger, sizeof s->trigger);
    profd_strlcpy(s->requested_by, r->requested_by, sizeof s->requested_by);
    profd_strlcpy(s->renderer, "profd " PROFD_VERSION, sizeof s->renderer);
    s->labels = r->labels ? json_object_get(r->labels) : NULL;
    s->options = r->options;
    s->profile_type = r->profile_type;
    s->memory_frames = r->memory_frames;
    profd_strlcpy(s->target_host, r->host, sizeof s->target_host);
}

void profd_session_free(profd_session *s)
{
    if (s->labels)
        json_object_put(s->labels);
    s->labels = NULL;
}

void profd_session_copy(profd_session *dst, const profd_session *src)
{
    if (dst == src)
        return;
    memcpy(dst, src, sizeof *dst);
    if (dst->labels)
        json_object_get(dst->labels);
}

void profd_session_fail(profd_session *s, const char *code, const char *msg)
{
    s->status = PROFD_FAILED;
    profd_strlcpy(s->error_code, code ? code : "", sizeof s->error_code);
    profd_strlcpy(s->error_message, msg ? msg : "", sizeof s->error_message);
    s->completed_at = profd_now_ms();
}
