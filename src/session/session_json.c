/* api__session_json.c - session records and events as JSON (docs/messages.md).
 *
 * One writer produces both shapes. The public shape is exactly the contract's
 * session: every field present, null where unset, times as RFC 3339 with
 * second precision, labels {} by default, and the two links. The stored shape
 * (what the session store keeps) drops the links, which are made fresh each
 * time a session is read, and adds what a worker needs to retry or reprocess a
 * session from its record alone: the object names, the target's start time,
 * the request options and the host the request named. Stored times carry
 * milliseconds ("2024-01-15T10:30:00.123Z", still RFC 3339) because the
 * store's indexes order sessions by created_at in ms.
 *
 * The reader is tolerant of missing optional fields (older records, other
 * writers) and strict on types: a field of the wrong type is an error naming
 * the field, never a silent default. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profd/session.h"

/* ---- writing ---------------------------------------------------------- */

static json_object *str_or_null(const char *s)
{
    return s && *s ? json_object_new_string(s) : NULL;
}

static json_object *time_or_null(int64_t ms, bool with_ms)
{
    if (ms <= 0)
        return NULL;
    char buf[48];
    profd_rfc3339(ms, buf);
    if (with_ms) {
        size_t n = strlen(buf);
        if (n > 0 && buf[n - 1] == 'Z')
            snprintf(buf + n - 1, sizeof buf - (n - 1), ".%03dZ", (int)(ms % 1000));
    }
    return json_object_new_string(buf);
}

static json_object *options_json(const profd_options *o)
{
    json_object *j = json_object_new_object();
    json_object_object_add(j, "nonblocking", json_object_new_boolean(o->nonblocking));
    json_object_object_add(j, "subprocesses", json_object_new_boolean(o->subprocesses));
    json_object_object_add(j, "native", json_object_new_boolean(o->native));
    json_object_object_add(j, "idle", json_object_new_boolean(o->idle));
    json_object_object_add(j, "gil", json_object_new_boolean(o->gil));
    return j;
}

static void add_stored_fields(json_object *j, const profd_session *s)
{
    json_object_object_add(j, "flame_graph_object", str_or_null(s->flame_graph_object));
    json_object_object_add(j, "raw_data_object", str_or_null(s->raw_data_object));
    json_object_object_add(j, "stacks_object", str_or_null(s->stacks_object));
    json_object_object_add(
        j, "target_start_time",
        s->target_start_time ? json_object_new_int64((int64_t)s->target_start_time) : NULL);
    json_object_object_add(j, "options", options_json(&s->options));
    json_object_object_add(j, "target_host", str_or_null(s->target_host));
    if (s->profile_type == PROFD_PROFILE_MEMORY)
        json_object_object_add(j, "memory_frames", json_object_new_int(s->memory_frames));
}

/* A percentage with two decimals, as written ("2.50"), not json-c's %.17g.
 * Absurd values (a damaged record) keep json-c's own form, so a rewrite of the
 * record never changes it. */
static json_object *percent(double v)
{
    if (!(v < 1e9))
        return json_object_new_double(v);
    char buf[32];
    snprintf(buf, sizeof buf, "%.2f", v);
    return json_object_new_double_s(strtod(buf, NULL), buf);
}

json_object *profd_session_to_json(const profd_session *s, bool stored)
{
    json_object *j = json_object_new_object();
#define ADD(k, v) json_object_object_add(j, k, v)
    ADD("session_id", json_object_new_string(s->session_id));
    ADD("service_name", json_object_new_string(s->service_name));
    ADD("pid", s->pid > 0 ? json_object_new_int64(s->pid) : NULL);
    ADD("status", json_object_new_string(profd_status_name(s->status)));
    ADD("started_at", time_or_null(s->started_at, stored));
    ADD("completed_at", time_or_null(s->completed_at, stored));
    ADD("duration_seconds", json_object_new_int(s->duration_seconds));
    if (!stored) {
        ADD("flame_graph_url", str_or_null(s->flame_graph_url));
        ADD("raw_data_url", str_or_null(s->raw_data_url));
    }
    ADD("error_message", str_or_null(s->error_message));
    ADD("sample_rate_hz", json_object_new_int(s->sample_rate_hz));
    ADD("overhead_percent", s->overhead_percent >= 0 ? percent(s->overhead_percent) : NULL);
    ADD("created_at", time_or_null(s->created_at, stored));
    ADD("trigger", str_or_null(s->trigger));
    ADD("host", str_or_null(s->host));
    ADD("sampler", str_or_null(s->sampler));
    ADD("sample_count", s->sample_count >= 0 ? json_object_new_int64(s->sample_count) : NULL);
    ADD("error_code", str_or_null(s->error_code));
    ADD("attempt", json_object_new_int(s->attempt));
    ADD("labels", s->labels ? json_object_get(s->labels) : json_object_new_object());
    ADD("requested_by", str_or_null(s->requested_by));
    ADD("reprocessed_at", time_or_null(s->reprocessed_at, stored));
    ADD("renderer", str_or_null(s->renderer));
    ADD("profile_type", json_object_new_string(profd_profile_type_name(s->profile_type)));
    ADD("bytes_total", s->bytes_total >= 0 ? json_object_new_int64(s->bytes_total) : NULL);
    ADD("blocks_total", s->blocks_total >= 0 ? json_object_new_int64(s->blocks_total) : NULL);
#undef ADD
    if (stored)
        add_stored_fields(j, s);
    return j;
}

char *profd_session_to_string(const profd_session *s, bool stored)
{
    json_object *j = profd_session_to_json(s, stored);
    char *out = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
    json_object_put(j);
    return out;
}

char *profd_event_to_string(const char *type, const profd_session *s)
{
    char id[PROFD_UUID_LEN + 1], when[32], full[64];
    profd_uuid4(id);
    profd_rfc3339(profd_now_ms(), when);
    if (strncmp(type, "session.", 8) == 0)
        profd_strlcpy(full, type, sizeof full);
    else
        snprintf(full, sizeof full, "session.%s", type);
    json_object *j = json_object_new_object();
    json_object_object_add(j, "event_id", json_object_new_string(id));
    json_object_object_add(j, "type", json_object_new_string(full));
    json_object_object_add(j, "emitted_at", json_object_new_string(when));
    json_object_object_add(j, "session", profd_session_to_json(s, false));
    char *out = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
    json_object_put(j);
    return out;
}

/* ---- reading ---------------------------------------------------------- */

/* Each reader returns 0 when the field is absent or null (leaving the
 * default), 0 after storing a value, -1 with err set on a type error. */

static json_object *field(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v))
        return NULL;
    return v; /* NULL for JSON null too */
}

static int type_error(profd_error *err, const char *k, const char *what)
{
    profd_error_set(err, PROFD_E_INVALID, "session record: %s must be %s", k, what);
    return -1;
}

static int read_str(json_object *o, const char *k, char *dst, size_t size, profd_error *err)
{
    json_object *v = field(o, k);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return type_error(err, k, "a string or null");
    if ((size_t)json_object_get_string_len(v) >= size) {
        profd_error_set(err, PROFD_E_INVALID, "session record: %s is longer than %zu bytes", k,
                        size - 1);
        return -1;
    }
    profd_strlcpy(dst, json_object_get_string(v), size);
    return 0;
}

static int read_int(json_object *o, const char *k, int64_t lo, int64_t hi, int64_t *dst,
                    profd_error *err)
{
    json_object *v = field(o, k);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return type_error(err, k, "an integer or null");
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi) {
        profd_error_set(err, PROFD_E_INVALID,
                        "session record: %s must be between %" PRId64 " and %" PRId64, k, lo, hi);
        return -1;
    }
    *dst = x;
    return 0;
}

static int read_time(json_object *o, const char *k, int64_t *dst, profd_error *err)
{
    json_object *v = field(o, k);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_string) ||
        profd_parse_rfc3339(json_object_get_string(v), dst) != 0)
        return type_error(err, k, "an RFC 3339 time or null");
    return 0;
}

static int read_bool(json_object *o, const char *k, bool *dst, profd_error *err)
{
    json_object *v = field(o, k);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_boolean))
        return type_error(err, k, "true or false");
    *dst = json_object_get_boolean(v);
    return 0;
}

static int read_options(json_object *o, profd_options *opt, profd_error *err)
{
    json_object *v = field(o, "options");
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_object))
        return type_error(err, "options", "an object or null");
    if (read_bool(v, "nonblocking", &opt->nonblocking, err) ||
        read_bool(v, "subprocesses", &opt->subprocesses, err) ||
        read_bool(v, "native", &opt->native, err) || read_bool(v, "idle", &opt->idle, err) ||
        read_bool(v, "gil", &opt->gil, err))
        return -1;
    return 0;
}

static int read_identity(json_object *o, profd_session *s, profd_error *err)
{
    char status[16] = "";
    json_object *id = field(o, "session_id"), *svc = field(o, "service_name");
    if (!id || !json_object_is_type(id, json_type_string) ||
        !profd_uuid_valid(json_object_get_string(id)))
        return type_error(err, "session_id", "a UUID");
    profd_strlcpy(s->session_id, json_object_get_string(id), sizeof s->session_id);
    if (!svc || !json_object_is_type(svc, json_type_string) ||
        !profd_service_name_valid(json_object_get_string(svc)))
        return type_error(err, "service_name", "a valid service name");
    profd_strlcpy(s->service_name, json_object_get_string(svc), sizeof s->service_name);
    if (read_str(o, "status", status, sizeof status, err))
        return -1;
    if (profd_status_parse(status, &s->status) != 0)
        return type_error(err, "status", "queued, running, completed or failed");
    return 0;
}

static int read_numbers(json_object *o, profd_session *s, profd_error *err)
{
    int64_t pid = 0, dur = 0, rate = 0, count = -1, attempt = 0, start = 0;
    int64_t bytes = -1, blocks = -1, frames = PROFD_MEMORY_FRAMES_DEFAULT;
    if (read_int(o, "bytes_total", 0, INT64_MAX, &bytes, err) ||
        read_int(o, "blocks_total", 0, INT64_MAX, &blocks, err) ||
        read_int(o, "memory_frames", 1, PROFD_MEMORY_FRAMES_MAX, &frames, err))
        return -1;
    s->bytes_total = bytes;
    s->blocks_total = blocks;
    s->memory_frames = (int)frames;
    if (read_int(o, "pid", 1, INT32_MAX, &pid, err) ||
        read_int(o, "duration_seconds", 0, INT32_MAX, &dur, err) ||
        read_int(o, "sample_rate_hz", 0, INT32_MAX, &rate, err) ||
        read_int(o, "sample_count", 0, INT64_MAX, &count, err) ||
        read_int(o, "attempt", 0, INT32_MAX, &attempt, err) ||
        read_int(o, "target_start_time", 0, INT64_MAX, &start, err))
        return -1;
    s->pid = (long)pid;
    s->duration_seconds = (int)dur;
    s->sample_rate_hz = (int)rate;
    s->sample_count = (long)count;
    s->attempt = (int)attempt;
    s->target_start_time = (unsigned long long)start;
    json_object *v = field(o, "overhead_percent");
    if (v) {
        if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
            return type_error(err, "overhead_percent", "a number or null");
        s->overhead_percent = json_object_get_double(v);
        if (s->overhead_percent < 0)
            return type_error(err, "overhead_percent", "a number >= 0 or null");
    }
    return 0;
}

static int read_times(json_object *o, profd_session *s, profd_error *err)
{
    return read_time(o, "created_at", &s->created_at, err) ||
                   read_time(o, "started_at", &s->started_at, err) ||
                   read_time(o, "completed_at", &s->completed_at, err) ||
                   read_time(o, "reprocessed_at", &s->reprocessed_at, err)
               ? -1
               : 0;
}

static int read_strings(json_object *o, profd_session *s, profd_error *err)
{
#define S(k) read_str(o, #k, s->k, sizeof s->k, err)
    return S(trigger) || S(host) || S(sampler) || S(error_code) || S(error_message) ||
                   S(requested_by) || S(renderer) || S(flame_graph_object) || S(raw_data_object) ||
                   S(stacks_object) || S(target_host) || S(flame_graph_url) || S(raw_data_url)
               ? -1
               : 0;
#undef S
}

static int read_profile_type(json_object *o, profd_session *s, profd_error *err)
{
    char t[16] = "";
    if (read_str(o, "profile_type", t, sizeof t, err))
        return -1;
    if (t[0] && profd_profile_type_parse(t, &s->profile_type) != 0)
        return type_error(err, "profile_type", "cpu, memory or null");
    return 0;
}

static int read_labels(json_object *o, profd_session *s, profd_error *err)
{
    json_object *v = field(o, "labels");
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_object))
        return type_error(err, "labels", "an object or null");
    s->labels = json_object_get(v);
    return 0;
}

int profd_session_parse(const char *buf, size_t len, profd_session *out, profd_error *err)
{
    profd_session_init(out);
    enum json_tokener_error jerr = json_tokener_success;
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
    jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    while (o && used < len && strchr(" \t\r\n", buf[used]) && buf[used])
        used++;
    if (!o || jerr != json_tokener_success || used != len) {
        if (o)
            json_object_put(o);
        profd_error_set(err, PROFD_E_INVALID, "session record: malformed JSON (%s)",
                        o                               ? "trailing data"
                        : jerr == json_tokener_continue ? "unexpected end"
                                                        : json_tokener_error_desc(jerr));
        return -1;
    }
    int rc = -1;
    if (!json_object_is_type(o, json_type_object))
        type_error(err, "the record", "a JSON object");
    else if (!read_identity(o, out, err) && !read_numbers(o, out, err) &&
             !read_times(o, out, err) && !read_strings(o, out, err) &&
             !read_options(o, &out->options, err) && !read_labels(o, out, err) &&
             !read_profile_type(o, out, err))
        rc = 0;
    json_object_put(o);
    if (rc != 0)
        profd_session_free(out);
    return rc;
}
