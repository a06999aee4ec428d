/* config.c - the PROFD_* environment, table-driven.
 *
 * One table names every variable, its field, its default and its bounds, so
 * defaults, parsing, validation and `profd help env` can never disagree. */
#include "profd/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { STR, INT } kind;

typedef struct var {
    const char *name;
    kind type;
    size_t off, size;
    const char *def;
    long lo, hi;
    const char *help;
} var;

#define S(n, f, d, h)                                                                              \
    {                                                                                              \
        n, STR, offsetof(profd_config, f), sizeof(((profd_config *)0)->f), d, 0, 0, h              \
    }
#define I(n, f, d, lo, hi, h)                                                                      \
    {                                                                                              \
        n, INT, offsetof(profd_config, f), 0, #d, lo, hi, h                                        \
    }

static const var vars[] = {
    S("PROFD_BUS", bus, "kafka", "kafka | pubsub | memory (serve defaults to memory)"),
    S("PROFD_KAFKA_BROKERS", kafka_brokers, "127.0.0.1:9092", "Kafka bootstrap servers"),
    S("PROFD_KAFKA_GROUP", kafka_group, "profd-workers",
      "consumer group prefix; a worker's group is PREFIX.PROFD_HOST"),
    S("PROFD_KAFKA_CONFIG", kafka_config, "", "file of extra librdkafka key=value lines"),
    S("PROFD_REQUEST_TOPIC", request_topic, "profiling.requests", "topic of requests"),
    S("PROFD_EVENT_TOPIC", event_topic, "profiling.events", "topic of session events"),
    S("PROFD_DLQ_TOPIC", dlq_topic, "profiling.requests.dlq", "topic of rejected requests"),
    S("PUBSUB_EMULATOR_HOST", pubsub_emulator_host, "", "Pub/Sub emulator host:port"),
    S("GOOGLE_CLOUD_PROJECT", gcp_project, "", "GCP project of the Pub/Sub names"),
    S("PROFD_PUBSUB_SUBSCRIPTION", pubsub_subscription, "profiling-requests-workers",
      "subscription shared by all workers"),
    S("PROFD_PUBSUB_EVENT_TOPIC", pubsub_event_topic, "profiling-events", "topic of events"),
    S("PROFD_REDIS_URL", redis_url, "redis://127.0.0.1:6379/0",
      "redis[s]://[:password@]host:port[/db], or 'memory'"),
    I("PROFD_SESSION_TTL_DAYS", session_ttl_days, 7, 1, 3650, "session retention in days"),
    S("PROFD_STORAGE", storage, "file://./profd-data", "gs://BUCKET[/PREFIX] or file:///DIR"),
    S("STORAGE_EMULATOR_HOST", storage_emulator_host, "", "GCS emulator (plain http, no auth)"),
    S("GOOGLE_APPLICATION_CREDENTIALS", google_credentials, "", "service-account key file"),
    I("PROFD_SIGNED_URL_TTL", signed_url_ttl, 3600, 1, 604800, "lifetime of links in seconds"),
    S("PROFD_SAMPLER", sampler, "auto", "auto | py-spy | builtin"),
    S("PROFD_PYSPY", pyspy, "py-spy", "py-spy executable"),
    I("PROFD_MAX_CONCURRENT", max_concurrent, 4, 1, 1024, "captures at once per worker"),
    I("PROFD_DURATION_MIN", duration_min, 10, 1, 86400, "shortest capture in seconds"),
    I("PROFD_DURATION_MAX", duration_max, 300, 1, 86400, "longest capture in seconds"),
    I("PROFD_LEASE_SECONDS", lease_seconds, 30, 1, 3600, "lease of a running session"),
    I("PROFD_REQUEST_TTL", request_ttl, 600, 1, 604800,
      "seconds a request may wait before it fails as unroutable"),
    I("PROFD_SHUTDOWN_GRACE", shutdown_grace, 30, 0, 3600,
      "seconds running captures get after SIGTERM"),
    S("PROFD_TARGETS", targets, "", "JSON file: service -> pid | pidfile | cmdline"),
    I("PROFD_ALLOW_ANY_PID", allow_any_pid, 0, 0, 1,
      "1: a root worker may profile any process (development only)"),
    S("PROFD_HOST", host, "", "this worker's host identity [hostname]"),
    S("PROFD_LISTEN", listen, "127.0.0.1:8080", "API address"),
    S("PROFD_METRICS_LISTEN", metrics_listen, "", "worker metrics address (off when empty)"),
    I("PROFD_HTTP_MAX_CONNECTIONS", http_max_connections, 1024, 16, 65536,
      "API connections at once, in all"),
    I("PROFD_HTTP_MAX_PER_ADDRESS", http_max_per_address, 64, 1, 65536,
      "API connections at once from one client address"),
    I("PROFD_HTTP_WORKERS", http_workers, 8, 1, 256, "API handler threads"),
    I("PROFD_HTTP_HEADER_TIMEOUT", http_header_timeout, 10, 1, 3600,
      "seconds a client has to send a whole request head"),
    I("PROFD_HTTP_BODY_TIMEOUT", http_body_timeout, 30, 1, 3600,
      "seconds a client has to send a whole request body"),
    I("PROFD_HTTP_IDLE_TIMEOUT", http_idle_timeout, 15, 1, 3600,
      "seconds a keep-alive connection may wait for its next request"),
    I("PROFD_HTTP_WRITE_TIMEOUT", http_write_timeout, 15, 1, 3600,
      "seconds a response write may make no progress before the client is dropped"),
    S("PROFD_JWT_SECRET", jwt_secret, "", "HS256 secret"),
    S("PROFD_JWT_PUBLIC_KEY", jwt_public_key, "", "PEM public key or JWKS file"),
    S("PROFD_JWT_ISSUER", jwt_issuer, "", "required iss"),
    S("PROFD_JWT_AUDIENCE", jwt_audience, "", "required aud"),
    I("PROFD_RATE_LIMIT", rate_limit, 10, 1, 100000, "session starts per minute per subject"),
    S("PROFD_ADMIN_ROLE", admin_role, "admin", "role required on profiling endpoints"),
    S("PROFD_ALERT_TOKEN", alert_token, "", "secret alert webhooks must present"),
    S("PROFD_ALERT_SERVICE_LABELS", alert_service_labels, "service,job",
      "alert labels naming the service, in order"),
    I("PROFD_ALERT_COOLDOWN", alert_cooldown, 900, 0, 86400,
      "seconds between alert captures of one service"),
    S("PROFD_SPOOL_DIR", spool_dir, "/tmp/profd-spool",
      "local directory for capture files until they are stored"),
    S("PROFD_GCS_ENDPOINT", gcs_endpoint, "https://storage.googleapis.com",
      "Cloud Storage JSON API base URL (authenticated)"),
    S("GCE_METADATA_HOST", gce_metadata_host, "metadata.google.internal",
      "metadata server host[:port] for tokens on GCE/GKE"),
    S("PROFD_IAM_ENDPOINT", iam_endpoint, "https://iamcredentials.googleapis.com",
      "IAM Credentials API base (signBlob for signed URLs without a key file)"),
    I("PROFD_CLEANUP_DAYS", cleanup_days, -1, -1, 3650,
      "workers remove sessions and blobs older than this many days (0: off; -1: "
      "PROFD_SESSION_TTL_DAYS)"),
    I("PROFD_CLEANUP_INTERVAL", cleanup_interval, 3600, 1, 604800,
      "seconds between periodic cleanups (one worker runs each)"),
    S("PROFD_REDIS_CA", redis_ca, "",
      "rediss://: CA certificates (PEM file or directory) [system store]"),
    S("PROFD_REDIS_CERT", redis_cert, "", "rediss://: client certificate (PEM)"),
    S("PROFD_REDIS_KEY", redis_key, "", "rediss://: client private key (PEM) [PROFD_REDIS_CERT]"),
    I("PROFD_ALERT_MAX_PER_SERVICE", alert_max_per_service, 1, 1, 100,
      "alert-triggered captures queued or running at once for one service"),
    I("PROFD_ALERT_MAX_RUNNING", alert_max_running, 4, 1, 100,
      "alert-triggered captures queued or running at once in all"),
    I("PROFD_ALERT_DURATION", alert_duration, 30, 1, 86400,
      "seconds of an alert-triggered capture (clamped to PROFD_DURATION_MIN/MAX)"),
    S("PROFD_LOG_LEVEL", log_level, "info", "debug | info | warn | error"),
    S("PROFD_LOG_FORMAT", log_format, "", "json | text [json when stderr is not a terminal]"),
};

#define NVARS (sizeof vars / sizeof vars[0])

static int apply(profd_config *c, const var *v, const char *val, profd_error *err)
{
    char *field = (char *)c + v->off;
    if (v->type == STR) {
        if (strlen(val) >= v->size) {
            profd_error_set(err, NULL, "%s is too long (at most %zu bytes)", v->name, v->size - 1);
            return -1;
        }
        profd_strlcpy(field, val, v->size);
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(val, &end, 10);
    if (errno || end == val || *end || n < v->lo || n > v->hi) {
        profd_error_set(err, NULL, "%s must be an integer from %ld to %ld, not '%s'", v->name,
                        v->lo, v->hi, val);
        return -1;
    }
    *(int *)field = (int)n;
    return 0;
}

/* Settings with a fixed, documented value that no variable changes: pure
 * tuning no operator needs to set (see the docs named beside each). */
#define PROFD_SESSION_MAX_ATTEMPTS 2 /* docs/worker.md, "Lost workers" */

int profd_config_load(profd_config *c, profd_error *err)
{
    memset(c, 0, sizeof *c);
    c->max_attempts = PROFD_SESSION_MAX_ATTEMPTS;
    for (size_t i = 0; i < NVARS; i++)
        if (apply(c, &vars[i], vars[i].def, err) != 0)
            return -1;
    for (size_t i = 0; i < NVARS; i++) {
        const char *val = getenv(vars[i].name);
        if (val && apply(c, &vars[i], val, err) != 0)
            return -1;
    }
    if (c->cleanup_days < 0)
        c->cleanup_days = c->session_ttl_days;
    if (!c->host[0] && gethostname(c->host, sizeof c->host - 1) != 0)
        profd_strlcpy(c->host, "localhost", sizeof c->host);
    if (strcmp(c->bus, "kafka") && strcmp(c->bus, "pubsub") && strcmp(c->bus, "memory")) {
        profd_error_set(err, NULL, "PROFD_BUS must be kafka, pubsub or memory, not '%s'", c->bus);
        return -1;
    }
    if (strcmp(c->sampler, "auto") && strcmp(c->sampler, "py-spy") &&
        strcmp(c->sampler, "builtin")) {
        profd_error_set(err, NULL, "PROFD_SAMPLER must be auto, py-spy or builtin, not '%s'",
                        c->sampler);
        return -1;
    }
    if (c->duration_min > c->duration_max) {
        profd_error_set(err, NULL, "PROFD_DURATION_MIN (%d) is above PROFD_DURATION_MAX (%d)",
                        c->duration_min, c->duration_max);
        return -1;
    }
    return 0;
}

void profd_config_print_env_help(void)
{
    printf("Environment (defaults in brackets):\n");
    for (size_t i = 0; i < NVARS; i++)
        printf("  %-32s %s%s%s%s\n", vars[i].name, vars[i].help, vars[i].def[0] ? " [" : "",
               vars[i].def, vars[i].def[0] ? "]" : "");
}
