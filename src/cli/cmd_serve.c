/* cmd_serve.c - `profd serve`: the API and a worker in one process.
 *
 * The single-machine mode: the in-process memory bus (always), the memory
 * session store unless PROFD_REDIS_URL is set in the environment, the file
 * blob store (PROFD_STORAGE, default file://./profd-data) with links signed
 * by a per-process key and served by this API, and the sampler chosen
 * automatically. Requests the API records carry this host (PROFD_HOST), so
 * an explicit pid is accepted without naming a host.
 *
 * Without any JWT configuration it is secure by default rather than open: it
 * binds loopback only, generates a random HS256 secret, and prints an admin
 * token for it and a curl line to paste. The token is printed on stdout for
 * the user who started the process; it never goes to the logs. */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profd/api.h"
#include "profd/cli.h"
#include "profd/log.h"
#include "profd/worker.h"

#define SIGNIN_CODE_TTL_S 600

static bool loopback(const char *listen)
{
    return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "localhost:", 10) == 0 ||
           strncmp(listen, "[::1]:", 6) == 0;
}

/* No JWT settings: loopback only, a fresh secret. Returns true when generated. */
static bool secure_defaults(profd_config *cfg)
{
    if (cfg->jwt_secret[0] || cfg->jwt_public_key[0])
        return false;
    if (!loopback(cfg->listen)) {
        const char *colon = strrchr(cfg->listen, ':');
        char port[16];
        snprintf(port, sizeof port, "%s", colon ? colon + 1 : "8080");
        snprintf(cfg->listen, sizeof cfg->listen, "127.0.0.1:%s", port);
        fprintf(stderr,
                "profd serve: no JWT configuration, so listening on loopback only "
                "(%s)\n",
                cfg->listen);
    }
    unsigned char raw[32];
    RAND_bytes(raw, sizeof raw);
    profd_hex(raw, sizeof raw, cfg->jwt_secret);
    return true;
}

static void print_welcome(const profd_config *cfg, const char *base)
{
    json_object *c = json_object_new_object();
    json_object_object_add(c, "sub", json_object_new_string("local-admin"));
    json_object *roles = json_object_new_array();
    json_object_array_add(roles, json_object_new_string(cfg->admin_role));
    json_object_object_add(c, "roles", roles);
    long long now = (long long)(profd_now_ms() / 1000);
    json_object_object_add(c, "iat", json_object_new_int64(now));
    json_object_object_add(c, "exp", json_object_new_int64(now + 86400));
    char *t = profd_jwt_sign_hs256(cfg->jwt_secret,
                                   json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));
    json_object_put(c);
    printf("profd serve: API on %s (token valid 24 h for this process)\n\n"
           "  export PROFD_TOKEN=%s\n\n"
           "  curl -sS -X POST %s/api/v1/monitoring/profile/start \\\n"
           "    -H \"Authorization: Bearer $PROFD_TOKEN\" -H 'Content-Type: application/json' \\\n"
           "    -d '{\"service_name\": \"my-app\", \"duration_seconds\": 10, \"pid\": PID}'\n\n",
           base, t ? t : "(error)", base);
    fflush(stdout);
    free(t);
}

/* The console's one-time sign-in link (docs/console.md), when tokens can be minted. */
static void print_signin(profd_api *api, const char *base)
{
    char code[64];
    profd_error err = {0};
    if (profd_api_signin_code(api, SIGNIN_CODE_TTL_S, code, sizeof code, &err) < 0)
        return;
    printf("profd serve: console sign-in link (one use, valid %d minutes):\n\n  %s/?code=%s\n\n",
           SIGNIN_CODE_TTL_S / 60, base, code);
    fflush(stdout);
}

typedef struct running {
    profd_worker *w;
    int rc;
} running;

static void *worker_main(void *arg)
{
    running *r = arg;
    r->rc = profd_worker_run(r->w, &profd_stop_requested);
    return NULL;
}

typedef struct parts {
    profd_store *store;
    profd_bus *api_bus, *worker_bus;
    profd_blob *blob;
    profd_worker *w;
    profd_api *api;
} parts;

static void close_parts(parts *p)
{
    profd_api_stop(p->api);
    if (p->w)
        profd_worker_free(p->w);
    if (p->api_bus)
        p->api_bus->ops->close(p->api_bus);
    if (p->worker_bus)
        p->worker_bus->ops->close(p->worker_bus);
    if (p->blob)
        p->blob->ops->close(p->blob);
    if (p->store)
        p->store->ops->close(p->store);
}

static int open_parts(profd_config *cfg, parts *p, const char *key, profd_error *err)
{
    if (!(p->store = profd_store_open(cfg, err)) || !(p->blob = profd_blob_open(cfg, err)) ||
        !(p->api_bus = profd_bus_open(cfg, PROFD_BUS_PRODUCE, err)) ||
        !(p->worker_bus = profd_bus_open(cfg, PROFD_BUS_CONSUME | PROFD_BUS_PRODUCE, err)))
        return -1;
    profd_api_opts o = {.cfg = cfg,
                        .store = p->store,
                        .bus = p->api_bus,
                        .blob = p->blob,
                        .link_key = key,
                        .local = true};
    if (!(p->api = profd_api_start(&o, err)))
        return -1;
    char base[300];
    profd_api_base_url(cfg->listen, profd_api_port(p->api), base, sizeof base);
    profd_blob_file_set_link_base(p->blob, base, key);
    if (!(p->w = profd_worker_new(cfg, p->worker_bus, p->store, p->blob, err)))
        return -1;
    return 0;
}

static int serve(profd_config *cfg)
{
    bool generated = secure_defaults(cfg);
    profd_install_stop_signals();
    char key[80];
    profd_config keycfg = {0}; /* a random link key: links belong to this process */
    profd_api_link_key(&keycfg, key, sizeof key);
    parts p = {0};
    profd_error err = {0};
    if (open_parts(cfg, &p, key, &err) < 0) {
        fprintf(stderr, "profd serve: %s\n", err.msg);
        close_parts(&p);
        return PROFD_EXIT_FAIL;
    }
    char base[300];
    profd_api_base_url(cfg->listen, profd_api_port(p.api), base, sizeof base);
    if (generated)
        print_welcome(cfg, base);
    print_signin(p.api, base);
    char store[1100];
    profd_url_redact(cfg->redis_url, store, sizeof store);
    LOG_I(NULL, "serve.listening", "API and worker on %s (store %s, storage %s, host %s)", base,
          store, cfg->storage, cfg->host);
    running r = {p.w, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, worker_main, &r) != 0) {
        fprintf(stderr, "profd serve: cannot start the worker thread\n");
        close_parts(&p);
        return PROFD_EXIT_FAIL;
    }
    struct timespec ts = {0, 100 * 1000 * 1000};
    while (!profd_stop_requested)
        nanosleep(&ts, NULL);
    LOG_I(NULL, "serve.stopping", "signal received: stopping the API, draining the worker");
    profd_api_stop(p.api);
    p.api = NULL;
    pthread_join(th, NULL);
    close_parts(&p);
    return r.rc == 0 ? PROFD_EXIT_OK : PROFD_EXIT_FAIL;
}

static int run(int argc, char **argv)
{
    profd_config cfg;
    profd_error err = {0};
    if (profd_config_load(&cfg, &err) != 0) {
        fprintf(stderr, "profd serve: %s\n", err.msg);
        return PROFD_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            profd_strlcpy(cfg.listen, argv[++i], sizeof cfg.listen);
        else
            return profd_usage_error("serve", "unexpected argument '%s'", argv[i]);
    }
    profd_strlcpy(cfg.bus, "memory", sizeof cfg.bus);
    const char *redis = getenv("PROFD_REDIS_URL");
    if (!redis || !*redis)
        profd_strlcpy(cfg.redis_url, "memory", sizeof cfg.redis_url);
    return serve(&cfg);
}

const profd_command profd_cmd_serve = {
    "serve", run, "API and worker in one process, on local defaults (the quick start)",
    "Usage: profd serve [--listen HOST:PORT]\n\n"
    "Runs the REST API and a worker in one process: in-process message bus, in-memory session\n"
    "store (Redis when PROFD_REDIS_URL is set), results under PROFD_STORAGE\n"
    "[file://./profd-data], served by this API through signed links.\n"
    "Without PROFD_JWT_SECRET or PROFD_JWT_PUBLIC_KEY it binds loopback only, generates a\n"
    "secret, and prints an admin token and a curl line to start a capture.\n"
    "The worker profiles what PROFD_TARGETS allows (or your own processes, if not root).\n\n"
    "Environment: as 'profd api' and 'profd worker' (PROFD_BUS is always memory here).\n"
    "Run 'profd help env' for defaults.\n"};
