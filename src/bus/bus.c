/* bus.c - choose the transport named by PROFD_BUS.
 *
 * Every transport fills the same small vtable (include/profd/bus.h), so the
 * worker, the API and `profd submit` never know which one they talk to. */
#include "profd/bus.h"

#include <string.h>

profd_bus *profd_bus_open(const profd_config *cfg, int roles, profd_error *err)
{
    if (strcmp(cfg->bus, "kafka") == 0)
        return profd_bus_kafka_open(cfg, roles, err);
    if (strcmp(cfg->bus, "memory") == 0)
        return profd_bus_memory_open(cfg, roles, err);
    if (strcmp(cfg->bus, "pubsub") == 0)
        return profd_bus_pubsub_open(cfg, roles, err);
    profd_error_set(err, NULL, "PROFD_BUS must be kafka, pubsub or memory, not '%s'", cfg->bus);
    return NULL;
}
