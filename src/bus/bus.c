/* bus.c - choose the transport named by PROFD_BUS.
 *
 * Every transport fills the same small vtable (include/profd/bus.h), so the
 * worker, the API and `profd submit` never know which one they talk to. The
 * Pub/Sub transport is its own later piece of work; until it lands, asking for
 * it is a clear configuration error rather than a link failure. */
#include "profd/bus.h"

#include <string.h>

profd_bus *profd_bus_open(const profd_config *cfg, int roles, profd_error *err)
{
    if (strcmp(cfg->bus, "kafka") == 0)
        return profd_bus_kafka_open(cfg, roles, err);
    if (strcmp(cfg->bus, "memory") == 0)
        return profd_bus_memory_open(cfg, roles, err);
    if (strcmp(cfg->bus, "pubsub") == 0) {
        profd_error_set(err, NULL,
                        "the pubsub transport arrives with the triggers work; use kafka or memory");
        return NULL;
    }
    profd_error_set(err, NULL, "PROFD_BUS must be kafka, pubsub or memory, not '%s'", cfg->bus);
    return NULL;
}
