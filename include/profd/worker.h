/* worker.h - the worker: a thin loop over bus, store, blob and sampler. */
#ifndef PROFD_WORKER_H
#define PROFD_WORKER_H

#include <signal.h>

#include "blob.h"
#include "bus.h"
#include "config.h"
#include "store.h"

typedef struct profd_worker profd_worker;

profd_worker *profd_worker_new(const profd_config *cfg, profd_bus *bus, profd_store *store,
                               profd_blob *blob, profd_error *err);
/* Run until *stop becomes non-zero, then drain within cfg->shutdown_grace. */
int profd_worker_run(profd_worker *w, volatile sig_atomic_t *stop);
void profd_worker_free(profd_worker *w);

#endif
