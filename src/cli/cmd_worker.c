/* cmd_worker.c - `profd worker`: open bus, store and blob store from the
 * environment and run the worker until SIGTERM or SIGINT.
 *
 * The worker sits next to the services it profiles, so its idle footprint
 * matters more than malloc's speed: one heap arena for all threads (set before
 * librdkafka starts its threads) instead of one per thread, each of which
 * keeps its own free memory after a burst of captures. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "profd/api.h"
#include "profd/blob.h"
#include "profd/bus.h"
#include "profd/cli.h"
#include "profd/config.h"
#include "profd/log.h"
#include "profd/store.h"
#include "profd/worker.h"

static int run(int argc, char **argv)
{
    if (argc > 1)
        return profd_usage_error("worker", "unexpected argument '%s'", argv[1]);
    mallopt(M_ARENA_MAX, 1);
    profd_config cfg;
    profd_error err = {0};
    if (profd_config_load(&cfg, &err) != 0) {
        fprintf(stderr, "profd worker: %s\n", err.msg);
        return PROFD_EXIT_USAGE;
    }
    profd_install_stop_signals();
    profd_store *store = profd_store_open(&cfg, &err);
    profd_blob *blob = store ? profd_blob_open(&cfg, &err) : NULL;
    profd_bus *bus =
        blob ? profd_bus_open(&cfg, PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE, &err) : NULL;
    profd_worker *w = bus ? profd_worker_new(&cfg, bus, store, blob, &err) : NULL;
    profd_metrics_server *metrics = NULL;
    if (w && cfg.metrics_listen[0] &&
        !(metrics = profd_metrics_server_start(cfg.metrics_listen, &err))) {
        profd_worker_free(w);
        w = NULL;
    }
    int rc = PROFD_EXIT_FAIL;
    if (w) {
        rc = profd_worker_run(w, &profd_stop_requested) == 0 ? PROFD_EXIT_OK : PROFD_EXIT_FAIL;
        profd_worker_free(w);
    } else {
        fprintf(stderr, "profd worker: %s\n", err.msg);
    }
    profd_metrics_server_stop(metrics);
    if (bus)
        bus->ops->close(bus);
    if (blob)
        blob->ops->close(blob);
    if (store)
        store->ops->close(store);
    return rc;
}

const profd_command profd_cmd_worker = {
    "worker", run, "consume profiling requests, run captures, store results, publish events",
    "Usage: profd worker\n\n"
    "Consumes requests from the configured bus (Kafka by default), claims each session in the\n"
    "store, runs a bounded sampler capture of the target, renders and stores the results, and\n"
    "publishes session events. SIGTERM stops consuming and gives running captures\n"
    "PROFD_SHUTDOWN_GRACE seconds before they are stopped and recorded as failed (shutdown).\n\n"
    "Environment:\n"
    "  PROFD_BUS, PROFD_KAFKA_BROKERS, PROFD_KAFKA_GROUP, PROFD_KAFKA_CONFIG,\n"
    "  PROFD_REQUEST_TOPIC, PROFD_EVENT_TOPIC, PROFD_DLQ_TOPIC     the bus (Kafka)\n"
    "  GOOGLE_CLOUD_PROJECT, PROFD_PUBSUB_SUBSCRIPTION, PROFD_PUBSUB_EVENT_TOPIC,\n"
    "  PUBSUB_EMULATOR_HOST                                        the bus (Pub/Sub)\n"
    "  PROFD_REDIS_URL, PROFD_SESSION_TTL_DAYS                     the session store\n"
    "  PROFD_STORAGE, PROFD_SPOOL_DIR, PROFD_SIGNED_URL_TTL        results\n"
    "  STORAGE_EMULATOR_HOST, GOOGLE_APPLICATION_CREDENTIALS       GCS\n"
    "  PROFD_CLEANUP_DAYS, PROFD_CLEANUP_INTERVAL                  periodic cleanup\n"
    "  PROFD_ALERT_SERVICE_LABELS, PROFD_ALERT_COOLDOWN, PROFD_ALERT_MAX_PER_SERVICE,\n"
    "  PROFD_ALERT_MAX_RUNNING, PROFD_ALERT_DURATION               alert messages\n"
    "  PROFD_SAMPLER, PROFD_PYSPY                                  which sampler runs\n"
    "  PROFD_MAX_CONCURRENT, PROFD_DURATION_MIN, PROFD_DURATION_MAX\n"
    "  PROFD_LEASE_SECONDS, PROFD_REQUEST_TTL, PROFD_SHUTDOWN_GRACE\n"
    "  PROFD_TARGETS, PROFD_ALLOW_ANY_PID, PROFD_HOST               which processes it may "
    "profile\n"
    "  PROFD_METRICS_LISTEN                                        GET /metrics, /healthz (off "
    "when empty)\n"
    "  PROFD_LOG_LEVEL, PROFD_LOG_FORMAT\n"
    "Run 'profd help env' for defaults.\n"};
