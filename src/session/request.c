/* request.c - validating and decoding profiling requests (docs/messages.md).
 *
 * A request comes from outside (Kafka, Pub/Sub, the API, an alert webhook), so
 * every byte is checked before any of it reaches a path, a key or a process:
 *
 *   1. transport: at most PROFD_MAX_MESSAGE bytes, strict RFC 8259 JSON in
 *      valid UTF-8 (json_check.c), and the top level is an object;
 *   2. fields, in a fixed order, each with one rule and one error line
 *      "field: rule" (the first violation wins);
 *   3. rules between fields: what each type needs, and a pid needs a host.
 *
 * The same rules are written as JSON Schema in
 * schemas/profiling-request.schema.json; tests/session runs one fixture set
 * through both. Where JSON Schema has a meaning of its own, C follows it so the
 * two cannot disagree: an "integer" is any JSON number without a fractional
 * part (60.0 is 60, 60.5 and "60" are not), and lengths are counted in
 * characters. Unknown fields are ignored, so producers can add fields before
 * consumers know them. The message form of every field is in docs/messages.md.
 *
 * On failure the session id, when one was readable and valid, is still copied
 * out so that the caller can fail that session rather than drop it. */
#include "profd/session.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json_check.h"

#define PID_MAX 4194304 /* Linux PID_MAX_LIMIT */
#define RATE_MIN 1
#define RATE_MAX 1000
#define LABELS_MAX 32
#define LABEL_VALUE_MAX 256
#define REQUESTED_BY_MAX 127

#define SERVICE_PATTERN "^[a-z0-9][a-z0-9._-]{0,62}$"
#define HOST_PATTERN "^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$"
#define LABEL_KEY_PATTERN "^[A-Za-z_][A-Za-z0-9_.-]{0,62}$"

static const char *const type_names[] = {"profile", "reprocess", "cancel", "alert"};
static const char *const triggers[] = {"api", "cli", "alert", "schedule", "reprocess"};
static const char *const alert_sources[] = {"alertmanager", "gcp"};
static const char *const profile_types[] = {"cpu", "memory"};
static const char *const option_names[] = {"nonblocking", "subprocesses", "native", "idle", "gil"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int index_of(const char *s, const char *const *names, size_t n);

typedef struct ctx {
    json_object *root;
    const profd_limits *lim;
    profd_request *r;
    profd_error *err;
} ctx;

__attribute__((format(printf, 2, 3))) static int invalid(profd_error *err, const char *fmt, ...)
{
    if (err) {
        err->code = PROFD_E_INVALID;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void profd_request_init(profd_request *r)
{
    memset(r, 0, sizeof *r);
    r->version = 1;
    r->type = PROFD_REQ_PROFILE;
    r->duration_seconds = 60;
    r->rate_hz = 100;
    r->profile_type = PROFD_PROFILE_CPU;
    r->memory_frames = PROFD_MEMORY_FRAMES_DEFAULT;
    profd_strlcpy(r->trigger, "api", sizeof r->trigger);
}

const char *profd_profile_type_name(profd_profile_type t)
{
    return (unsigned)t < COUNT(profile_types) ? profile_types[t] : "cpu";
}

int profd_profile_type_parse(const char *s, profd_profile_type *out)
{
    int i = s ? index_of(s, profile_types, COUNT(profile_types)) : -1;
    if (i < 0)
        return -1;
    *out = (profd_profile_type)i;
    return 0;
}

void profd_request_free(profd_request *r)
{
    json_object_put(r->labels);
    json_object_put(r->alert_payload);
    r->labels = NULL;
    r->alert_payload = NULL;
}

/* ---- small checks ------------------------------------------------------- */

/* A member: 0 absent, 1 present (*v is NULL for a JSON null). */
static int member(const ctx *c, const char *name, json_object **v)
{
    *v = NULL;
    return json_object_object_get_ex(c->root, name, v) ? 1 : 0;
}

/* JSON Schema's "integer": a number whose fractional part is zero. */
static int get_integer(json_object *o, int64_t *out)
{
    if (json_object_is_type(o, json_type_int)) {
        *out = json_object_get_int64(o); /* saturates beyond int64 */
        return 0;
    }
    if (!json_object_is_type(o, json_type_double))
        return -1;
    double d = json_object_get_double(o);
    if (!isfinite(d) || d != floor(d))
        return -1;
    *out = d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : (int64_t)d;
    return 0;
}

static int index_of(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

/* Valid UTF-8 is guaranteed by json_check; count characters, refuse controls. */
static bool label_value_valid(const char *s)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        if ((*p & 0xC0) != 0x80)
            chars++;
    }
    return chars <= LABEL_VALUE_MAX;
}

static bool printable_ascii(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

static int two(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* The schema's pattern for requested_at, then the calendar:
 * YYYY-MM-DD[Tt ]hh:mm:ss[.1-9 digits](Z|z|+hh:mm|-hh:mm), no leap second. */
static bool timestamp_valid(const char *s)
{
    static const char shape[] = "dddd-dd-dd?dd:dd:dd";
    size_t n = strlen(s);
    if (n < 20 || n > 35)
        return false;
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        char k = shape[i], ch = s[i];
        bool ok = k == 'd'   ? isdigit((unsigned char)ch) != 0
                  : k == '?' ? (ch == 'T' || ch == 't' || ch == ' ')
                             : ch == k;
        if (!ok)
            return false;
    }
    const char *p = s + 19;
    if (*p == '.') {
        size_t k = 0;
        while (isdigit((unsigned char)p[k + 1]))
            k++;
        if (k < 1 || k > 9)
            return false;
        p += k + 1;
    }
    bool zone = ((*p == 'Z' || *p == 'z') && !p[1]) ||
                ((*p == '+' || *p == '-') && strlen(p) == 6 && isdigit((unsigned char)p[1]) &&
                 isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
                 isdigit((unsigned char)p[5]));
    int64_t ms;
    if (!zone || profd_parse_rfc3339(s, &ms) != 0 || two(s + 17) > 59)
        return false;
    int year = two(s) * 100 + two(s + 2);
    return two(s + 8) <= days_in_month(year, two(s + 5));
}

/* ---- one function per field --------------------------------------------- */

static void copy_session_id(const ctx *c)
{
    json_object *v;
    if (member(c, "session_id", &v) && json_object_is_type(v, json_type_string) &&
        profd_uuid_valid(json_object_get_string(v))) {
        const char *s = json_object_get_string(v);
        for (int i = 0; i <= PROFD_UUID_LEN; i++)
            c->r->session_id[i] = (char)tolower((unsigned char)s[i]);
    }
}

static int check_version(ctx *c)
{
    json_object *v;
    int64_t n;
    if (!member(c, "version", &v))
        return 0;
    if (get_integer(v, &n) != 0 || n != 1)
        return invalid(c->err, "version: must be 1 (the only version of this message)");
    c->r->version = 1;
    return 0;
}

static int check_type(ctx *c)
{
    json_object *v;
    if (!member(c, "type", &v))
        return 0;
    int i = json_object_is_type(v, json_type_string)
                ? index_of(json_object_get_string(v), type_names, COUNT(type_names))
                : -1;
    if (i < 0)
        return invalid(c->err, "type: must be one of profile, reprocess, cancel, alert");
    c->r->type = (profd_req_type)i;
    return 0;
}

static int check_session_id(ctx *c)
{
    json_object *v;
    if (!member(c, "session_id", &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_string) || !profd_uuid_valid(json_object_get_string(v)))
        return invalid(c->err,
                       "session_id: must be a UUID "
                       "(8-4-4-4-12 hex digits, e.g. 123e4567-e89b-12d3-a456-426614174000)");
    return 0; /* copied by copy_session_id */
}

static int check_service_name(ctx *c)
{
    json_object *v;
    if (!member(c, "service_name", &v))
        return 0;
    if (!json_object_is_type(v, json_type_string) ||
        !profd_service_name_valid(json_object_get_string(v)))
        return invalid(c->err, "service_name: must match %s", SERVICE_PATTERN);
    profd_strlcpy(c->r->service_name, json_object_get_string(v), sizeof c->r->service_name);
    return 0;
}

static int check_duration(ctx *c)
{
    int lo = c->lim->duration_min, hi = c->lim->duration_max;
    json_object *v;
    int64_t n;
    if (!member(c, "duration_seconds", &v)) {
        int d = c->r->duration_seconds;
        c->r->duration_seconds = d < lo ? lo : d > hi ? hi : d;
        return 0;
    }
    if (get_integer(v, &n) != 0)
        return invalid(c->err,
                       "duration_seconds: must be an integer (Duration must be between %d and "
                       "%d seconds)",
                       lo, hi);
    if (n < lo || n > hi)
        return invalid(c->err, "duration_seconds: Duration must be between %d and %d seconds", lo,
                       hi);
    c->r->duration_seconds = (int)n;
    return 0;
}

static int check_rate(ctx *c)
{
    json_object *v;
    int64_t n;
    if (!member(c, "rate_hz", &v))
        return 0;
    if (get_integer(v, &n) != 0 || n < RATE_MIN || n > RATE_MAX)
        return invalid(c->err, "rate_hz: must be an integer between %d and %d", RATE_MIN, RATE_MAX);
    c->r->rate_hz = (int)n;
    return 0;
}

static int check_profile_type(ctx *c)
{
    json_object *v;
    if (!member(c, "profile_type", &v))
        return 0;
    if (!v || !json_object_is_type(v, json_type_string) ||
        profd_profile_type_parse(json_object_get_string(v), &c->r->profile_type) != 0)
        return invalid(c->err, "profile_type: must be cpu or memory");
    return 0;
}

static int check_memory_frames(ctx *c)
{
    json_object *v;
    int64_t n;
    if (!member(c, "memory_frames", &v))
        return 0;
    if (!v || get_integer(v, &n) != 0 || n < 1 || n > PROFD_MEMORY_FRAMES_MAX)
        return invalid(c->err, "memory_frames: must be an integer between 1 and %d",
                       PROFD_MEMORY_FRAMES_MAX);
    c->r->memory_frames = (int)n;
    return 0;
}

static int check_pid(ctx *c)
{
    json_object *v;
    int64_t n;
    if (!member(c, "pid", &v) || !v)
        return 0;
    if (get_integer(v, &n) != 0 || n < 1 || n > PID_MAX)
        return invalid(c->err, "pid: must be an integer between 1 and %d, or null", PID_MAX);
    c->r->pid = (long)n;
    return 0;
}

static int check_host(ctx *c)
{
    json_object *v;
    if (!member(c, "host", &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_string) ||
        !profd_host_name_valid(json_object_get_string(v)))
        return invalid(c->err, "host: must match %s, or be null", HOST_PATTERN);
    profd_strlcpy(c->r->host, json_object_get_string(v), sizeof c->r->host);
    return 0;
}

static int check_trigger(ctx *c)
{
    json_object *v;
    if (!member(c, "trigger", &v))
        return 0;
    if (!json_object_is_type(v, json_type_string) ||
        index_of(json_object_get_string(v), triggers, COUNT(triggers)) < 0)
        return invalid(c->err, "trigger: must be one of api, cli, alert, schedule, reprocess");
    profd_strlcpy(c->r->trigger, json_object_get_string(v), sizeof c->r->trigger);
    return 0;
}

static int check_requested_by(ctx *c)
{
    json_object *v;
    if (!member(c, "requested_by", &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_string) ||
        !printable_ascii(json_object_get_string(v), REQUESTED_BY_MAX))
        return invalid(c->err,
                       "requested_by: must be at most %d printable ASCII characters, or null",
                       REQUESTED_BY_MAX);
    profd_strlcpy(c->r->requested_by, json_object_get_string(v), sizeof c->r->requested_by);
    return 0;
}

static int check_requested_at(ctx *c)
{
    json_object *v;
    if (!member(c, "requested_at", &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_string) || !timestamp_valid(json_object_get_string(v)))
        return invalid(c->err, "requested_at: must be an RFC 3339 time such as "
                               "2024-01-15T10:30:00Z, or null");
    profd_strlcpy(c->r->requested_at, json_object_get_string(v), sizeof c->r->requested_at);
    return 0;
}

static int check_options(ctx *c)
{
    json_object *v, *b;
    if (!member(c, "options", &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_object))
        return invalid(c->err, "options: must be an object of booleans, or null");
    bool *slots[] = {&c->r->options.nonblocking, &c->r->options.subprocesses, &c->r->options.native,
                     &c->r->options.idle, &c->r->options.gil};
    for (size_t i = 0; i < COUNT(option_names); i++) {
        if (!json_object_object_get_ex(v, option_names[i], &b))
            continue;
        if (!json_object_is_type(b, json_type_boolean))
            return invalid(c->err, "options.%s: must be true or false", option_names[i]);
        *slots[i] = json_object_get_boolean(b);
    }
    return 0;
}

static int check_labels(ctx *c)
{
    json_object *v;
    if (!member(c, "labels", &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_object))
        return invalid(c->err, "labels: must be an object of string values, or null");
    if (json_object_object_length(v) > LABELS_MAX)
        return invalid(c->err, "labels: at most %d labels", LABELS_MAX);
    json_object_object_foreach(v, key, val)
    {
        if (!profd_label_key_valid(key))
            return invalid(c->err, "labels: every key must match %s", LABEL_KEY_PATTERN);
        if (!json_object_is_type(val, json_type_string) ||
            !label_value_valid(json_object_get_string(val)))
            return invalid(c->err,
                           "labels.%s: must be a string of at most %d characters without "
                           "control characters",
                           key, LABEL_VALUE_MAX);
    }
    c->r->labels = json_object_get(v);
    return 0;
}

static int check_alert(ctx *c)
{
    json_object *v;
    if (!member(c, "source", &v) || !json_object_is_type(v, json_type_string) ||
        index_of(json_object_get_string(v), alert_sources, COUNT(alert_sources)) < 0)
        return invalid(c->err, "source: must be alertmanager or gcp (required for type alert)");
    profd_strlcpy(c->r->alert_source, json_object_get_string(v), sizeof c->r->alert_source);
    if (!member(c, "payload", &v) || !json_object_is_type(v, json_type_object))
        return invalid(c->err, "payload: must be an object, the webhook body (required for type "
                               "alert)");
    c->r->alert_payload = json_object_get(v);
    return 0;
}

/* Rules between fields, once every field is known to be well formed. */
static int check_type_needs(ctx *c)
{
    profd_request *r = c->r;
    if ((r->type == PROFD_REQ_REPROCESS || r->type == PROFD_REQ_CANCEL) && !r->session_id[0])
        return invalid(c->err, "session_id: required for type %s", type_names[r->type]);
    if (r->type == PROFD_REQ_PROFILE && !r->service_name[0])
        return invalid(c->err, "service_name: required for type profile");
    if (r->pid > 0 && !r->host[0])
        return invalid(c->err, "host: required when pid is set (a pid means nothing on "
                               "another host)");
    if (r->type == PROFD_REQ_ALERT)
        return check_alert(c);
    return 0;
}

/* ---- parse and encode --------------------------------------------------- */

static json_object *parse_object(const char *buf, size_t len, profd_error *err)
{
    const char *why;
    size_t at;
    if (len > PROFD_MAX_MESSAGE) {
        invalid(err, "message: %zu bytes is over the %d-byte limit", len, PROFD_MAX_MESSAGE);
        return NULL;
    }
    if (profd_json_check(buf, len, &why, &at) != 0) {
        invalid(err, "message: malformed JSON at byte %zu: %s", at, why);
        return NULL;
    }
    size_t first = 0;
    while (first < len &&
           (buf[first] == ' ' || buf[first] == '\t' || buf[first] == '\r' || buf[first] == '\n'))
        first++;
    if (first == len || buf[first] != '{') {
        invalid(err, "message: must be a JSON object");
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new_ex(PROFD_JSON_MAX_DEPTH + 1);
    if (!tok) {
        invalid(err, "message: out of memory while parsing");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!root || e != json_tokener_success) {
        json_object_put(root);
        invalid(err, "message: malformed JSON: %s", json_tokener_error_desc(e));
        return NULL;
    }
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        invalid(err, "message: must be a JSON object");
        return NULL;
    }
    return root;
}

int profd_request_parse(const char *buf, size_t len, const profd_limits *lim, profd_request *out,
                        profd_error *err)
{
    static const profd_limits defaults = {10, 300};
    static int (*const checks[])(ctx *) = {
        check_version,      check_type,    check_session_id,   check_service_name,
        check_duration,     check_rate,    check_profile_type, check_memory_frames,
        check_pid,          check_host,    check_trigger,      check_requested_by,
        check_requested_at, check_options, check_labels,       check_type_needs,
    };
    profd_request_init(out);
    if (err)
        profd_error_clear(err);
    json_object *root = parse_object(buf ? buf : "", buf ? len : 0, err);
    if (!root)
        return -1;
    ctx c = {root, lim ? lim : &defaults, out, err};
    copy_session_id(&c);
    int rc = 0;
    for (size_t i = 0; i < COUNT(checks) && rc == 0; i++)
        rc = checks[i](&c);
    json_object_put(root);
    if (rc != 0) {
        char id[sizeof out->session_id];
        memcpy(id, out->session_id, sizeof id);
        profd_request_free(out);
        profd_request_init(out);
        memcpy(out->session_id, id, sizeof id);
    }
    return rc;
}

static void add_string(json_object *o, const char *key, const char *s, bool null_if_empty)
{
    if (s[0])
        json_object_object_add(o, key, json_object_new_string(s));
    else if (null_if_empty)
        json_object_object_add(o, key, NULL);
}

json_object *profd_request_to_json(const profd_request *r)
{
    json_object *o = json_object_new_object();
    const bool opts[] = {r->options.nonblocking, r->options.subprocesses, r->options.native,
                         r->options.idle, r->options.gil};
    json_object_object_add(o, "version", json_object_new_int(r->version));
    json_object_object_add(o, "type", json_object_new_string(type_names[r->type]));
    add_string(o, "session_id", r->session_id, false);
    add_string(o, "service_name", r->service_name, false);
    json_object_object_add(o, "duration_seconds", json_object_new_int(r->duration_seconds));
    json_object_object_add(o, "pid", r->pid > 0 ? json_object_new_int64(r->pid) : NULL);
    json_object_object_add(o, "rate_hz", json_object_new_int(r->rate_hz));
    json_object_object_add(o, "profile_type",
                           json_object_new_string(profd_profile_type_name(r->profile_type)));
    if (r->profile_type == PROFD_PROFILE_MEMORY)
        json_object_object_add(o, "memory_frames", json_object_new_int(r->memory_frames));
    add_string(o, "host", r->host, true);
    json_object_object_add(o, "trigger", json_object_new_string(r->trigger));
    add_string(o, "requested_by", r->requested_by, false);
    add_string(o, "requested_at", r->requested_at, false);
    json_object *options = json_object_new_object();
    for (size_t i = 0; i < COUNT(option_names); i++)
        json_object_object_add(options, option_names[i], json_object_new_boolean(opts[i]));
    json_object_object_add(o, "options", options);
    json_object_object_add(o, "labels",
                           r->labels ? json_object_get(r->labels) : json_object_new_object());
    if (r->type == PROFD_REQ_ALERT) {
        add_string(o, "source", r->alert_source, false);
        json_object_object_add(o, "payload",
                               r->alert_payload ? json_object_get(r->alert_payload)
                                                : json_object_new_object());
    }
    return o;
}
