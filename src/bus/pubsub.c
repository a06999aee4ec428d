/* pubsub.c - the Google Cloud Pub/Sub transport, over the REST API.
 *
 * Where it talks: PUBSUB_EMULATOR_HOST (plain http, no auth) when set, else
 * https://pubsub.googleapis.com/v1 with a bearer token from the token provider
 * the GCS store uses (profd/gcp.h: key file, else the metadata server).
 *
 * Names (short names resolve within GOOGLE_CLOUD_PROJECT; full
 * "projects/..." names are taken as they are):
 *   consume  PROFD_PUBSUB_SUBSCRIPTION  one subscription shared by all workers
 *   requests PROFD_REQUEST_TOPIC        what the API and `profd submit` publish
 *   events   PROFD_PUBSUB_EVENT_TOPIC   session events
 *   rejects  PROFD_DLQ_TOPIC            rejected requests
 * A message's key travels as the attribute session_id (every key profd uses
 * is a session id) and headers as further attributes, so a DLQ message
 * carries profd-error-code and profd-error. No ordering keys: they need
 * ordering enabled on the subscription and stall a key's later messages after
 * a failed publish; events carry emitted_at and a status that never goes back.
 *
 * Opening a consumer reads the subscription once: it must exist (a clear
 * error says to create it), and its ackDeadlineSeconds is what the lease
 * extender renews to. The consumer side lives in pubsub_consume.c.
 *
 * Publishing is synchronous: a publish returns once Pub/Sub has the message,
 * retrying 408/429/5xx and connection errors with backoff for up to 15 s, so
 * flush() has nothing left to wait for. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profd/log.h"
#include "pubsub_internal.h"

#define PUBLISH_ATTEMPTS 6
#define PUBLISH_TOTAL_MS 15000
#define PING_TIMEOUT_MS 3000
#define ATTR_VALUE_MAX 1024 /* Pub/Sub's limit on an attribute value */
#define DEFAULT_ACK_DEADLINE 10

static int p_publish(profd_bus *bb, profd_topic t, const char *key, const char *data, size_t len,
                     const profd_header *hdrs, size_t nhdrs, profd_error *err)
{
    psbus *b = (psbus *)bb;
    if (!(b->roles & PROFD_BUS_PRODUCE) || (unsigned)t > PROFD_TOPIC_DLQ) {
        profd_error_set(err, NULL, "this Pub/Sub bus was opened without the produce role");
        return -1;
    }
    char *b64 = profd_b64((const unsigned char *)(data ? data : ""), data ? len : 0, false);
    if (!b64) {
        profd_error_set(err, NULL, "out of memory while publishing a message");
        return -1;
    }
    json_object *msg = json_object_new_object(), *attrs = json_object_new_object();
    json_object_object_add(msg, "data", json_object_new_string(b64));
    free(b64);
    if (key && key[0])
        json_object_object_add(attrs, "session_id", json_object_new_string(key));
    for (size_t i = 0; i < nhdrs; i++) {
        const char *v = hdrs[i].value ? hdrs[i].value : "";
        size_t vl = strlen(v);
        json_object_object_add(
            attrs, hdrs[i].name,
            json_object_new_string_len(v, vl > ATTR_VALUE_MAX ? ATTR_VALUE_MAX : (int)vl));
    }
    if (json_object_object_length(attrs))
        json_object_object_add(msg, "attributes", attrs);
    else
        json_object_put(attrs);
    json_object *body = json_object_new_object(), *arr = json_object_new_array();
    json_object_array_add(arr, msg);
    json_object_object_add(body, "messages", arr);
    char path[PS_NAME_MAX + 16], what[PS_NAME_MAX + 32];
    snprintf(path, sizeof path, "%s:publish", b->topics[t]);
    snprintf(what, sizeof what, "publishing to %s", b->topics[t]);
    profd_gcp_resp r;
    int rc = bus__ps_http_call(b->http, "POST", path, json_object_to_json_string(body),
                               PUBLISH_ATTEMPTS, PUBLISH_TOTAL_MS, what, &r, err);
    profd_gcp_resp_free(&r);
    json_object_put(body);
    return rc;
}

static int p_flush(profd_bus *b, int timeout_ms)
{
    (void)b, (void)timeout_ms;
    return 0; /* publish() returns only once Pub/Sub has the message */
}

/* GET a subscription or topic: 0 with the parsed body in *out (may be NULL). */
static int get_resource(psbus *b, const char *name, int attempts, int total_ms, json_object **out,
                        profd_error *err)
{
    char what[PS_NAME_MAX + 32];
    snprintf(what, sizeof what, "reading %s", name);
    profd_gcp_resp r;
    int rc = bus__ps_http_call(b->http, "GET", name, NULL, attempts, total_ms, what, &r, err);
    if (out)
        *out = rc == 0 && r.body ? json_tokener_parse(r.body) : NULL;
    profd_gcp_resp_free(&r);
    return rc;
}

static int p_ping(profd_bus *bb, profd_error *err)
{
    psbus *b = (psbus *)bb;
    const char *name = (b->roles & PROFD_BUS_CONSUME) ? b->sub : b->topics[PROFD_TOPIC_REQUESTS];
    return get_resource(b, name, 1, PING_TIMEOUT_MS, NULL, err);
}

static void p_close(profd_bus *bb)
{
    psbus *b = (psbus *)bb;
    if (!b)
        return;
    bus__ps_consume_stop(b);
    bus__ps_http_free(b->http);
    profd_gcp_free(b->gcp);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->ext_mu);
    pthread_cond_destroy(&b->cv);
    free(b);
}

static const profd_bus_ops pubsub_ops = {bus__ps_poll,  bus__ps_done,   bus__ps_extend,
                                         bus__ps_pause, bus__ps_resume, p_publish,
                                         p_flush,       p_ping,         p_close};

static int resolve_names(psbus *b, const profd_config *cfg, profd_error *err)
{
    const char *p = cfg->gcp_project;
    if ((b->roles & PROFD_BUS_CONSUME) &&
        bus__ps_resource_name(b->sub, sizeof b->sub, p, "subscriptions", cfg->pubsub_subscription,
                              "PROFD_PUBSUB_SUBSCRIPTION", err) != 0)
        return -1;
    return bus__ps_resource_name(b->topics[PROFD_TOPIC_REQUESTS], PS_NAME_MAX, p, "topics",
                                 cfg->request_topic, "PROFD_REQUEST_TOPIC", err) ||
                   bus__ps_resource_name(b->topics[PROFD_TOPIC_EVENTS], PS_NAME_MAX, p, "topics",
                                         cfg->pubsub_event_topic, "PROFD_PUBSUB_EVENT_TOPIC",
                                         err) ||
                   bus__ps_resource_name(b->topics[PROFD_TOPIC_DLQ], PS_NAME_MAX, p, "topics",
                                         cfg->dlq_topic, "PROFD_DLQ_TOPIC", err)
               ? -1
               : 0;
}

static int connect_api(psbus *b, const profd_config *cfg, profd_error *err)
{
    char api[PS_NAME_MAX], host[256];
    const char *emu = cfg->pubsub_emulator_host;
    if (emu[0]) {
        profd_strlcpy(host, strncmp(emu, "http://", 7) == 0 ? emu + 7 : emu, sizeof host);
        size_t n = strlen(host);
        while (n && host[n - 1] == '/')
            host[--n] = '\0';
        snprintf(api, sizeof api, "http://%s/v1", host);
    } else {
        profd_strlcpy(api, PS_DEFAULT_API, sizeof api);
    }
    profd_gcp_opts ao = {.key_file = cfg->google_credentials,
                         .metadata_host = cfg->gce_metadata_host,
                         .iam_endpoint = cfg->iam_endpoint,
                         .no_auth = emu[0] != '\0',
                         .keep_alive = true};
    if (!(b->gcp = profd_gcp_new(&ao, err)))
        return -1;
    return (b->http = bus__ps_http_new(api, b->gcp, err)) ? 0 : -1;
}

/* The subscription must exist; its ack deadline sets the lease rhythm. */
static int read_subscription(psbus *b, profd_error *err)
{
    json_object *o = NULL, *v;
    profd_error e = {0};
    b->ack_deadline = DEFAULT_ACK_DEADLINE;
    if (get_resource(b, b->sub, 3, 5000, &o, &e) != 0) {
        if (strstr(e.msg, "HTTP 404") || strstr(e.msg, "HTTP 403") || strstr(e.msg, "HTTP 400") ||
            strstr(e.msg, "access token")) {
            profd_error_set(err, NULL, "PROFD_PUBSUB_SUBSCRIPTION: %s", e.msg);
            return -1;
        }
        LOG_W(NULL, "pubsub.unreachable", "%s; starting anyway and retrying", e.msg);
        return 0;
    }
    if (o && json_object_object_get_ex(o, "ackDeadlineSeconds", &v)) {
        int s = json_object_get_int(v);
        b->ack_deadline = s < 10 ? 10 : s > 600 ? 600 : s;
    }
    json_object_put(o);
    return 0;
}

profd_bus *profd_bus_pubsub_open(const profd_config *cfg, int roles, profd_error *err)
{
    psbus *b = calloc(1, sizeof *b);
    if (!b) {
        profd_error_set(err, NULL, "out of memory while opening the Pub/Sub bus");
        return NULL;
    }
    b->base.ops = &pubsub_ops;
    b->base.cfg = cfg;
    b->roles = roles;
    b->max_buffer = cfg->max_concurrent > 0 ? cfg->max_concurrent : 1;
    b->ack_deadline = DEFAULT_ACK_DEADLINE;
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->ext_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (resolve_names(b, cfg, err) != 0 || connect_api(b, cfg, err) != 0 ||
        ((roles & PROFD_BUS_CONSUME) &&
         (read_subscription(b, err) != 0 || bus__ps_consume_start(b, err) != 0))) {
        p_close(&b->base);
        return NULL;
    }
    LOG_D(NULL, "pubsub.open", "subscription %s (ack deadline %d s), requests to %s",
          (roles & PROFD_BUS_CONSUME) ? b->sub : "-", b->ack_deadline,
          b->topics[PROFD_TOPIC_REQUESTS]);
    return &b->base;
}
