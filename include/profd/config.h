/* config.h - every PROFD_* setting in one struct, read once from the
 * environment (`profd help env` lists them). Commands override fields from their flags
 * after profd_config_load. Nothing else in profd calls getenv for settings. */
#ifndef PROFD_CONFIG_H
#define PROFD_CONFIG_H

#include "util.h"

typedef struct profd_config {
    char bus[16]; /* kafka | pubsub | memory */
    char kafka_brokers[512];
    char kafka_group[128];
    char kafka_config[1024];
    char request_topic[256], event_topic[256], dlq_topic[256];
    char pubsub_emulator_host[256], gcp_project[256];
    char pubsub_subscription[512], pubsub_event_topic[512];
    char redis_url[1024];
    int session_ttl_days;
    char storage[1024];
    char storage_emulator_host[256];
    char google_credentials[1024];
    int signed_url_ttl;
    char sampler[16]; /* auto | py-spy | builtin */
    char pyspy[1024];
    int max_concurrent;
    int duration_min, duration_max;
    int lease_seconds;
    int request_ttl;
    int shutdown_grace;
    char targets[1024];
    int allow_any_pid;
    char host[256];
    char listen[256];
    char metrics_listen[256];
    /* The HTTP front (docs/http-front.md): limits and deadlines in seconds. */
    int http_max_connections, http_max_per_address, http_workers;
    int http_header_timeout, http_body_timeout, http_idle_timeout, http_write_timeout;
    char jwt_secret[512];
    char jwt_public_key[1024];
    char jwt_issuer[256], jwt_audience[256];
    int rate_limit;
    char admin_role[64];
    char alert_token[256];
    char alert_service_labels[256];
    int alert_cooldown;
    char spool_dir[1024]; /* PROFD_SPOOL_DIR: local copies of capture files */
    int max_attempts;     /* runs of one session before worker_lost: 2 (no variable) */
    /* GCS store and Google auth (docs/storage.md) */
    char gcs_endpoint[512];      /* PROFD_GCS_ENDPOINT: JSON API base, with auth */
    char gce_metadata_host[256]; /* GCE_METADATA_HOST */
    char iam_endpoint[256];      /* PROFD_IAM_ENDPOINT: IAM Credentials API base */
    /* Periodic cleanup in the workers (docs/cleanup.md) */
    int cleanup_days;     /* PROFD_CLEANUP_DAYS: 0 off; -1 (default) = session_ttl_days */
    int cleanup_interval; /* PROFD_CLEANUP_INTERVAL seconds between runs */
    /* Redis over TLS, for rediss:// URLs (docs/reliability.md) */
    char redis_ca[1024];   /* PROFD_REDIS_CA: CA PEM file or directory ("" system) */
    char redis_cert[1024]; /* PROFD_REDIS_CERT: client certificate PEM */
    char redis_key[1024];  /* PROFD_REDIS_KEY: its private key PEM */
    /* Alert-triggered captures (docs/alerts.md) */
    int alert_max_per_service; /* PROFD_ALERT_MAX_PER_SERVICE: queued+running per service */
    int alert_max_running;     /* PROFD_ALERT_MAX_RUNNING: queued+running in all */
    int alert_duration;        /* PROFD_ALERT_DURATION seconds (clamped to the bounds) */
    /* Read by the logger itself (log.c); here so that `profd help env` lists them. */
    char log_level[16];  /* PROFD_LOG_LEVEL */
    char log_format[16]; /* PROFD_LOG_FORMAT */
} profd_config;

/* Fill defaults, then apply the environment. 0 ok; -1 with a one-line error
 * naming the variable and the accepted values. */
int profd_config_load(profd_config *c, profd_error *err);

/* Name=value table of every variable for `profd help`. */
void profd_config_print_env_help(void);

#endif
