/* worker_env.c - see worker_env.h. */
#include "worker_env.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profd/log.h"
#include "profd/metrics.h"

static void *run_worker(void *arg)
{
    worker_env *e = arg;
    profd_worker_run(e->w, &e->stop);
    return NULL;
}

static void set_path(const char *name, const char *fmt, const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, fmt, dir);
    setenv(name, path, 1);
}

worker_env *worker_env_start(const char *dir_template)
{
    worker_env *e = calloc(1, sizeof *e);
    profd_error err = {0};
    assert_non_null(e);
    profd_strlcpy(e->dir, dir_template, sizeof e->dir);
    assert_non_null(mkdtemp(e->dir));
    e->target = fork();
    if (e->target == 0) {
        execlp("python3", "python3", "-c", "import time\nwhile True: time.sleep(0.05)", NULL);
        _exit(127);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/targets.json", e->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"web-api\": {\"pid\": %d}}", (int)e->target);
    fclose(f);
    setenv("PROFD_TARGETS", path, 1);
    set_path("PROFD_PYSPY", "%s/tests/pyspy/bin/py-spy", getenv("PROFD_BUILD_DIR"));
    set_path("PYSPY_STANDIN_LOG", "%s/standin.log", e->dir);
    set_path("PROFD_STORAGE", "file://%s/blobs", e->dir);
    set_path("PROFD_SPOOL_DIR", "%s/spool", e->dir);
    setenv("PROFD_SAMPLER", "py-spy", 1);
    setenv("PROFD_BUS", "memory", 1);
    setenv("PROFD_HOST", "node-1", 1);
    setenv("PROFD_DURATION_MIN", "1", 1);
    setenv("PROFD_LEASE_SECONDS", "3", 1);
    profd_log_init();
    assert_int_equal(profd_config_load(&e->cfg, &err), 0);
    profd_bus_memory_reset();
    profd_metrics_reset();
    e->bus = profd_bus_open(&e->cfg, PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE, &err);
    e->store = profd_store_memory_open(3600);
    e->blob = profd_blob_open(&e->cfg, &err);
    assert_non_null(e->bus);
    assert_non_null(e->blob);
    e->w = profd_worker_new(&e->cfg, e->bus, e->store, e->blob, &err);
    assert_non_null(e->w);
    pthread_create(&e->thread, NULL, run_worker, e);
    return e;
}

void worker_env_stop(worker_env *e)
{
    e->stop = 1;
    pthread_join(e->thread, NULL);
    profd_worker_free(e->w);
    e->bus->ops->close(e->bus);
    e->blob->ops->close(e->blob);
    e->store->ops->close(e->store);
    kill(e->target, SIGKILL);
    waitpid(e->target, NULL, 0);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", e->dir, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
    free(e);
}
