/* worker_env.h - a worker running in a thread over the memory bus and store,
 * the file blob store and the py-spy stand-in, with one live Python target
 * listed as "web-api" in PROFD_TARGETS. For cmocka tests of the worker and of
 * what drives it. Set extra PROFD_* variables before worker_env_start. */
#ifndef PROFD_TEST_WORKER_ENV_H
#define PROFD_TEST_WORKER_ENV_H

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

#include "profd/blob.h"
#include "profd/bus.h"
#include "profd/store.h"
#include "profd/worker.h"

typedef struct worker_env {
    profd_config cfg;
    profd_bus *bus;
    profd_store *store;
    profd_blob *blob;
    profd_worker *w;
    pthread_t thread;
    volatile sig_atomic_t stop;
    char dir[256]; /* temporary: targets.json, standin.log, blobs/, spool/ */
    pid_t target;
} worker_env;

/* dir_template: a mkdtemp template such as "/tmp/profd-wtest.XXXXXX". */
worker_env *worker_env_start(const char *dir_template);
void worker_env_stop(worker_env *e);

#endif
