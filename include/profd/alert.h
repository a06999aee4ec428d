/* alert.h - automatic profiling from alerts (docs/alerts.md).
 *
 * Alertmanager webhooks (version 4) and Cloud Monitoring incident
 * notifications become profiling requests: each firing alert's labels name a
 * service (and optionally a host and pid); distinct targets get one capture
 * each, behind a per-service cooldown and per-service / global caps on the
 * alert-triggered captures in flight. The code is a module of its own
 * (src/alert/) so the REST API (POST /api/v1/monitoring/alerts/{alertmanager,
 * gcp}) and the worker (bus messages of type "alert") run exactly the same
 * path without the API linking the worker. It queues sessions through
 * profd_session_enqueue (lifecycle.h), like every other way in.
 *
 * The pure parts (payload parsing, label mapping, label bounding, the token
 * check) are separate functions, unit-tested and fuzzable without a store. */
#ifndef PROFD_ALERT_H
#define PROFD_ALERT_H

#include <json-c/json.h>
#include <stdbool.h>

#include "bus.h"
#include "config.h"
#include "session.h"
#include "store.h"
#include "util.h"

#define PROFD_ALERT_MAX_ALERTS 1000 /* alerts read from one payload; the rest: too_many */
#define PROFD_ALERT_MAX_LABELS 32   /* labels copied to a session (the request's rule) */

/* Skip reasons: the values of profd_alerts_skipped_total{reason}. */
#define PROFD_ALERT_RESOLVED "resolved"     /* resolved / closed */
#define PROFD_ALERT_NOT_FIRING "not_firing" /* another state (e.g. acknowledged) */
#define PROFD_ALERT_MALFORMED "malformed"   /* an alert entry that is not an object */
#define PROFD_ALERT_TOO_MANY "too_many"     /* past PROFD_ALERT_MAX_ALERTS */
#define PROFD_ALERT_NO_SERVICE "no_service" /* none of the service labels present */
#define PROFD_ALERT_BAD_SERVICE "invalid_service"
#define PROFD_ALERT_BAD_TARGET "invalid_target" /* a bad host or pid label */
#define PROFD_ALERT_DUPLICATE "duplicate"       /* same target as an earlier alert / delivery */
#define PROFD_ALERT_COOLDOWN_R "cooldown"
#define PROFD_ALERT_SERVICE_CAP "service_cap"
#define PROFD_ALERT_GLOBAL_CAP "global_cap"
#define PROFD_ALERT_BUSY "busy" /* the admission lock stayed taken */
#define PROFD_ALERT_STORE_ERROR "store_error"
#define PROFD_ALERT_BUS_ERROR "bus_error"

/* One alert of a payload, flattened. */
typedef struct profd_alert {
    bool firing;
    const char *state;   /* "firing", "resolved", "open", "closed", ... (static or payload) */
    json_object *labels; /* owned: every string label, unbounded */
    char name[128];      /* alertname / policy_name, for logs ("" unknown) */
} profd_alert;

typedef struct profd_alert_list {
    profd_alert *v;
    int n;
    int extra; /* alerts past PROFD_ALERT_MAX_ALERTS, skipped as too_many */
} profd_alert_list;

/* source "alertmanager" or "gcp". -1 with err (a sentence naming the field)
 * when the payload is not a webhook body of that source. */
int profd_alert_parse(const char *source, json_object *payload, profd_alert_list *out,
                      profd_error *err);
void profd_alert_list_free(profd_alert_list *l);

typedef struct profd_alert_target {
    char service[64];
    char host[256]; /* "" any worker that can resolve the service */
    long pid;       /* 0: resolve from PROFD_TARGETS */
} profd_alert_target;

/* Map labels to a target: service from the first present label named in
 * service_labels (comma-separated), host from `profd_host` else `host`, pid
 * from `profd_pid` else `pid` (used only with a host). 0 ok; -1 with
 * *reason (a PROFD_ALERT_* constant) and a sentence in detail. */
int profd_alert_target_of(json_object *labels, const char *service_labels, profd_alert_target *t,
                          const char **reason, char *detail, size_t detail_len);

/* The labels a session gets: keys matching ^[A-Za-z_][A-Za-z0-9_.-]{0,62}$
 * with string values, control characters replaced by spaces, values cut to
 * 256 characters, the first PROFD_ALERT_MAX_LABELS of them. New object. */
json_object *profd_alert_bounded_labels(json_object *labels);

/* Webhook auth: the token as "Authorization: Bearer T", as the password of
 * "Authorization: Basic b64(user:T)", or as the query value auth_token=T.
 * Compared in constant time. true when one of them matches; never true when
 * token is empty. */
bool profd_alert_token_ok(const char *token, const char *authorization, const char *query_token);

/* ---- intake: guards, records, publication (src/alert/ingest.c) -------- */

typedef struct profd_alert_ctx {
    const profd_config *cfg;
    profd_store *store;
    profd_bus *bus;           /* produce: requests and events */
    const char *default_host; /* profd serve: host of requests without one; NULL: none */
    const char *delivery_id;  /* bus delivery id: session ids derive from it; NULL: random */
} profd_alert_ctx;

typedef struct profd_alert_skip {
    const char *reason; /* PROFD_ALERT_* */
    char service[64];   /* "" unknown */
    char alert[128];    /* alert name, "" unknown */
    char detail[256];
} profd_alert_skip;

typedef struct profd_alert_result {
    int received;
    int nstarted;
    char (*started)[PROFD_UUID_LEN + 1];
    int nskipped;
    profd_alert_skip *skipped;
} profd_alert_result;

/* Parse the payload, then start one capture per distinct firing target that
 * passes the guards: each start records a queued session (trigger alert,
 * the alert's bounded labels, PROFD_ALERT_DURATION clamped to the duration
 * bounds), publishes the profile request and a session.queued event. Counts
 * profd_alerts_received_total / profd_alerts_skipped_total. -1 with err only
 * when the payload is not a webhook body (nothing is counted then). */
PROFD_MUST_USE int profd_alert_ingest(const profd_alert_ctx *c, const char *source,
                                      json_object *payload, profd_alert_result *out,
                                      profd_error *err);
void profd_alert_result_free(profd_alert_result *r);
/* {"started":[ids],"skipped":[{"reason","service","alert","detail"}]} */
json_object *profd_alert_result_json(const profd_alert_result *r);

/* The worker's path for a type "alert" message. 0 handled (acknowledge it);
 * -1 with err when its payload is not a webhook body (reject it). */
PROFD_MUST_USE int profd_alert_handle_message(const profd_config *cfg, profd_store *st,
                                              profd_bus *b, const profd_request *r,
                                              const char *delivery_id, profd_error *err);

#endif
