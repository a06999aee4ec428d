/* session.h - the three messages of the contract (docs/messages.md):
 * profiling requests, session records and events.
 *
 * Parsing is strict where the contract is strict (types, ranges, patterns) and
 * lenient where it says so (unknown fields are ignored). The same rules live in
 * the JSON Schemas in schemas/; tests/session runs one fixture set through both so
 * they cannot drift. Session records carry a few fields the API never shows
 * (object names, the target's start time, the request options) so that a
 * worker can retry or reprocess a session from its record alone. */
#ifndef PROFD_SESSION_H
#define PROFD_SESSION_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "render.h" /* profd_format only: the artefact table names renderer formats */
#include "util.h"

typedef enum { PROFD_QUEUED, PROFD_RUNNING, PROFD_COMPLETED, PROFD_FAILED } profd_status;

const char *profd_status_name(profd_status s);
int profd_status_parse(const char *s, profd_status *out); /* 0 ok, -1 unknown */
bool profd_status_terminal(profd_status s);

typedef struct profd_options {
    bool nonblocking, subprocesses, native, idle, gil;
} profd_options;

typedef enum {
    PROFD_REQ_PROFILE,
    PROFD_REQ_REPROCESS,
    PROFD_REQ_CANCEL,
    PROFD_REQ_ALERT
} profd_req_type;

/* What a session captures: CPU stacks (weights are samples) or live memory
 * (weights are bytes; docs/memory.md). */
typedef enum { PROFD_PROFILE_CPU, PROFD_PROFILE_MEMORY } profd_profile_type;

const char *profd_profile_type_name(profd_profile_type t);            /* "cpu" | "memory" */
int profd_profile_type_parse(const char *s, profd_profile_type *out); /* 0 ok, -1 unknown */

#define PROFD_MEMORY_FRAMES_DEFAULT 64
#define PROFD_MEMORY_FRAMES_MAX 1024

typedef struct profd_request {
    int version;
    profd_req_type type;
    profd_profile_type profile_type;     /* default cpu */
    int memory_frames;                   /* tracemalloc frame depth, memory only (default 64) */
    char session_id[PROFD_UUID_LEN + 1]; /* "" when absent */
    char service_name[64];
    int duration_seconds;
    long pid; /* 0 when null */
    int rate_hz;
    char host[256]; /* "" when null */
    char trigger[32];
    char requested_by[128];
    char requested_at[40]; /* as sent, "" when absent */
    profd_options options;
    json_object *labels;        /* owned; NULL when absent */
    char alert_source[32];      /* type alert */
    json_object *alert_payload; /* owned; type alert */
} profd_request;

typedef struct profd_limits {
    int duration_min, duration_max;
} profd_limits;

/* The strict RFC 8259 check every JSON input passes before json-c
 * (src/session/json_check.c): one value in valid UTF-8, no NaN, no single
 * quotes, no comments, no leading zeros, no trailing commas, no U+0000 and no
 * lone surrogate in any string, at most PROFD_JSON_MAX_DEPTH deep. 0 when
 * buf[0..len) is acceptable; otherwise -1, *why is a static phrase ("invalid
 * UTF-8", ...) and *at the offset of the offending byte in buf. */
#define PROFD_JSON_MAX_DEPTH 64
int profd_json_check(const char *buf, size_t len, const char **why, size_t *at);

/* Defaults: version 1, profile, 60 s, 100 Hz, trigger "api". */
void profd_request_init(profd_request *r);
/* Validate and decode one message. On failure err->code is PROFD_E_INVALID and
 * err->msg names the field and the rule ("duration_seconds: Duration must be
 * between 10 and 300 seconds"). The session id, if one was readable, is still
 * copied to out->session_id so the caller can fail that session. */
int profd_request_parse(const char *buf, size_t len, const profd_limits *lim, profd_request *out,
                        profd_error *err);
json_object *profd_request_to_json(const profd_request *r);
void profd_request_free(profd_request *r);

typedef struct profd_session {
    char session_id[PROFD_UUID_LEN + 1];
    char service_name[64];
    long pid; /* 0: null */
    profd_status status;
    int64_t created_at, started_at, completed_at, reprocessed_at; /* ms; 0: null */
    int duration_seconds;
    int sample_rate_hz;
    double overhead_percent; /* < 0: null */
    char trigger[32];
    char host[256];
    char sampler[64];
    long sample_count; /* < 0: null */
    char error_code[32];
    char error_message[512];
    int attempt;
    json_object *labels; /* owned; NULL: {} */
    char requested_by[128];
    char renderer[64];
    profd_profile_type profile_type;
    long long bytes_total;  /* memory sessions: live bytes at the end; < 0: null */
    long long blocks_total; /* memory sessions: live blocks at the end; < 0: null */
    /* Stored, never shown by the API. */
    int memory_frames;            /* tracemalloc frame depth of a memory session */
    char flame_graph_object[256]; /* "sessions/{id}/flamegraph.html" once stored */
    char raw_data_object[256];
    char stacks_object[256];
    unsigned long long target_start_time; /* /proc/PID/stat field 22 */
    profd_options options;
    char target_host[256]; /* the host the request named ("" any) */
    /* Filled when a session is read or announced; never stored. */
    char flame_graph_url[2048];
    char raw_data_url[2048];
} profd_session;

void profd_session_init(profd_session *s);
/* A queued session for a validated request (created_at = now). */
void profd_session_from_request(profd_session *s, const profd_request *r);
void profd_session_free(profd_session *s);
/* Deep copy (labels are shared by reference count). */
void profd_session_copy(profd_session *dst, const profd_session *src);

/* stored = true: the record as kept in the store (with internal fields);
 * false: the contract's public shape, with the URL fields. */
json_object *profd_session_to_json(const profd_session *s, bool stored);
char *profd_session_to_string(const profd_session *s, bool stored); /* malloc'd */
int profd_session_parse(const char *buf, size_t len, profd_session *out, profd_error *err);

/* Event: {"event_id","type":"session.<status>","emitted_at","session":{...}}. */
char *profd_event_to_string(const char *type, const profd_session *s); /* malloc'd */

/* Set status, code and message of a failure, and completed_at = now. */
void profd_session_fail(profd_session *s, const char *code, const char *msg);

/* ---- the storage layout (docs/storage.md) ------------------------------------
 *
 * A completed session leaves PROFD_ARTIFACTS objects, each named
 * "sessions/{id}/{file}". This table is the one list of them: the worker
 * renders and uploads them in this order (stacks.txt first: it is the input of
 * reprocessing and diffs), reprocess re-renders all but the first, cleanup
 * removes them, `profd profile` writes them locally, and the API links the
 * ones the record names. Adding an output file means adding a row here (and,
 * if the API should link it, a record field). */

enum { PROFD_ART_STACKS, PROFD_ART_PROFILE, PROFD_ART_FLAMEGRAPH, PROFD_ARTIFACTS };

typedef struct profd_artifact {
    const char *file;         /* "stacks.txt": the last part of the object name */
    const char *content_type; /* as stored and served */
    profd_format format;      /* what the renderer writes into it */
    size_t record_field;      /* offsetof(profd_session, ..._object): where its name is kept */
} profd_artifact;

extern const profd_artifact profd_artifacts[PROFD_ARTIFACTS];

#define PROFD_OBJECT_PREFIX "sessions/" /* every session object, for listings */

/* "sessions/{id}/{file}" into out. 0 ok, -1 when it does not fit (out is then ""). */
PROFD_MUST_USE int profd_session_object(const char *id, const char *file, char *out, size_t len);
/* The session id of an object name "sessions/{id}/..." into id (>= 37 bytes):
 * true when the name has that shape (the id is not checked to be a UUID). */
bool profd_session_object_id(const char *object, char *id);
/* The record field that keeps the object name of artefact i (256 bytes). */
char *profd_session_artifact_object(profd_session *s, int i);

#endif
